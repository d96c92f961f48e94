package main

import (
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"switchboard/modules/dashboard"
)

func newRollupsCommand() *cobra.Command {
	c := &cobra.Command{Use: "rollups", Short: "Control-plane counters behind the cross-client views"}
	reconcile := &cobra.Command{
		Use:   "reconcile [--dry-run]",
		Short: "Recount every tenant's rollups from its schema, report drift and fix it",
		Args:  cobra.NoArgs,
	}
	dry := reconcile.Flags().Bool("dry-run", false, "report drift without fixing it")
	out := outputFlag(reconcile)
	reconcile.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			var progress func(int, int)
			if f, ok := cmd.ErrOrStderr().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				progress = func(done, total int) {
					if done == total || done%50 == 0 {
						fmt.Fprintf(f, "\rrecounting %d/%d tenants   ", done, total)
						if done == total {
							fmt.Fprintln(f)
						}
					}
				}
			}
			drifts, err := e.dashboard.Reconcile(cmd.Context(), dashboard.CountSources{Identity: e.identity}, !*dry, progress)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if *out == "json" {
				return writeJSON(w, map[string]any{"fixed": !*dry, "drift": orEmpty(drifts)})
			}
			if len(drifts) == 0 {
				fmt.Fprintln(w, "no drift: every rollup matches its tenant's data")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "TENANT\tCOUNTER\tROLLUP\tACTUAL")
			for _, d := range drifts {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\n", d.Tenant, d.Counter, d.Rollup, d.Actual)
			}
			_ = tw.Flush()
			verb := "fixed"
			if *dry {
				verb = "found (dry run, nothing changed)"
			}
			fmt.Fprintf(w, "%d drifting counter(s) %s\n", len(drifts), verb)
			return nil
		})
	}
	c.AddCommand(reconcile)
	return c
}
