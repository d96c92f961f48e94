package slas

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// Reports builds monthly SLA reports from alert timelines.
type Reports struct {
	alerts   *alerts.Service
	policies *policies.Service
	now      func() time.Time
}

// NewReports returns the report builder.
func NewReports(a *alerts.Service, p *policies.Service) *Reports {
	return &Reports{alerts: a, policies: p, now: time.Now}
}

// Row is one alert of a report with its two clocks.
type Row struct {
	Alert      alerts.Alert
	Response   Clock
	Resolution Clock
}

// Outcome summarises one clock over a month: how many alerts have an
// outcome (stopped, or already past the target), how many met the target,
// and the business times of the stopped ones.
type Outcome struct {
	Decided int
	Met     int
	Mean    time.Duration
	Median  time.Duration
}

// Percent is the share of decided alerts that met the target (100 when none).
func (o Outcome) Percent() float64 {
	if o.Decided == 0 {
		return 100
	}
	return 100 * float64(o.Met) / float64(o.Decided)
}

// Report is one client's SLA performance in one calendar month.
type Report struct {
	Month      time.Time // first day, in the SLA calendar's zone or UTC
	Alerts     int
	Response   Outcome
	Resolution Outcome
	Breaches   []Row // alerts that missed either target
	Rows       []Row
	Origin     string
}

// Month builds the report for the calendar month containing month (UTC
// month boundaries), measuring every alert opened in it with the client's
// current SLA: clocks are derived from the timelines, so a changed target
// or calendar applies to the whole month.
func (r *Reports) Month(ctx context.Context, t tenancy.Tenant, month time.Time) (Report, error) {
	from := time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 1, 0)
	eff, err := r.policies.Effective(ctx, t)
	if err != nil {
		return Report{}, err
	}
	sla, origin, ok := eff.SLA()
	rep := Report{Month: from, Origin: origin}
	if !ok {
		return rep, nil
	}
	list, events, err := r.alerts.OpenedBetween(ctx, t, from, to)
	if err != nil {
		return Report{}, err
	}
	now := r.now()
	var respTimes, resTimes []time.Duration
	for _, a := range list {
		st, err := Compute(events[a.ID], a.Severity, sla, now)
		if err != nil {
			return Report{}, fmt.Errorf("alert %d: %w", a.ID, err)
		}
		row := Row{Alert: a, Response: st.Response, Resolution: st.Resolution}
		rep.Rows = append(rep.Rows, row)
		tally(&rep.Response, st.Response, &respTimes)
		tally(&rep.Resolution, st.Resolution, &resTimes)
		if st.Response.Breached || st.Resolution.Breached {
			rep.Breaches = append(rep.Breaches, row)
		}
	}
	rep.Alerts = len(list)
	rep.Response.Mean, rep.Response.Median = meanMedian(respTimes)
	rep.Resolution.Mean, rep.Resolution.Median = meanMedian(resTimes)
	return rep, nil
}

func tally(o *Outcome, c Clock, times *[]time.Duration) {
	if c.Stopped || c.Breached {
		o.Decided++
		if c.Met {
			o.Met++
		}
	}
	if c.Stopped {
		*times = append(*times, c.Used)
	}
}

func meanMedian(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return (sum / time.Duration(len(ds))).Round(time.Second), median.Round(time.Second)
}

// Refresh recomputes the client's report for the month containing month and
// stores its counts in control.sla_rollups, where the cross-client table
// reads them. It runs after the changes that decide a clock (acknowledge,
// resolve, a breach), so the rollup never lags more than one change.
func (r *Reports) Refresh(ctx context.Context, t tenancy.Tenant, month time.Time) error {
	rep, err := r.Month(ctx, t, month)
	if err != nil {
		return err
	}
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Exec(`SELECT control_api.sla_rollup_set(?::date, ?, ?, ?, ?, ?)`, rep.Month.Format("2006-01-02"), rep.Alerts,
			rep.Response.Decided, rep.Response.Met, rep.Resolution.Decided, rep.Resolution.Met).Error
	})
}

// Changed is the alerts module's after-commit hook: acknowledging and
// resolving decide clocks, so the months of those alerts are refreshed.
func (r *Reports) Changed(ctx context.Context, t tenancy.Tenant, ids []int64, action string) {
	if action != "acknowledge" && action != "resolve" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	months := map[string]time.Time{}
	for _, id := range ids {
		a, _, err := r.alerts.Get(ctx, t, id)
		if err != nil {
			continue
		}
		m := time.Date(a.FirstSeenAt.Year(), a.FirstSeenAt.Month(), 1, 0, 0, 0, 0, time.UTC)
		months[m.Format("2006-01")] = m
	}
	for _, m := range months {
		if err := r.Refresh(ctx, t, m); err != nil {
			slog.ErrorContext(ctx, "sla: refreshing the monthly rollup", "tenant", t.Slug, "month", m.Format("2006-01"), "err", err)
		}
	}
}
