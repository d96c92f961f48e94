package main

import (
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"switchboard/modules/audit"
)

// osUser names the operator running the CLI.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// globalFlags are the flags every command accepts, bound to settings.
var globalFlagKeys = map[string]string{
	"database-url": "database.url",
	"data-dir":     "database.data_dir",
	"log-format":   "log.format",
	"log-level":    "log.level",
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "switchboard",
		Short: "Multi-tenant operations platform for managed service providers",
		Long: `Switchboard serves every client of an MSP from one platform instance, with each
client's data in its own PostgreSQL schema.

With no database configured it starts a private PostgreSQL cluster under
.data/postgres using the PostgreSQL server binaries on this machine.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Changes made from the CLI are audited as the operator's OS account.
		PersistentPreRun: func(cmd *cobra.Command, _ []string) {
			cmd.SetContext(audit.WithOrigin(cmd.Context(), audit.Origin{Actor: "cli:" + osUser()}))
		},
	}
	pf := root.PersistentFlags()
	pf.String("config", "", "YAML configuration file (see config/switchboard.example.yaml)")
	pf.String("database-url", "", "PostgreSQL URL; empty starts the embedded cluster (env SWITCHBOARD_DATABASE_URL)")
	pf.String("data-dir", "", "folder of the embedded cluster (default .data/postgres)")
	pf.StringArray("cell-url", nil, "server of a cell as NAME=URL, repeatable (env SWITCHBOARD_DATABASE_CELLS_<NAME>_URL)")
	pf.String("log-format", "", "log format: text or json")
	pf.String("log-level", "", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usagef("%v", err) })

	root.AddCommand(
		newServeCommand(),
		newMigrateCommand(),
		newTenantCommand(),
		newCellCommand(),
		newUserCommand(),
		newRollupsCommand(),
		newSLACommand(),
		newSilenceCommand(),
		newWebhookCommand(),
		newAgentCommand(),
		newDBCommand(),
		newDemoCommand(),
		newBenchCommand(),
	)
	setArgsAsUsage(root)
	return root
}

// setArgsAsUsage makes positional-argument mistakes exit with status 2.
func setArgsAsUsage(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usagef("%s: %v (see '%s --help')", cmd.CommandPath(), err, cmd.CommandPath())
			}
			return nil
		}
	}
	if c.HasSubCommands() && c.RunE == nil {
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("unknown command %q for %s (see '%s --help')", strings.Join(args, " "), cmd.CommandPath(), cmd.CommandPath())
			}
			return cmd.Help()
		}
		c.Args = cobra.ArbitraryArgs // cobra's default would reject unknown commands with an error of its own
	}
	for _, sub := range c.Commands() {
		setArgsAsUsage(sub)
	}
}

// outputFlag adds --output table|json.
func outputFlag(c *cobra.Command) *string {
	return c.Flags().StringP("output", "o", "table", "output format: table or json")
}

func checkOutput(v string) error {
	if v != "table" && v != "json" {
		return usagef("--output must be table or json, not %q", v)
	}
	return nil
}
