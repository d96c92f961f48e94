package slas

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/tenancy"
)

// Reports builds monthly SLA reports from alert timelines and keeps each
// client's monthly rollup current.
type Reports struct {
	alerts   *alerts.Service
	policies *policies.Service
	tenants  jobs.TenantLookup
	jobs     Inserter
	now      func() time.Time
	debounce time.Duration
}

// NewReports returns the report builder, with its refresh worker registered
// on jc and its subscriptions: acknowledging and resolving decide clocks, and
// a breach changes the month's count.
func NewReports(a *alerts.Service, p *policies.Service, tenants jobs.TenantLookup, jc *jobs.Client, events *outbox.Subscribers) *Reports {
	r := &Reports{alerts: a, policies: p, tenants: tenants, jobs: jc, now: time.Now, debounce: refreshDebounce}
	river.AddWorker(jc.Workers(), &refreshWorker{r: r})
	outbox.Subscribe(events, "sla reports", r.changed)
	outbox.Subscribe(events, "sla reports", r.reached)
	return r
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
	Timed   int // stopped clocks, whose business times make Mean and Median
	Mean    time.Duration
	Median  time.Duration
}

// Measured reports whether any alert has an outcome on this clock. Pages
// show "—" with a reason when none has: Percent's 100 would claim a
// perfect month that measured nothing.
func (o Outcome) Measured() bool { return o.Decided > 0 }

// Percent is the share of decided alerts that met the target (100 when
// none, so the rollups' arithmetic stays simple; pages check Measured).
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
	// Overdue are the open alerts past a target now, whichever month they
	// were opened in, and Carried those of them opened before the month
	// (the month's own are among Breaches); only Current fills them.
	Overdue, Carried []Row
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
	rep.Response.Timed, rep.Resolution.Timed = len(respTimes), len(resTimes)
	rep.Response.Mean, rep.Response.Median = meanMedian(respTimes)
	rep.Resolution.Mean, rep.Resolution.Median = meanMedian(resTimes)
	return rep, nil
}

// overdueLimit bounds how many open alerts from earlier months (the oldest)
// Current replays: a client with more open alerts than this has a backlog
// the page shows anyway.
const overdueLimit = 200

// Current is the report of the month containing now as the client's home
// shows it: how the MSP is doing now. The monthly report measures the
// alerts opened in its month, so an alert opened last month and still open
// past its target counts against no month, and the home would read "100 %
// answered in time" with a critical alert overdue. Current counts every
// such alert as missed as well (its outcome is decided: the target has
// passed, whatever happens next), and lists every open overdue alert in
// Overdue so the page names it plainly. Alerts opened this month are
// already counted by the month's tally, a breached clock as a miss.
func (r *Reports) Current(ctx context.Context, t tenancy.Tenant, now time.Time) (Report, error) {
	rep, err := r.Month(ctx, t, now)
	if err != nil || rep.Origin == "" {
		return rep, err
	}
	eff, err := r.policies.Effective(ctx, t)
	if err != nil {
		return Report{}, err
	}
	sla, _, ok := eff.SLA()
	if !ok {
		return rep, nil
	}
	for _, row := range rep.Rows {
		if row.Alert.Open() && (row.Response.Breached || row.Resolution.Breached) {
			rep.Overdue = append(rep.Overdue, row)
		}
	}
	older, events, err := r.alerts.OpenBefore(ctx, t, rep.Month, overdueLimit)
	if err != nil {
		return Report{}, err
	}
	at := r.now()
	for _, a := range older {
		st, err := Compute(events[a.ID], a.Severity, sla, at)
		if err != nil {
			return Report{}, fmt.Errorf("alert %d: %w", a.ID, err)
		}
		if st.Response.Breached {
			rep.Response.Decided++
		}
		if st.Resolution.Breached {
			rep.Resolution.Decided++
		}
		if st.Response.Breached || st.Resolution.Breached {
			row := Row{Alert: a, Response: st.Response, Resolution: st.Resolution}
			rep.Overdue = append(rep.Overdue, row)
			rep.Carried = append(rep.Carried, row)
		}
	}
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
// reads them. A job runs it a few seconds after the changes that decide a
// clock (acknowledge, resolve, a breach), once for a burst of them.
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

func (r *Reports) changed(ctx context.Context, t tenancy.Tenant, events []alerts.Changed) error {
	var months []time.Time
	for _, e := range events {
		if e.Action == alerts.ActionAcknowledge || e.Action == alerts.ActionResolve {
			months = append(months, e.FirstSeenAt)
		}
	}
	return r.refreshSoon(ctx, t, months)
}

func (r *Reports) reached(ctx context.Context, t tenancy.Tenant, events []Reached) error {
	var months []time.Time
	for _, e := range events {
		if e.Level == LevelBreach {
			months = append(months, e.FirstSeenAt)
		}
	}
	return r.refreshSoon(ctx, t, months)
}

// refreshDebounce is how long changes to one client's month gather before
// its rollup is recomputed once for all of them.
const refreshDebounce = 5 * time.Second

// refreshSoon schedules one refresh per month touched, at the end of the
// current debounce slot: a burst of resolutions costs one recomputation, and
// the job, due after every change it covers committed, sees them all.
func (r *Reports) refreshSoon(ctx context.Context, t tenancy.Tenant, seen []time.Time) error {
	if len(seen) == 0 {
		return nil
	}
	slotEnd := r.now().Truncate(r.debounce).Add(r.debounce)
	months := map[string]bool{}
	var params []river.InsertManyParams
	for _, at := range seen {
		m := at.UTC().Format("2006-01")
		if months[m] {
			continue
		}
		months[m] = true
		params = append(params, river.InsertManyParams{
			Args: refreshArgs{TenantArgs: jobs.TenantArgs{TenantID: t.ID}, Month: m, Slot: slotEnd.Unix()},
			InsertOpts: &river.InsertOpts{Queue: Queue, ScheduledAt: slotEnd, MaxAttempts: 10,
				UniqueOpts: river.UniqueOpts{ByArgs: true}},
		})
	}
	if _, err := r.jobs.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("sla: scheduling report refreshes: %w", err)
	}
	return nil
}

// refreshArgs recomputes one client's month once per debounce slot.
type refreshArgs struct {
	jobs.TenantArgs
	Month string `json:"month" river:"unique"` // 2006-01
	Slot  int64  `json:"slot" river:"unique"`  // end of the debounce slot, Unix seconds
}

// Kind names the job in River.
func (refreshArgs) Kind() string { return "sla_report_refresh" }

type refreshWorker struct {
	river.WorkerDefaults[refreshArgs]
	r *Reports
}

// Work recomputes the month and stores its rollup.
func (w *refreshWorker) Work(ctx context.Context, job *river.Job[refreshArgs]) error {
	t, err := jobs.ResolveTenant(ctx, w.r.tenants, job.Args.TenantArgs)
	if err != nil {
		return err
	}
	month, err := time.Parse("2006-01", job.Args.Month)
	if err != nil {
		return river.JobCancel(fmt.Errorf("bad month %q: %w", job.Args.Month, err))
	}
	return w.r.Refresh(ctx, t, month)
}
