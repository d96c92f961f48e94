package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// errAttestationFailed is the outcome of an attestation with a failed
// check: the report is already printed, so main prints this one line and
// exits 1 (not 2: the input was fine, the database is not). It is neither
// a usage error nor a crash.
var errAttestationFailed = errors.New("attestation failed")

func tenantAttestCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "attest SLUG [--output text|json]",
		Short: "Check a client's isolation in the live database and print the evidence",
		Long: `Inspect the live catalogs of the client's cell server and list, each with
PASS, FAIL or INFO: the schema's owner; the tenant role's attributes; every
role holding a privilege on the schema or its objects (only the tenant role
may); the login roles that can become the tenant role (only the cell's login
role may; superusers are listed); that the application's login roles on that
server are NOINHERIT and not superusers; that the audit log's append-only
trigger is enabled; default privileges touching the schema; the newest audit
entries; and the SHA-256 of a fresh export.

Exit status 0 when every check passes, 1 when any fails, 2 for bad input
(an unknown client).`,
		Example: `  switchboard tenant attest acme-health
  switchboard tenant attest acme-health --output json > attestation.json`,
		Args: cobra.ExactArgs(1),
	}
	out := c.Flags().StringP("output", "o", "text", "output format: text (table is the same) or json")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		switch *out {
		case "text", "table", "json":
		default:
			return usagef("--output must be text or json, not %q", *out)
		}
		return withTenants(cmd, func(e *env) error {
			a, err := e.tenants.Attest(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if *out == "json" {
				err = writeJSON(cmd.OutOrStdout(), a)
			} else {
				err = a.WriteText(cmd.OutOrStdout())
			}
			if err != nil {
				return err
			}
			if !a.Passed {
				return fmt.Errorf("%w: %d check(s) failed for %s", errAttestationFailed, a.Failed, a.Tenant)
			}
			return nil
		})
	}
	return c
}
