package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"switchboard/modules/tenants"
)

func newCellCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "cell",
		Short: "Cells: groups of clients with their own login role, pool and server",
		Long: `A cell is a group of clients entered through one PostgreSQL login role (a member
of only its clients' roles) and one small connection pool, on one server. Every
installation has the cell "main" on its own database server. A cell on another
server needs that server's URL in the configuration first
(database.cells.<name>.url, env SWITCHBOARD_DATABASE_CELLS_<NAME>_URL, or
--cell-url NAME=URL).`,
	}
	c.AddCommand(cellAddCommand(), cellListCommand(),
		cellStatusCommand("drain", "Place no new clients in the cell; its clients stay", (*tenants.Service).DrainCell),
		cellStatusCommand("open", "Place new clients in the cell again", (*tenants.Service).OpenCell))
	return c
}

func cellAddCommand() *cobra.Command {
	c := &cobra.Command{
		Use:     "add NAME [--capacity N]",
		Short:   "Add a cell on the server database.cells.NAME.url names (or the control plane's)",
		Example: "  switchboard --cell-url eu=postgres://switchboard:secret@db-eu:5432/switchboard cell add eu --capacity 2000",
		Args:    cobra.ExactArgs(1),
	}
	capacity := c.Flags().Int("capacity", tenants.DefaultCellCapacity, "how many clients the cell takes")
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *capacity < 1 {
			return usagef("--capacity must be at least 1, not %d", *capacity)
		}
		return withTenants(cmd, func(e *env) error {
			cell, err := e.tenants.AddCell(cmd.Context(), tenants.AddCellInput{Name: args[0], Capacity: *capacity})
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), cell)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cell %s added on %s: capacity %d, login role %s\n", cell.Name, cell.Server, cell.Capacity, cell.LoginRole)
			return nil
		})
	}
	return c
}

func cellListCommand() *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "List cells: clients, capacity, open connections, server, schema versions", Args: cobra.NoArgs}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			cells, err := e.tenants.ListCells(cmd.Context())
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(cells))
			}
			return printCells(cmd.OutOrStdout(), cells)
		})
	}
	return c
}

func printCells(w io.Writer, cells []tenants.CellInfo) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CELL\tSTATUS\tTENANTS\tCAPACITY\tCONNECTIONS\tSERVER\tVERSIONS\tLOGIN ROLE")
	for _, c := range cells {
		conns := fmt.Sprint(c.Connections)
		if c.Error != "" {
			conns = "unreachable: " + c.Error
		}
		status := c.Status
		if c.Dedicated {
			status += " (dedicated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", c.Name, status, c.Tenants, c.Capacity, conns, c.Server, versionRange(c), c.LoginRole)
	}
	return tw.Flush()
}

func cellStatusCommand(verb, short string, change func(*tenants.Service, context.Context, string) (tenants.Cell, error)) *cobra.Command {
	c := &cobra.Command{Use: verb + " NAME", Short: short, Args: cobra.ExactArgs(1)}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return withTenants(cmd, func(e *env) error {
			cell, err := change(e.tenants, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cell %s is %s\n", cell.Name, cell.Status)
			return nil
		})
	}
	return c
}
