package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"switchboard/modules/policies"
)

func newSLACommand() *cobra.Command {
	c := &cobra.Command{Use: "sla", Short: "Show and set service levels (the baseline, or one client's)"}
	show := &cobra.Command{Use: "show [SLUG]", Short: "Show the baseline SLA, or a client's effective SLA and where it comes from", Args: cobra.MaximumNArgs(1)}
	out := outputFlag(show)
	show.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withTenants(cmd, func(e *env) error {
			sla, origin, err := slaOf(cmd, e, args)
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"origin": origin, "sla": sla})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s)\n", sla.Describe(), origin)
			return nil
		})
	}

	set := &cobra.Command{
		Use:   "set [--tenant SLUG] --target SEV=ACK/RESOLVE... [--always-open | --zone Z --hours H... [--holiday D...]] [--clock msp|client] [--warn-at 0.75]",
		Short: "Set the baseline SLA, or override it for one client",
		Example: `  switchboard sla set --target critical=15m/4h --target warning=1h/8h --target info=4h/24h --always-open
  switchboard sla set --tenant acme-health --target critical=30m/4h --target warning=2h/8h --target info=8h/40h \
      --zone America/New_York --hours "Mon 08:00-18:00" --hours "Tue 08:00-18:00" --holiday 2026-12-25 --clock client`,
		Args: cobra.NoArgs,
	}
	tenant := set.Flags().String("tenant", "", "override for this client (default: change the baseline for all clients)")
	targets := set.Flags().StringArray("target", nil, "SEVERITY=ACK/RESOLVE, e.g. critical=15m/4h (all three severities)")
	always := set.Flags().Bool("always-open", false, "24×7: the clocks always run")
	zone := set.Flags().String("zone", "", "IANA time zone of the opening hours")
	hours := set.Flags().StringArray("hours", nil, `opening hours, e.g. "Mon 09:00-17:00" (repeat; an end at or before the start crosses midnight)`)
	holidays := set.Flags().StringArray("holiday", nil, "closed dates, YYYY-MM-DD (repeat)")
	clock := set.Flags().String("clock", "msp", "whose calendar runs the clock: msp or client")
	warnAt := set.Flags().Float64("warn-at", 0.75, "share of a target at which to warn")
	set.RunE = func(cmd *cobra.Command, _ []string) error {
		sla := policies.SLA{Targets: map[string]policies.SLATarget{}, ClockOwner: *clock, WarnAt: *warnAt,
			Calendar: policies.SLACalendar{AlwaysOpen: *always, Zone: *zone, Hours: *hours, Holidays: *holidays}}
		for _, t := range *targets {
			sev, durs, ok := strings.Cut(t, "=")
			ack, res, ok2 := strings.Cut(durs, "/")
			a, err1 := time.ParseDuration(ack)
			r, err2 := time.ParseDuration(res)
			if !ok || !ok2 || err1 != nil || err2 != nil {
				return usagef("--target %q must look like critical=15m/4h", t)
			}
			sla.Targets[sev] = policies.SLATarget{Acknowledge: a, Resolve: r}
		}
		if *always && (*zone != "" || len(*hours) > 0) {
			return usagef("--always-open takes no --zone or --hours")
		}
		item := policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: &sla}
		return withTenants(cmd, func(e *env) error {
			ctx := cmd.Context()
			if *tenant == "" {
				if err := e.policies.SetGlobal(ctx, item, false); err != nil {
					return err
				}
			} else {
				t, err := clientTenant(cmd, e, *tenant)
				if err != nil {
					return err
				}
				if err := e.policies.Override(ctx, t, "sla-default", nil, &item); err != nil {
					return err
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "saved:", sla.Describe())
			return nil
		})
	}
	c.AddCommand(show, set)
	return c
}

// slaOf returns the baseline SLA (no args) or a client's effective one.
func slaOf(cmd *cobra.Command, e *env, args []string) (policies.SLA, string, error) {
	if len(args) == 0 {
		globals, err := e.policies.Globals(cmd.Context())
		if err != nil {
			return policies.SLA{}, "", err
		}
		for _, g := range globals {
			if g.Kind == policies.KindSLA && g.SLA != nil {
				return *g.SLA, "baseline", nil
			}
		}
		return policies.SLA{}, "", fmt.Errorf("no baseline SLA; run 'switchboard migrate'")
	}
	t, err := clientTenant(cmd, e, args[0])
	if err != nil {
		return policies.SLA{}, "", err
	}
	eff, err := e.policies.Effective(cmd.Context(), t)
	if err != nil {
		return policies.SLA{}, "", err
	}
	sla, origin, ok := eff.SLA()
	if !ok {
		return policies.SLA{}, "", fmt.Errorf("%s has no enabled SLA", args[0])
	}
	return sla, origin, nil
}
