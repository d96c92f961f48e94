package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"switchboard/modules/identity"
	"switchboard/platform/tenancy"
)

func newUserCommand() *cobra.Command {
	c := &cobra.Command{Use: "user", Short: "Manage staff users and client users"}
	c.AddCommand(userCreateCommand(), userListCommand(), userDisableCommand(), userResetPasswordCommand(), userSessionsCommand())
	c.AddCommand(userMFACommand())   // user_mfa.go
	c.AddCommand(userTokenCommand()) // user_token.go
	return c
}

// readPassword reads one line from stdin when --password-stdin is set.
func readPassword(cmd *cobra.Command, fromStdin bool) (string, error) {
	if !fromStdin {
		return "", nil
	}
	line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("reading password from stdin: %w", err)
	}
	p := strings.TrimRight(line, "\r\n")
	if p == "" {
		return "", usagef("--password-stdin: no password on standard input")
	}
	return p, nil
}

// clientTenant resolves --tenant for client-user commands.
func clientTenant(cmd *cobra.Command, e *env, slug string) (tenancy.Tenant, error) {
	t, err := e.tenants.Get(cmd.Context(), slug)
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return e.tenants.Scope(t), nil
}

func userCreateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "create --email E --role ROLE [--all-tenants [--except a,b] | --tenants a,b] | --tenant SLUG",
		Short: "Create a staff user (owner, admin, technician) or, with --tenant, a client user",
		Example: `  switchboard user create --email ops@msp.example --role owner
  switchboard user create --email tech@msp.example --role technician --tenants acme-health,cedar-legal
  switchboard user create --email night@msp.example --role technician --all-tenants --except cedar-legal
  switchboard user create --tenant acme-health --email it@acme.example --role client_admin`,
		Args: cobra.NoArgs,
	}
	email := c.Flags().String("email", "", "e-mail address (required)")
	name := c.Flags().String("name", "", "display name")
	role := c.Flags().String("role", "", "owner, admin or technician; client_admin or client_user with --tenant (required)")
	tenant := c.Flags().String("tenant", "", "create a client user of this tenant")
	all := c.Flags().Bool("all-tenants", false, "staff: grant every tenant, including future ones (default)")
	except := c.Flags().StringSlice("except", nil, "staff: with --all-tenants, every tenant but these")
	only := c.Flags().StringSlice("tenants", nil, "staff: only these tenants")
	stdin := c.Flags().Bool("password-stdin", false, "read the password from standard input (otherwise one is generated and printed once)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if *email == "" || *role == "" {
			return usagef("--email and --role are required")
		}
		if *tenant != "" && (*all || len(*except) > 0 || len(*only) > 0) {
			return usagef("--tenant creates a client user; --all-tenants, --except and --tenants are for staff")
		}
		if len(*only) > 0 && (*all || len(*except) > 0) {
			return usagef("use either --tenants or --all-tenants [--except], not both")
		}
		if len(*except) > 0 && !*all {
			return usagef("--except needs --all-tenants")
		}
		password, err := readPassword(cmd, *stdin)
		if err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			ctx := cmd.Context()
			var created, generated string
			if *tenant != "" {
				t, err := clientTenant(cmd, e, *tenant)
				if err != nil {
					return err
				}
				u, p, err := e.identity.CreateClientUser(ctx, t, identity.ClientInput{Email: *email, Name: *name, Role: *role, Password: password})
				if err != nil {
					return err
				}
				created, generated = fmt.Sprintf("client user %s (%s) of %s", u.Email, u.Role, *tenant), p
			} else {
				in := identity.StaffInput{Email: *email, Name: *name, Role: *role, Scope: identity.ScopeAll, Password: password}
				switch {
				case len(*only) > 0:
					in.Scope, in.Tenants = identity.ScopeList, *only
				case len(*except) > 0:
					in.Scope, in.Tenants = identity.ScopeAllExcept, *except
				}
				u, p, err := e.identity.CreateStaff(ctx, in)
				if err != nil {
					return err
				}
				created, generated = fmt.Sprintf("staff user %s (%s)", u.Email, u.Role), p
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s\n", created)
			if password == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n(shown once; store it now)\n", generated)
			}
			return nil
		})
	}
	return c
}

func userListCommand() *cobra.Command {
	c := &cobra.Command{Use: "list [--tenant SLUG]", Short: "List staff users, or a tenant's client users", Args: cobra.NoArgs}
	tenant := c.Flags().String("tenant", "", "list this tenant's client users")
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			w := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			if *tenant != "" {
				t, err := clientTenant(cmd, e, *tenant)
				if err != nil {
					return err
				}
				users, err := e.identity.ListClientUsers(cmd.Context(), t)
				if err != nil {
					return err
				}
				if *out == "json" {
					return writeJSON(w, orEmpty(users))
				}
				fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tSTATUS\tLAST LOGIN")
				for _, u := range users {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Email, dash(u.Name), u.Role, statusOf(u.DisabledAt != nil), stamp(u.LastLoginAt))
				}
				return tw.Flush()
			}
			users, err := e.identity.ListStaff(cmd.Context())
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(w, orEmpty(users))
			}
			fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tTENANTS\tSTATUS\tLAST LOGIN")
			for _, u := range users {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, dash(u.Name), u.Role, scopeText(u), statusOf(u.DisabledAt != nil), stamp(u.LastLoginAt))
			}
			return tw.Flush()
		})
	}
	return c
}

func userDisableCommand() *cobra.Command {
	c := &cobra.Command{Use: "disable EMAIL [--tenant SLUG]", Short: "Disable a user and end their sessions (--enable to undo)", Args: cobra.ExactArgs(1)}
	tenant := c.Flags().String("tenant", "", "the user is a client user of this tenant")
	enable := c.Flags().Bool("enable", false, "re-enable instead")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return withTenants(cmd, func(e *env) error {
			if *tenant != "" {
				t, err := clientTenant(cmd, e, *tenant)
				if err != nil {
					return err
				}
				if _, err := e.identity.SetClientDisabled(cmd.Context(), t, args[0], !*enable); err != nil {
					return err
				}
			} else if _, err := e.identity.SetStaffDisabled(cmd.Context(), args[0], !*enable); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s is %s\n", args[0], map[bool]string{true: "enabled", false: "disabled"}[*enable])
			return nil
		})
	}
	return c
}

func userResetPasswordCommand() *cobra.Command {
	c := &cobra.Command{Use: "reset-password EMAIL [--tenant SLUG] [--password-stdin]", Short: "Set a new password and end the user's sessions", Args: cobra.ExactArgs(1)}
	tenant := c.Flags().String("tenant", "", "the user is a client user of this tenant")
	stdin := c.Flags().Bool("password-stdin", false, "read the password from standard input (otherwise one is generated and printed once)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		password, err := readPassword(cmd, *stdin)
		if err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			var p string
			if *tenant != "" {
				t, err := clientTenant(cmd, e, *tenant)
				if err != nil {
					return err
				}
				p, err = e.identity.ResetClientPassword(cmd.Context(), t, args[0], password)
				if err != nil {
					return err
				}
			} else if p, err = e.identity.ResetStaffPassword(cmd.Context(), args[0], password); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "password of %s replaced; their sessions are ended\n", args[0])
			if password == "" {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n(shown once; store it now)\n", p)
			}
			return nil
		})
	}
	return c
}

func userSessionsCommand() *cobra.Command {
	c := &cobra.Command{Use: "sessions", Short: "Manage staff users' sessions"}
	c.AddCommand(&cobra.Command{
		Use:   "revoke EMAIL",
		Short: "End every session of a staff user at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTenants(cmd, func(e *env) error {
				n, err := e.identity.RevokeStaffSessions(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "ended %d session(s) of %s\n", n, args[0])
				return nil
			})
		},
	})
	return c
}

func scopeText(u identity.StaffUser) string {
	switch u.TenantScope {
	case identity.ScopeList:
		return strings.Join(u.TenantSlugs, ",")
	case identity.ScopeAllExcept:
		return "all except " + strings.Join(u.TenantSlugs, ",")
	default:
		return "all"
	}
}

func statusOf(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "active"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
