package slas

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// Queue is the River queue of SLA deadline jobs.
const Queue = "sla"

// deadlineArgs is one upcoming moment of one clock of one alert: the warning
// share or the target itself. The due time is part of the unique key, so a
// moved deadline is a new job; the job at the old time re-checks the clock
// when it runs and does nothing if its moment has not come.
type deadlineArgs struct {
	jobs.TenantArgs
	AlertID int64     `json:"alert_id" river:"unique"`
	Clock   string    `json:"clock" river:"unique"` // response or resolution
	Level   string    `json:"level" river:"unique"` // warning or breach
	Due     time.Time `json:"due" river:"unique"`
}

// Kind names the job in River.
func (deadlineArgs) Kind() string { return "sla_deadline" }

// Inserter is the part of the jobs client Breaches uses.
type Inserter interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Escalator sends an escalation about an alert to the client's channels.
type Escalator interface {
	Escalate(ctx context.Context, t tenancy.Tenant, a alerts.Alert, reason string) (int, error)
}

// Breaches schedules and works the SLA deadline jobs: one job per upcoming
// warning or breach of an open alert, never a scan of tenant schemas.
type Breaches struct {
	alerts   *alerts.Service
	policies *policies.Service
	tenants  jobs.TenantLookup
	escalate Escalator
	jobs     Inserter
	log      *slog.Logger
	now      func() time.Time
	// OnBreach, if set, runs after a breach is recorded (the monthly rollup).
	OnBreach func(ctx context.Context, t tenancy.Tenant, a alerts.Alert)
}

// NewBreaches returns the breach detector; escalate may be nil.
func NewBreaches(a *alerts.Service, p *policies.Service, t jobs.TenantLookup, escalate Escalator, log *slog.Logger) *Breaches {
	return &Breaches{alerts: a, policies: p, tenants: t, escalate: escalate, log: log, now: time.Now}
}

// AddWorkers registers the deadline worker.
func (b *Breaches) AddWorkers(w *river.Workers) { river.AddWorker(w, &deadlineWorker{b: b}) }

// UseJobs sets the client jobs are inserted with (serve sets it).
func (b *Breaches) UseJobs(q Inserter) { b.jobs = q }

// AlertsCreated is the alerts module's after-commit hook for new alerts.
func (b *Breaches) AlertsCreated(ctx context.Context, t tenancy.Tenant, created []alerts.Alert) {
	ids := make([]int64, len(created))
	for i, a := range created {
		ids[i] = a.ID
	}
	b.Changed(ctx, t, ids, "created")
}

// Changed is the alerts module's after-commit hook for transitions: a clock
// that starts or resumes needs its upcoming moments scheduled; stopped and
// paused clocks need nothing (their jobs find nothing to do).
func (b *Breaches) Changed(ctx context.Context, t tenancy.Tenant, ids []int64, action string) {
	if b.jobs == nil || (action != "created" && action != "resume") {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, id := range ids {
		if err := b.Schedule(ctx, t, id); err != nil {
			b.log.ErrorContext(ctx, "sla: scheduling deadlines", "tenant", t.Slug, "alert", id, "err", err)
		}
	}
}

// OpenAlerts lists a tenant's open alerts (for rescheduling after an SLA change).
type OpenAlerts interface {
	List(ctx context.Context, t tenancy.Tenant, f alerts.Filter) ([]alerts.Alert, error)
}

// Reschedule inserts jobs for every open alert of the tenants, after an SLA
// change moved their deadlines (jobs at the old times find nothing to do).
func (b *Breaches) Reschedule(ctx context.Context, ts []tenancy.Tenant) {
	if b.jobs == nil {
		return
	}
	for _, t := range ts {
		open, err := b.alerts.List(ctx, t, alerts.Filter{Status: "open", Limit: 500})
		if err != nil {
			b.log.ErrorContext(ctx, "sla: listing open alerts", "tenant", t.Slug, "err", err)
			continue
		}
		for _, a := range open {
			if err := b.Schedule(ctx, t, a.ID); err != nil {
				b.log.ErrorContext(ctx, "sla: rescheduling", "tenant", t.Slug, "alert", a.ID, "err", err)
			}
		}
	}
}

// Schedule inserts the jobs for an alert's running clocks.
func (b *Breaches) Schedule(ctx context.Context, t tenancy.Tenant, id int64) error {
	a, events, err := b.alerts.Get(ctx, t, id)
	if err != nil {
		return err
	}
	sla, st, ok, err := b.state(ctx, t, a, events)
	if err != nil || !ok {
		return err
	}
	cal, err := sla.Calendar.Build()
	if err != nil {
		return err
	}
	now := b.now()
	var params []river.InsertManyParams
	for _, c := range []struct {
		name  string
		clock Clock
	}{{"response", st.Response}, {"resolution", st.Resolution}} {
		if !c.clock.Running {
			continue
		}
		warnAt := time.Duration(float64(c.clock.Target) * sla.WarnAt)
		for _, m := range []struct {
			level string
			at    time.Duration
		}{{"warning", warnAt}, {"breach", c.clock.Target}} {
			if c.clock.Used >= m.at {
				continue // already past; its job (if any) has run or will
			}
			due, err := cal.Add(now, m.at-c.clock.Used)
			if err != nil {
				return err
			}
			params = append(params, river.InsertManyParams{
				Args: deadlineArgs{TenantArgs: jobs.TenantArgs{TenantID: t.ID}, AlertID: id, Clock: c.name, Level: m.level, Due: due.UTC().Truncate(time.Second)},
				InsertOpts: &river.InsertOpts{Queue: Queue, ScheduledAt: due, MaxAttempts: 10,
					UniqueOpts: river.UniqueOpts{ByArgs: true}},
			})
		}
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := b.jobs.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("inserting SLA deadline jobs: %w", err)
	}
	return nil
}

// state computes the alert's clocks under the client's effective SLA.
func (b *Breaches) state(ctx context.Context, t tenancy.Tenant, a alerts.Alert, events []alerts.Event) (policies.SLA, State, bool, error) {
	eff, err := b.policies.Effective(ctx, t)
	if err != nil {
		return policies.SLA{}, State{}, false, err
	}
	sla, _, ok := eff.SLA()
	if !ok {
		return policies.SLA{}, State{}, false, nil
	}
	st, err := Compute(events, a.Severity, sla, b.now())
	return sla, st, err == nil, err
}

type deadlineWorker struct {
	river.WorkerDefaults[deadlineArgs]
	b *Breaches
}

// Work records a warning or breach once, if the clock really reached it,
// and escalates it to the client's channels.
func (w *deadlineWorker) Work(ctx context.Context, job *river.Job[deadlineArgs]) error {
	b, args := w.b, job.Args
	t, err := jobs.ResolveTenant(ctx, b.tenants, args.TenantArgs)
	if err != nil {
		return err
	}
	a, events, err := b.alerts.Get(ctx, t, args.AlertID)
	if err != nil {
		return river.JobCancel(err)
	}
	sla, st, ok, err := b.state(ctx, t, a, events)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	c := st.Response
	if args.Clock == "resolution" {
		c = st.Resolution
	}
	threshold := c.Target
	if args.Level == "warning" {
		threshold = time.Duration(float64(c.Target) * sla.WarnAt)
	}
	// A second of slack for scheduling jitter; a clock that has not reached
	// its moment was paused or moved, and a newer job covers it.
	if c.Stopped || c.Used+time.Second < threshold {
		return nil
	}
	kind := "sla_" + args.Level
	for _, e := range events {
		if e.Kind == kind && strings.HasPrefix(e.Body, args.Clock+" ") {
			return nil // recorded once
		}
	}
	body := fmt.Sprintf("%s target %s missed", args.Clock, c.Target)
	if args.Level == "warning" {
		body = fmt.Sprintf("%s clock at %.0f%% of its %s target", args.Clock, sla.WarnAt*100, c.Target)
	}
	if err := b.alerts.AddEvent(ctx, t, a.ID, kind, "sla", body); err != nil {
		return err
	}
	b.log.InfoContext(ctx, "sla "+args.Level, "tenant", t.Slug, "alert", a.ID, "clock", args.Clock, "late_by", b.now().Sub(job.ScheduledAt).Round(time.Millisecond))
	if args.Level == "breach" && b.OnBreach != nil {
		b.OnBreach(ctx, t, a)
	}
	if b.escalate != nil {
		if _, err := b.escalate.Escalate(ctx, t, a, "sla "+args.Level+": "+args.Clock); err != nil {
			b.log.ErrorContext(ctx, "sla: escalating", "tenant", t.Slug, "alert", a.ID, "err", err)
		}
	}
	return nil
}
