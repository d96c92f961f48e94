package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

func newDBCommand() *cobra.Command {
	c := &cobra.Command{Use: "db", Short: "Operator access to the database in use"}
	c.AddCommand(&cobra.Command{
		Use:   "url",
		Short: "Print the connection URL in use (embedded or configured)",
		Long: `Print the connection URL of the application role. With the embedded database
this starts the cluster if needed and leaves it running for the URL to be useful;
stop it with 'pg_ctl stop -D .data/postgres/data' or by ending 'switchboard serve'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := openDatabase(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), e.url)
			return nil
		},
	})
	c.AddCommand(&cobra.Command{
		Use:   "psql [-- PSQL-ARGS...]",
		Short: "Open psql on the database in use, as the application role",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := openDatabase(cmd.Context(), cmd, nil)
			if err != nil {
				return err
			}
			defer e.close()
			psql := "psql"
			if e.binDir != "" {
				if p := filepath.Join(e.binDir, "psql"); fileExists(p) {
					psql = p
				}
			}
			run := exec.CommandContext(cmd.Context(), psql, append([]string{e.url}, args...)...)
			run.Stdin, run.Stdout, run.Stderr = os.Stdin, os.Stdout, os.Stderr
			if err := run.Run(); err != nil {
				if exit, ok := err.(*exec.ExitError); ok {
					return silentError{status: exit.ExitCode()}
				}
				return fmt.Errorf("running psql: %w", err)
			}
			return nil
		},
	})
	return c
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
