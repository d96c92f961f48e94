package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// userMFACommand is `user mfa …`: second factors of staff users.
func userMFACommand() *cobra.Command {
	c := &cobra.Command{Use: "mfa", Short: "Manage staff users' second factors"}
	c.AddCommand(&cobra.Command{
		Use:   "reset EMAIL",
		Short: "Remove a staff user's second factors and recovery codes and end their sessions",
		Long: `Remove every second factor (authenticator app, passkeys) and recovery code
of a staff user who lost them, and end their sessions. At their next
sign-in they enrol again (required for the roles in security.require_mfa).
The reset is written to the platform audit log.`,
		Example: "  switchboard user mfa reset ops@msp.example",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withTenants(cmd, func(e *env) error {
				before, err := e.identity.ResetMFA(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "second factors of %s removed (authenticator app: %t, passkeys: %d, recovery codes: %d); their sessions are ended\n",
					args[0], before.TOTP, len(before.Passkeys), before.RecoveryTotal)
				return nil
			})
		},
	})
	return c
}
