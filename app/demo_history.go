package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/platform/tenancy"
)

// pastAlert is one alert of a demo client's last two weeks: opened daysAgo
// days ago at hour (UTC), acknowledged and resolved after the given times.
type pastAlert struct {
	daysAgo, hour int
	severity      string
	rule, summary string // summary may name the endpoint with %s
	endpoint      string // after the client's host prefix: "app02" is acme-app02
	ack, resolve  time.Duration
}

// demoPast is the same fortnight for every client: mostly answered and
// fixed in time, one critical answered late, so the trends and the SLA
// report have something to say.
var demoPast = []pastAlert{
	{13, 9, alerts.SeverityWarning, "cpu-high", "CPU above 90%% for 5 minutes on %s", "app02", 20 * time.Minute, 2 * time.Hour},
	{11, 14, alerts.SeverityCritical, "disk-full", "Disk / at 97%% on %s", "fs01", 6 * time.Minute, 3 * time.Hour},
	{9, 3, alerts.SeverityWarning, "vpn-latency", "VPN latency above 250 ms", "vpn", 35 * time.Minute, 5 * time.Hour},
	{7, 10, alerts.SeverityWarning, "cpu-high", "CPU above 90%% for 5 minutes on %s", "app02", 12 * time.Minute, 50 * time.Minute},
	{6, 16, alerts.SeverityCritical, "backup-failed", "Nightly backup failed on %s", "fs01", 25 * time.Minute, 6 * time.Hour},
	{4, 8, alerts.SeverityWarning, "memory-high", "Memory above 90%% on %s", "app02", 18 * time.Minute, 26 * time.Hour},
	{2, 11, alerts.SeverityWarning, "vpn-latency", "VPN latency above 250 ms", "vpn", 9 * time.Minute, 90 * time.Minute},
	{1, 7, alerts.SeverityCritical, "disk-full", "Disk /var at 95%% on %s", "fs01", 4 * time.Minute, 2 * time.Hour},
	{0, 1, alerts.SeverityWarning, "cpu-high", "CPU above 90%% for 5 minutes on %s", "app02", 7 * time.Minute, 40 * time.Minute},
}

// demoHistory gives a new client two weeks of resolved alerts through the
// real ingest, acknowledge and resolve paths, then moves their times back
// (the demo's own time travel, as for its audit history and breach) and
// recomputes this month's and last month's SLA counters.
func demoAlertHistory(ctx context.Context, e *env, t tenancy.Tenant, host string, now time.Time) error {
	today := now.UTC().Truncate(24 * time.Hour)
	months := map[time.Time]bool{}
	for i, p := range demoPast {
		opened := today.AddDate(0, 0, -p.daysAgo).Add(time.Duration(p.hour) * time.Hour)
		if opened.Add(p.resolve).After(now) {
			continue // history only: nothing may end in the future
		}
		endpoint := host + "-" + p.endpoint
		summary := p.summary
		if strings.Contains(summary, "%s") {
			summary = fmt.Sprintf(summary, endpoint)
		} else {
			summary = strings.ReplaceAll(summary, "%%", "%")
		}
		// A label of its own per past alert: each is a separate alert, not a repeat.
		out, err := e.alerts.Ingest(ctx, t, []alerts.Signal{{Source: "zabbix", Rule: p.rule, Severity: p.severity, Summary: summary,
			Endpoint: endpoint, Labels: map[string]string{"host": endpoint, "demo_history": fmt.Sprint(i)}}})
		if err != nil {
			return err
		}
		id := out[0].AlertID
		for _, a := range []alerts.Action{alerts.ActionAcknowledge, alerts.ActionResolve} {
			if _, err := e.alerts.Transition(ctx, t, []int64{id}, a); err != nil {
				return err
			}
		}
		ack, resolved := opened.Add(p.ack), opened.Add(p.resolve)
		err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE alerts SET first_seen_at = ?, last_seen_at = ?, acknowledged_at = ?, resolved_at = ? WHERE id = ?`,
				opened, opened, ack, resolved, id).Error; err != nil {
				return err
			}
			return tx.Exec(`UPDATE alert_events SET at = CASE kind WHEN 'created' THEN ?::timestamptz WHEN 'acknowledged' THEN ?::timestamptz
				WHEN 'resolved' THEN ?::timestamptz ELSE at END WHERE alert_id = ?`, opened, ack, resolved, id).Error
		})
		if err != nil {
			return fmt.Errorf("moving a past alert back: %w", err)
		}
		months[time.Date(opened.Year(), opened.Month(), 1, 0, 0, 0, 0, time.UTC)] = true
	}
	months[time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)] = true
	for m := range months {
		if err := e.reports.Refresh(ctx, t, m); err != nil {
			return fmt.Errorf("SLA counters of %s: %w", m.Format("January 2006"), err)
		}
	}
	return nil
}
