package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"switchboard/db"
	"switchboard/modules/tenants"
)

func newMigrateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Apply control-plane migrations, then tenant migrations to every tenant schema",
		Long: `Apply pending control-plane migrations, then bring every tenant schema to this
binary's version: tenants in parallel (--workers), each in its own transaction
with a lock timeout. Tenants already recorded at the target are skipped without
opening their schema. A failing tenant keeps its version and has its error
recorded; the others go on, and the command exits non-zero. Rerun to resume.`,
		Args: cobra.NoArgs,
		RunE: runMigrate,
	}
	c.Flags().Int("workers", 0, "tenants migrated in parallel (default: number of CPUs)")
	c.Flags().Duration("lock-timeout", 5*time.Second, "per-tenant lock timeout")
	c.Flags().Bool("status", false, "list tenants not at the target version and exit")
	outputFlag(c)
	return c
}

func runMigrate(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	out, _ := cmd.Flags().GetString("output")
	if err := checkOutput(out); err != nil {
		return err
	}
	workers, _ := cmd.Flags().GetInt("workers")
	if workers < 0 || workers > 64 {
		return usagef("--workers must be between 1 and 64")
	}
	lockTimeout, _ := cmd.Flags().GetDuration("lock-timeout")
	if lockTimeout <= 0 {
		return usagef("--lock-timeout must be positive")
	}
	e, err := openEnv(ctx, cmd, nil, true)
	if err != nil {
		return err
	}
	defer e.close()
	w := cmd.OutOrStdout()

	if status, _ := cmd.Flags().GetBool("status"); status {
		return migrateStatus(cmd, e, out)
	}

	applied, err := db.MigrateControl(ctx, e.cluster.ControlDB(), db.Control())
	if err != nil {
		return err
	}
	if out == "table" {
		fmt.Fprintf(w, "control plane: %d migration(s) applied, at version %d\n", len(applied), db.Control().Latest())
	}
	servers, err := e.tenants.MigrateCellServers(ctx)
	if err != nil {
		return err
	}
	adopted, err := e.tenants.AdoptMemberships(ctx)
	if err != nil {
		return err
	}
	if out == "table" && len(servers) > 0 {
		fmt.Fprintf(w, "cell servers: %d brought to version %d\n", len(servers), db.Server().Latest())
	}
	if out == "table" && adopted > 0 {
		fmt.Fprintf(w, "cells: %d tenant role(s) handed from the control plane's login role to their cells\n", adopted)
	}

	opts := tenants.MigrateOptions{Workers: workers, LockTimeout: lockTimeout}
	if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		start := time.Now()
		opts.Progress = func(done, total int) {
			if done == total || done%25 == 0 {
				fmt.Fprintf(f, "\rtenants: %d/%d migrated (%s)   ", done, total, time.Since(start).Round(time.Second))
				if done == total {
					fmt.Fprintln(f)
				}
			}
		}
	}
	report, err := e.tenants.MigrateFleet(ctx, opts)
	if out == "json" {
		_ = writeJSON(w, report)
	} else {
		printMigrateReport(w, report)
	}
	if err != nil {
		return err
	}
	if report.Failed > 0 {
		if out == "table" {
			fmt.Fprintf(cmd.ErrOrStderr(), "switchboard: %d tenant(s) failed; fix the cause and rerun 'switchboard migrate'\n", report.Failed)
		}
		return silentError{status: 1}
	}
	return nil
}

func printMigrateReport(w io.Writer, r tenants.MigrateReport) {
	fmt.Fprintf(w, "tenants: target version %d — %d migrated, %d skipped, %d failed in %s\n",
		r.Target, r.Migrated, r.Skipped, r.Failed, r.Elapsed.Round(time.Millisecond))
	if len(r.Slowest) > 0 {
		fmt.Fprintln(w, "slowest:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, s := range r.Slowest {
			fmt.Fprintf(tw, "  %s\tv%d→v%d\t%s\n", s.Slug, s.From, s.To, s.Duration.Round(time.Microsecond))
		}
		_ = tw.Flush()
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "failed:")
		for _, f := range r.Failures {
			fmt.Fprintf(w, "  %s (stays at v%d): %s\n", f.Slug, f.From, f.Error)
		}
	}
}

func migrateStatus(cmd *cobra.Command, e *env, out string) error {
	ctx := cmd.Context()
	w := cmd.OutOrStdout()
	control, err := db.ControlVersion(ctx, e.cluster.ControlDB())
	if err != nil {
		return err
	}
	if control < db.Control().Latest() {
		if out == "json" {
			return writeJSON(w, map[string]any{"control_version": control, "control_target": db.Control().Latest()})
		}
		fmt.Fprintf(w, "control plane: version %d, target %d\ncontrol plane is behind: run 'switchboard migrate'\n", control, db.Control().Latest())
		return nil
	}
	cells, err := e.tenants.ListCells(ctx)
	if err != nil {
		return err
	}
	behind, err := e.tenants.Behind(ctx)
	if err != nil {
		return err
	}
	target := e.tenants.TargetVersion()
	if out == "json" {
		return writeJSON(w, map[string]any{"control_version": control, "control_target": db.Control().Latest(),
			"tenant_target": target, "cells": orEmpty(cells), "tenants_behind": orEmpty(behind)})
	}
	fmt.Fprintf(w, "control plane: version %d, target %d\n", control, db.Control().Latest())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CELL\tSERVER\tTENANTS\tVERSIONS\tBEHIND")
	for _, c := range cells {
		n := 0
		for _, t := range behind {
			if t.Cell == c.Name {
				n++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\n", c.Name, c.Server, c.Tenants, versionRange(c), n)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(behind) == 0 {
		fmt.Fprintf(w, "all tenants at version %d\n", target)
		return nil
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SLUG\tCELL\tSTATUS\tVERSION\tTARGET\tLAST ERROR")
	for _, t := range behind {
		msg := ""
		if t.MigrationError != nil {
			msg = *t.MigrationError
		}
		if t.Status == "provisioning" {
			msg = "provisioning did not finish: run 'switchboard tenant create --slug " + t.Slug + "' again, or delete it"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", t.Slug, t.Cell, t.Status, t.SchemaVersion, target, msg)
	}
	return tw.Flush()
}

// versionRange is "11" when every tenant of the cell is at one version,
// "9-11" otherwise, "-" for an empty cell.
func versionRange(c tenants.CellInfo) string {
	switch {
	case c.Tenants == 0:
		return "-"
	case c.MinVersion == c.MaxVersion:
		return fmt.Sprint(c.MinVersion)
	}
	return fmt.Sprintf("%d-%d", c.MinVersion, c.MaxVersion)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
