package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"switchboard/modules/tenants"
	"switchboard/platform/humane"
)

// tenantSettingsCommand is `switchboard tenant settings SLUG`: a client's
// display name, time zone and locale.
func tenantSettingsCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "settings SLUG",
		Short: "Show a client's settings: display name, time zone and locale",
		Long: `Show the settings a client's portal speaks with: the display name its people
see (unless the branding sets one), and the time zone and locale every time
and number on the portal is shown in. Change them with 'tenant set'.`,
		Args: cobra.ExactArgs(1),
	}
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
			cs, err := e.tenants.SettingsNow(cmd.Context(), e.tenants.Scope(t))
			if err != nil {
				return err
			}
			return printSettings(cmd.OutOrStdout(), *out, cs)
		})
	}
	return c
}

// tenantSetCommand is `switchboard tenant set SLUG --display-name …`.
func tenantSetCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "set SLUG [--display-name NAME] [--timezone ZONE] [--locale TAG]",
		Short: "Change a client's display name, time zone or locale",
		Long: `Change a client's settings; flags not given are kept. Every value is checked
before anything is written: a bad one exits with status 2, names what is
wrong, and changes nothing. The change is audited in the client's log and
shows on its portal from the next page (on other replicas within a minute).
The locale changes how dates, times and numbers are written, never the
language: every word stays English. Locales: ` + strings.Join(tenants.LocaleTags(), ", ") + `.`,
		Example: `  switchboard tenant set acme-health --display-name "Acme Health Group" --timezone America/Chicago
  switchboard tenant set cedar-legal --locale de-DE`,
		Args: cobra.ExactArgs(1),
	}
	name := c.Flags().String("display-name", "", "the name the client's people see: 1-100 printable characters")
	zone := c.Flags().String("timezone", "", "an IANA time zone such as Europe/Berlin")
	locale := c.Flags().String("locale", "", "date and number format: "+strings.Join(tenants.LocaleTags(), ", "))
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		var in tenants.SettingsInput
		// A flag given empty is a change to "" (and refused), not left out.
		if cmd.Flags().Changed("display-name") {
			in.DisplayName = name
		}
		if cmd.Flags().Changed("timezone") {
			in.TimeZone = zone
		}
		if cmd.Flags().Changed("locale") {
			in.Locale = locale
		}
		if in.DisplayName == nil && in.TimeZone == nil && in.Locale == nil {
			return usagef("give at least one of --display-name, --timezone and --locale (see 'switchboard tenant set --help')")
		}
		if err := tenants.CheckSettings(in); err != nil {
			return err // refused before the database is even opened
		}
		return withTenants(cmd, func(e *env) error {
			t, err := e.tenants.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cs, changed, err := e.tenants.SaveSettings(cmd.Context(), e.tenants.Scope(t), in)
			if err != nil {
				return err
			}
			if *out == "table" {
				if changed {
					fmt.Fprintf(cmd.OutOrStdout(), "settings of %s saved\n", t.Slug)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "settings of %s already so: nothing changed\n", t.Slug)
				}
			}
			return printSettings(cmd.OutOrStdout(), *out, cs)
		})
	}
	return c
}

// printSettings writes a client's settings as a table or JSON.
func printSettings(w io.Writer, format string, cs tenants.ClientSettings) error {
	if format == "json" {
		return writeJSON(w, cs)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "display name\t%s\n", cs.DisplayName)
	fmt.Fprintf(tw, "time zone\t%s\n", cs.TimeZone)
	fmt.Fprintf(tw, "locale\t%s (%s)\n", cs.Locale, humane.LocaleFor(cs.Locale).Name)
	fmt.Fprintf(tw, "last changed\t%s\n", humane.At(cs.UpdatedAt, nil))
	return tw.Flush()
}
