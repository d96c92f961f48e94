package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"switchboard/modules/tenants"
)

// tenantDomainCommand is `switchboard tenant domain …`: a client's portal
// hostnames and their DNS ownership checks.
func tenantDomainCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "domain",
		Short: "Manage a client's portal hostnames, proven by a DNS TXT record",
		Long: `A client's portal answers on its own hostnames. A hostname routes only once
its owner has proven control of it: 'add' prints a TXT record to create at
_switchboard-challenge.<host>, and 'verify' looks it up (through dns.resolver,
or the system resolver when that is empty).`,
	}
	c.AddCommand(domainAddCommand(), domainListCommand(), domainVerifyCommand(), domainRemoveCommand(), domainPrimaryCommand())
	return c
}

func domainAddCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "add SLUG HOST",
		Short: "Add a portal hostname (unverified) and print the TXT record that proves it",
		Long: `Add HOST to the client's portal hostnames. It does not route yet: create the
TXT record this command prints, then run 'switchboard tenant domain verify'.
The client's first hostname becomes its primary one.`,
		Example: `  switchboard tenant domain add acme-health portal.acme-health.example`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := tenants.NormalizeHostname(args[1]); err != nil {
				return err // refused before the database is even opened
			}
			return withTenants(cmd, func(e *env) error {
				d, err := e.tenants.AddDomain(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "added %s to %s (unverified: the portal does not answer on it yet)\n", d.Hostname, args[0])
				printChallenge(w, args[0], d)
				return nil
			})
		},
	}
}

// printChallenge tells the operator exactly which record to create.
func printChallenge(w io.Writer, slug string, d tenants.Domain) {
	fmt.Fprintf(w, "To prove control of %s, create this DNS record:\n\n", d.Hostname)
	fmt.Fprintf(w, "  %s. 300 IN TXT %q\n\n", d.ChallengeName(), d.VerifyToken)
	fmt.Fprintf(w, "  name:  %s\n  type:  TXT\n  value: %s\n\n", d.ChallengeName(), d.VerifyToken)
	fmt.Fprintf(w, "then run: switchboard tenant domain verify %s %s\n", slug, d.Hostname)
}

func domainListCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "list SLUG",
		Short: "List a client's portal hostnames with their status and TXT record",
		Args:  cobra.ExactArgs(1),
	}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			list, err := e.tenants.ListDomains(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(list))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "HOSTNAME\tPRIMARY\tSTATUS\tLAST CHECK\tTXT NAME\tTXT VALUE\tLAST ERROR")
			for _, d := range list {
				status, primary := "unverified", "-"
				if d.Verified {
					status = "verified"
				}
				if d.IsPrimary {
					primary = "yes"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Hostname, primary, status, stamp(d.CheckedAt), d.ChallengeName(), d.VerifyToken, deref(d.CheckError))
			}
			return tw.Flush()
		})
	}
	return c
}

func domainVerifyCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "verify SLUG HOST",
		Short: "Look up the hostname's TXT record and, if it holds the token, route the hostname to the portal",
		Long: `Look up the TXT record at _switchboard-challenge.HOST and, if one of its values
is the hostname's token, mark the hostname verified: the portal answers on it
from then on, on every replica. The outcome is recorded either way ('domain
list' shows the last error). Exit status 1 means DNS does not (yet) hold the
record; DNS changes can take a while to reach the resolver.`,
		Example: `  switchboard tenant domain verify acme-health portal.acme-health.example
  switchboard tenant domain verify acme-health portal.acme-health.example --resolver 1.1.1.1:53`,
		Args: cobra.ExactArgs(2),
	}
	c.Flags().String("resolver", "", "DNS server to ask, HOST:PORT (default: dns.resolver, else the system resolver)")
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if _, err := tenants.NormalizeHostname(args[1]); err != nil {
			return err
		}
		e, err := openEnv(cmd.Context(), cmd, map[string]string{"resolver": "dns.resolver"}, false)
		if err != nil {
			return err
		}
		defer e.close()
		d, err := e.tenants.VerifyDomain(cmd.Context(), args[0], args[1])
		if err != nil {
			return err // for ErrUnverified, main prints what DNS has and what it should hold
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s verified: the portal of %s now answers on it\n", d.Hostname, args[0])
		return nil
	}
	return c
}

func domainRemoveCommand() *cobra.Command {
	return domainHostCommand("remove SLUG HOST", "Remove a portal hostname; every replica stops answering on it at once",
		(*tenants.Service).RemoveDomain, "removed %[2]s from %[1]s\n")
}

func domainPrimaryCommand() *cobra.Command {
	return domainHostCommand("primary SLUG HOST", "Make a hostname the client's primary one (used in links to the portal)",
		(*tenants.Service).SetPrimary, "%[2]s is now the primary hostname of %[1]s\n")
}

// domainHostCommand is a `tenant domain` command that acts on one hostname
// of a client and reports done (formatted with the slug and the hostname).
// The hostname is checked before the database is opened.
func domainHostCommand(use, short string, act func(s *tenants.Service, ctx context.Context, slug, host string) error, done string) *cobra.Command {
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			host, err := tenants.NormalizeHostname(args[1])
			if err != nil {
				return err
			}
			return withTenants(cmd, func(e *env) error {
				if err := act(e.tenants, cmd.Context(), args[0], host); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), done, args[0], host)
				return nil
			})
		},
	}
}
