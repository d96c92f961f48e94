package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"switchboard/modules/identity"
)

// userTokenCommand is `switchboard user token create|list|revoke`: staff
// users' personal tokens for the staff API (/api/v1).
func userTokenCommand() *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "Manage staff users' personal API tokens (staff API /api/v1)"}
	c.AddCommand(userTokenCreateCommand(), userTokenListCommand(), userTokenRevokeCommand())
	return c
}

func userTokenCreateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "create EMAIL --name N --scopes a,b [--clients x,y] --expires 90d",
		Short: "Create a personal API token; its secret is printed once",
		Example: `  switchboard user token create ops@msp.example --name psa-sync --scopes clients:read,alerts:read,alerts:write --expires 90d
  switchboard user token create tech@msp.example --name acme-script --scopes alerts:read --clients acme-health --expires 30d`,
		Args: cobra.ArbitraryArgs,
	}
	name := c.Flags().String("name", "", "what the token is for (required)")
	scopes := c.Flags().String("scopes", "", "comma-separated: "+strings.Join(identity.TokenScopes, ", ")+" (required)")
	clients := c.Flags().StringSlice("clients", nil, "only these clients (default: every client the user can see)")
	expires := c.Flags().String("expires", "", "lifetime, e.g. 30d, 90d, 365d (required; at most 366d)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("token create takes exactly one EMAIL")
		}
		if *name == "" || *scopes == "" || *expires == "" {
			return usagef("--name, --scopes and --expires are required")
		}
		sc, err := identity.ParseScopes(*scopes)
		if err != nil {
			return err
		}
		life, err := identity.ParseLifetime(*expires)
		if err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			t, secret, err := e.identity.CreateToken(cmd.Context(), args[0], identity.TokenInput{Name: *name, Scopes: sc, Clients: *clients, Lifetime: life})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "created token %d (%s) for %s, expires %s\n", t.ID, t.Name, args[0], t.ExpiresAt.UTC().Format(time.RFC3339))
			fmt.Fprintf(w, "token: %s\n(shown once; store it now)\n", secret)
			return nil
		})
	}
	return c
}

func userTokenListCommand() *cobra.Command {
	c := &cobra.Command{Use: "list EMAIL", Short: "List a staff user's API tokens", Args: cobra.ArbitraryArgs}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("token list takes exactly one EMAIL")
		}
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			list, err := e.identity.ListTokens(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if *out == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCLIENTS\tEXPIRES\tLAST USED\tSTATE")
			for _, t := range list {
				clients, used, state := "all", "never", "live"
				if t.ClientIDs != nil {
					clients = strings.Join(t.Clients, ",")
				}
				if t.LastUsedAt != nil {
					used = t.LastUsedAt.UTC().Format(time.RFC3339)
				}
				switch {
				case t.RevokedAt != nil:
					state = "revoked"
				case !t.Live(time.Now()):
					state = "expired"
				}
				fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, strings.Join(t.Scopes, ","), clients,
					t.ExpiresAt.UTC().Format(time.RFC3339), used, state)
			}
			return tw.Flush()
		})
	}
	return c
}

func userTokenRevokeCommand() *cobra.Command {
	c := &cobra.Command{Use: "revoke EMAIL ID", Short: "Revoke a staff user's API token at once", Args: cobra.ArbitraryArgs}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) != 2 {
			return usagef("token revoke takes EMAIL and the token's ID (see token list)")
		}
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return usagef("token ID %q is not a number (see token list)", args[1])
		}
		return withTenants(cmd, func(e *env) error {
			if err := e.identity.RevokeToken(cmd.Context(), args[0], id); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked token %d of %s\n", id, args[0])
			return nil
		})
	}
	return c
}
