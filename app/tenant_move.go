package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"switchboard/modules/tenants"
)

func tenantMoveCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "move SLUG --to CELL [--status]",
		Short: "Move a client to another cell (on another server: fence writes, copy, verify, switch over)",
		Long: `Move a client to another cell.

Between two cells of one server nothing is copied: the client's role changes
hands in one step.

To a cell on another server the move takes recorded steps: writes are refused
(status moving: the API and portals answer 503, reads go on, background jobs
cannot commit), the client's schema is copied with pg_dump/pg_restore with its
rows of the server's rollup tables, the copy is verified (row counts and
checksums per table), the directory switches to the new cell, and the old copy
is dropped. If this is interrupted, run the same command again: it continues
from the last recorded step. After a failure the client takes writes again in
its old cell and a rerun starts the copy over. --status shows a move that has
not finished.`,
		Example: `  switchboard --cell-url eu=postgres://switchboard:secret@db-eu:5432/switchboard tenant move acme-health --to eu
  switchboard tenant move acme-health --status`,
		Args: cobra.ExactArgs(1),
	}
	to := c.Flags().String("to", "", "the cell to move the client to (required unless --status)")
	status := c.Flags().Bool("status", false, "print the client's unfinished move, if any, and change nothing")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if !*status && *to == "" {
			return usagef("--to CELL is required (or --status to see an unfinished move)")
		}
		return withTenants(cmd, func(e *env) error {
			w := cmd.OutOrStdout()
			if *status {
				t, mv, err := e.tenants.MoveStatus(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return printMove(w, t, mv)
			}
			fmt.Fprintf(w, "moving %s to cell %s\n", args[0], *to)
			res, err := e.tenants.Move(cmd.Context(), tenants.MoveInput{Slug: args[0], To: *to, Progress: func(p tenants.MoveProgress) {
				fmt.Fprintf(w, "  %-9s %8s  %s\n", p.Step, p.Took.Round(time.Millisecond), p.Detail)
			}})
			if err != nil {
				return err
			}
			if res.SameServer {
				fmt.Fprintf(w, "moved %s from cell %s to cell %s in %v (one server: no data copied, no writes refused)\n",
					res.Tenant.Slug, res.From, res.To, res.Took.Round(time.Millisecond))
				return nil
			}
			fmt.Fprintf(w, "moved %s from cell %s to cell %s in %v; writes were refused for %v\n",
				res.Tenant.Slug, res.From, res.To, res.Took.Round(time.Millisecond), res.Fenced.Round(time.Millisecond))
			return nil
		})
	}
	return c
}

// printMove prints a client's unfinished move, or that it has none.
func printMove(w io.Writer, t tenants.Tenant, mv *tenants.MoveRecord) error {
	if mv == nil {
		fmt.Fprintf(w, "no move in progress for %s (cell %s, %s)\n", t.Slug, t.Cell, t.Status)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	next := fmt.Sprintf("switchboard tenant move %s --to %s", t.Slug, mv.ToCell)
	rows := [][2]string{
		{"tenant", fmt.Sprintf("%s (now in cell %s, %s)", t.Slug, t.Cell, t.Status)},
		{"move", fmt.Sprintf("cell %s → cell %s", mv.FromCell, mv.ToCell)},
		{"last step", mv.Step},
		{"started", mv.StartedAt.Format("2006-01-02 15:04:05 MST")},
		{"updated", mv.UpdatedAt.Format("2006-01-02 15:04:05 MST")},
		{"writes refused since", stamp(mv.FencedAt)},
		{"switched over", stamp(mv.FlippedAt)},
		{"error", deref(mv.Error)},
	}
	if mv.Step == tenants.MoveFlipped {
		rows = append(rows, [2]string{"next", "the old copy is left to remove: " + next})
	} else {
		rows = append(rows, [2]string{"next", "to continue: " + next})
	}
	for _, r := range rows {
		fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}
