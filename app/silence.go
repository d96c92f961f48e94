package main

import (
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"switchboard/modules/alerts"
	"switchboard/platform/fault"
	"switchboard/platform/humane"
)

// newSilenceCommand is `switchboard silence …`: a client's silences, as
// on its silences page.
func newSilenceCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "silence",
		Short: "List, create, expire and delete a client's silences",
		Long: `While a silence is active, a client's new alerts that match all of its matchers
are recorded as suppressed: kept on the timeline, never announced. Each change
is written to the client's audit log as the operator's OS account.`,
	}
	c.AddCommand(silenceListCommand(), silenceCreateCommand(), silenceExpireCommand(), silenceDeleteCommand())
	return c
}

func silenceListCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "list SLUG",
		Short: "List the active and upcoming silences and those that ended in the last week",
		Args:  cobra.ExactArgs(1),
	}
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			t, err := clientTenant(cmd, e, args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			list, err := e.alerts.Silences(cmd.Context(), t, now)
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(list))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tBY\tSTARTS\tENDS\tMUTING\tCOMMENT")
			for _, s := range list {
				muting := "-"
				if s.State == alerts.SilenceActive {
					muting = strconv.Itoa(s.Muting)
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.State, s.MatcherText(), orDash(s.CreatedBy),
					humane.Relative(s.StartsAt, now), humane.Relative(s.EndsAt, now)+" ("+humane.At(s.EndsAt, time.UTC)+")", muting, orDash(s.Comment))
			}
			return tw.Flush()
		})
	}
	return c
}

func silenceCreateCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "create SLUG --matcher NAME=VALUE... --duration D [--comment TEXT]",
		Short: "Silence a client's matching alerts from now for a while",
		Example: `  switchboard silence create acme-health --matcher 'host=~web.*' --matcher severity=warning --duration 2h --comment "planned reboot"
  switchboard silence create acme-health --matcher alertname=disk_full --duration 3d`,
		Args: cobra.ExactArgs(1),
	}
	matchers := c.Flags().StringArray("matcher", nil, "name=value, name!=value, name=~regex or name!~regex (repeat; all must match)")
	duration := c.Flags().String("duration", "", "how long from now: 30m, 2h, 3d (at most 90 days; required)")
	comment := c.Flags().String("comment", "", "why, for whoever reads the list")
	out := outputFlag(c)
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		// Refused before the database is opened: nothing half-written.
		ms, err := alerts.ParseMatchers(*matchers)
		if err != nil {
			return usagef("--matcher: %s", fault.Message(err))
		}
		if *duration == "" {
			return usagef("--duration is required (like 2h)")
		}
		d, err := alerts.ParseSilenceDuration(*duration)
		if err != nil {
			return usagef("--duration: %s", fault.Message(err))
		}
		return withTenants(cmd, func(e *env) error {
			t, err := clientTenant(cmd, e, args[0])
			if err != nil {
				return err
			}
			now := time.Now()
			sil, err := e.alerts.CreateSilence(cmd.Context(), t, ms, now, now.Add(d), *comment)
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), sil)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "silence #%d created: %s, until %s (%s)\n", sil.ID, sil.MatcherText(),
				humane.At(sil.EndsAt, time.UTC), humane.Duration(d))
			return nil
		})
	}
	return c
}

func silenceExpireCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "expire SLUG ID",
		Short: "End an active silence now",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := silenceArg(args[1])
			if err != nil {
				return err
			}
			return withTenants(cmd, func(e *env) error {
				t, err := clientTenant(cmd, e, args[0])
				if err != nil {
					return err
				}
				sil, changed, err := e.alerts.ExpireSilence(cmd.Context(), t, id)
				if err != nil {
					return err
				}
				if !changed {
					fmt.Fprintf(cmd.OutOrStdout(), "silence #%d had already ended (%s)\n", id, humane.At(sil.EndsAt, time.UTC))
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "silence #%d expired: %s no longer suppresses alerts\n", id, sil.MatcherText())
				return nil
			})
		},
	}
}

func silenceDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete SLUG ID",
		Short: "Delete a silence, whatever its state",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := silenceArg(args[1])
			if err != nil {
				return err
			}
			return withTenants(cmd, func(e *env) error {
				t, err := clientTenant(cmd, e, args[0])
				if err != nil {
					return err
				}
				sil, err := e.alerts.DeleteSilence(cmd.Context(), t, id)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "silence #%d deleted (%s)\n", id, sil.MatcherText())
				return nil
			})
		},
	}
}

// silenceArg reads a silence id: a positive number, "#" allowed.
func silenceArg(s string) (int64, error) {
	if len(s) > 0 && s[0] == '#' {
		s = s[1:]
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, usagef("silence ID must be a positive number, like 12, not %q", s)
	}
	return id, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
