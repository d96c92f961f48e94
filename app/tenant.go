package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"switchboard/modules/tenants"
)

func newTenantCommand() *cobra.Command {
	c := &cobra.Command{Use: "tenant", Short: "Onboard and manage clients (tenants)"}
	c.AddCommand(tenantCreateCommand(), tenantListCommand(), tenantShowCommand(),
		tenantStatusCommand("suspend", "Refuse every request for a client until it is resumed"),
		tenantStatusCommand("resume", "Serve a suspended client again"),
		tenantDeleteCommand(), tenantExportCommand(), tenantAPIKeyCommand(), tenantEnrollmentTokenCommand(), tenantDomainCommand())
	c.AddCommand(tenantMoveCommand())
	c.AddCommand(tenantAttestCommand())
	c.AddCommand(tenantSettingsCommand(), tenantSetCommand())
	return c
}

// withTenants runs fn with an opened environment, closing it afterwards.
func withTenants(cmd *cobra.Command, fn func(e *env) error) error {
	e, err := openEnv(cmd.Context(), cmd, nil, false)
	if err != nil {
		return err
	}
	defer e.close()
	return fn(e)
}

func tenantCreateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "create --slug SLUG --name NAME [--domain HOST] [--cell NAME | --dedicated]",
		Short: "Onboard a client: its row, role, schema, migrations and defaults, in a cell",
		Long: `Onboard a client. The client is placed in the open cell with the most free
capacity, in the cell --cell names, or in a cell of its own (--dedicated, named
d-<slug>). Its row is written first (status provisioning, never served), then
its role and schema are built on the cell's server in one transaction, then it
becomes active. If this is interrupted, run the same command again to finish,
or 'tenant delete' to remove what was made.`,
		Example: `  switchboard tenant create --slug acme-health --name "Acme Health" --domain portal.acme-health.example
  switchboard tenant create --slug big-bank --name "Big Bank" --dedicated`,
		Args: cobra.NoArgs,
	}
	slug := c.Flags().String("slug", "", "short unique name: 3-40 of a-z, 0-9, '-' (required)")
	name := c.Flags().String("name", "", "display name (required)")
	domain := c.Flags().String("domain", "", "portal hostname for the client (optional); added unverified, with the DNS TXT record that proves it printed")
	cell := c.Flags().String("cell", "", "place the client in this cell (default: the open cell with the most room)")
	dedicated := c.Flags().Bool("dedicated", false, "give the client a cell of its own (its own login role and pool)")
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		if *slug == "" || *name == "" {
			return usagef("--slug and --name are required")
		}
		if *cell != "" && *dedicated {
			return usagef("choose --cell or --dedicated, not both")
		}
		return withTenants(cmd, func(e *env) error {
			t, err := e.tenants.Create(cmd.Context(), tenants.CreateInput{Slug: *slug, Name: *name, Domain: *domain,
				Cell: *cell, Dedicated: *dedicated})
			if err != nil {
				return err
			}
			if err := printTenants(cmd.OutOrStdout(), *out, []tenants.Tenant{t}, true); err != nil || *out == "json" {
				return err // JSON carries the token as verify_token
			}
			for _, d := range t.Domains {
				fmt.Fprintln(cmd.OutOrStdout())
				printChallenge(cmd.OutOrStdout(), t.Slug, d)
			}
			return nil
		})
	}
	return c
}

func tenantListCommand() *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "List every client", Args: cobra.NoArgs}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			list, err := e.tenants.List(cmd.Context())
			if err != nil {
				return err
			}
			return printTenants(cmd.OutOrStdout(), *out, list, false)
		})
	}
	return c
}

func tenantShowCommand() *cobra.Command {
	c := &cobra.Command{Use: "show SLUG", Short: "Show one client in detail", Args: cobra.ExactArgs(1)}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			t, err := e.tenants.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTenants(cmd.OutOrStdout(), *out, []tenants.Tenant{t}, true)
		})
	}
	return c
}

func tenantStatusCommand(verb, short string) *cobra.Command {
	c := &cobra.Command{Use: verb + " SLUG", Short: short, Args: cobra.ExactArgs(1)}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			change := e.tenants.Suspend
			if verb == "resume" {
				change = e.tenants.Resume
			}
			t, err := change(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return printTenants(cmd.OutOrStdout(), *out, []tenants.Tenant{t}, false)
		})
	}
	return c
}

func tenantDeleteCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "delete SLUG --confirm SLUG",
		Short: "Delete a client for good: drops its schema, its role and its control-plane rows",
		Long: `Delete a client for good: drops its schema (all of its data), its role and its
control-plane rows. Export it first if you may need the data. The slug must be
repeated with --confirm.`,
		Args: cobra.ExactArgs(1),
	}
	confirm := c.Flags().String("confirm", "", "repeat the slug to confirm")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if *confirm != args[0] {
			return usagef("refusing to delete %q without --confirm %s", args[0], args[0])
		}
		return withTenants(cmd, func(e *env) error {
			if err := e.tenants.Delete(cmd.Context(), args[0], *confirm); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted %s\n", args[0])
			return nil
		})
	}
	return c
}

func tenantExportCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "export SLUG --out FILE",
		Short: "Write a restorable pg_dump archive (custom format) of a client's schema",
		Long: `Write a pg_dump custom-format archive of the client's schema, taken as the
client's own role. Restore it with pg_restore, as that role, e.g.:

  pg_restore --role=tenant_<id> --dbname "$(switchboard db url)" FILE`,
		Args: cobra.ExactArgs(1),
	}
	outFile := c.Flags().String("out", "", "archive file to write (required)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if *outFile == "" {
			return usagef("--out FILE is required")
		}
		return withTenants(cmd, func(e *env) error {
			t, err := e.tenants.Export(cmd.Context(), args[0], *outFile)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %s (schema %s, version %d) to %s\n", t.Slug, t.SchemaName, t.SchemaVersion, *outFile)
			return nil
		})
	}
	return c
}

func tenantAPIKeyCommand() *cobra.Command {
	c := &cobra.Command{Use: "apikey", Short: "Manage a client's API keys for agents and integrations"}
	create := &cobra.Command{Use: "create SLUG --name NAME", Short: "Create an API key; the key is printed once", Args: cobra.ExactArgs(1)}
	name := create.Flags().String("name", "", "what the key is for (required)")
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if *name == "" {
			return usagef("--name is required")
		}
		return withTenants(cmd, func(e *env) error {
			k, plain, err := e.tenants.CreateAPIKey(cmd.Context(), args[0], *name)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "API key %q (%s) for %s:\n%s\nStore it now: it cannot be shown again.\n", k.Name, k.Prefix, args[0], plain)
			return nil
		})
	}
	list := &cobra.Command{Use: "list SLUG", Short: "List a client's API keys", Args: cobra.ExactArgs(1)}
	out := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			keys, err := e.tenants.ListAPIKeys(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(keys))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "PREFIX\tNAME\tCREATED\tLAST USED\tREVOKED")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Prefix, k.Name, k.CreatedAt.Format("2006-01-02 15:04"), stamp(k.LastUsedAt), stamp(k.RevokedAt))
			}
			return tw.Flush()
		})
	}
	revoke := &cobra.Command{Use: "revoke SLUG PREFIX", Short: "Revoke an API key by the prefix 'apikey list' shows", Args: cobra.ExactArgs(2)}
	revoke.RunE = func(cmd *cobra.Command, args []string) error {
		return withTenants(cmd, func(e *env) error {
			if err := e.tenants.RevokeAPIKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked %s\n", args[1])
			return nil
		})
	}
	c.AddCommand(create, list, revoke)
	return c
}

func printTenants(w io.Writer, format string, list []tenants.Tenant, detail bool) error {
	if format == "json" {
		if detail && len(list) == 1 {
			return writeJSON(w, list[0])
		}
		return writeJSON(w, orEmpty(list))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if detail && len(list) == 1 {
		t := list[0]
		rows := [][2]string{{"slug", t.Slug}, {"name", t.Name}, {"id", fmt.Sprint(t.ID)}, {"status", t.Status},
			{"schema", t.SchemaName}, {"role", t.RoleName}, {"cell", t.Cell}, {"schema version", fmt.Sprint(t.SchemaVersion)},
			{"last migration error", deref(t.MigrationError)}, {"migrated at", stamp(t.MigratedAt)},
			{"domains", domainList(t.Domains)}, {"created", t.CreatedAt.Format("2006-01-02 15:04:05 MST")}}
		for _, r := range rows {
			fmt.Fprintf(tw, "%s:\t%s\n", r[0], r[1])
		}
		return tw.Flush()
	}
	fmt.Fprintln(tw, "SLUG\tNAME\tSTATUS\tCELL\tSCHEMA\tVERSION\tDOMAINS")
	for _, t := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", t.Slug, t.Name, t.Status, t.Cell, t.SchemaName, t.SchemaVersion, domainList(t.Domains))
	}
	return tw.Flush()
}

func domainList(ds []tenants.Domain) string {
	if len(ds) == 0 {
		return "-"
	}
	names := make([]string, len(ds))
	for i, d := range ds {
		names[i] = d.Hostname
		if !d.Verified {
			names[i] += " (unverified)"
		}
	}
	return strings.Join(names, ", ")
}

func deref(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}
