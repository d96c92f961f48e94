package slas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/humane"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
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

// Fleet finds tenants: by id for jobs, and those a baseline change concerns.
type Fleet interface {
	jobs.TenantLookup
	WithOpenAlerts(ctx context.Context) ([]int64, error)
}

// Breaches schedules and works the SLA deadline jobs: one job per upcoming
// warning or breach of an open alert, never a scan of tenant schemas. It
// learns of clocks that start, resume or move from the outbox.
type Breaches struct {
	alerts   *alerts.Service
	policies *policies.Service
	tenants  Fleet
	jobs     Inserter
	log      *slog.Logger
	now      func() time.Time
}

// NewBreaches returns the breach detector, with its workers registered on jc
// and its subscriptions: a new alert starts its clocks, a resumed one
// restarts them, and an SLA change moves every open alert's deadlines.
func NewBreaches(a *alerts.Service, p *policies.Service, tenants Fleet, jc *jobs.Client, events *outbox.Subscribers, log *slog.Logger) *Breaches {
	b := &Breaches{alerts: a, policies: p, tenants: tenants, jobs: jc, log: log, now: time.Now}
	river.AddWorker(jc.Workers(), &deadlineWorker{b: b})
	river.AddWorker(jc.Workers(), &rescheduleWorker{b: b})
	outbox.Subscribe(events, "sla deadlines", b.opened)
	outbox.Subscribe(events, "sla deadlines", b.changed)
	outbox.Subscribe(events, "sla deadlines", b.policyChanged)
	return b
}

func (b *Breaches) opened(ctx context.Context, t tenancy.Tenant, events []alerts.Opened) error {
	ids := make([]int64, len(events))
	for i, e := range events {
		ids[i] = e.Alert.ID
	}
	return b.schedule(ctx, t, ids)
}

// changed: a resumed clock needs its moments scheduled again; stopped and
// paused clocks need nothing (their jobs find nothing to do).
func (b *Breaches) changed(ctx context.Context, t tenancy.Tenant, events []alerts.Changed) error {
	var ids []int64
	for _, e := range events {
		if e.Action == alerts.ActionResume {
			ids = append(ids, e.AlertID)
		}
	}
	return b.schedule(ctx, t, ids)
}

// policyChanged reschedules after an SLA change: the tenant's own open
// alerts at once, or, for a baseline, one job per tenant with open alerts.
func (b *Breaches) policyChanged(ctx context.Context, t tenancy.Tenant, events []policies.Changed) error {
	baseline, own := false, false
	for _, e := range events {
		if e.Kind == policies.KindSLA {
			baseline, own = baseline || e.Baseline, own || !e.Baseline
		}
	}
	if own {
		if err := b.Reschedule(ctx, t); err != nil {
			return err
		}
	}
	if !baseline {
		return nil
	}
	ids, err := b.tenants.WithOpenAlerts(ctx)
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: rescheduleArgs{TenantArgs: jobs.TenantArgs{TenantID: id}, After: b.now().UTC()},
			InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: 10}}
	}
	_, err = b.jobs.InsertMany(ctx, params)
	return err
}

// Reschedule inserts jobs for every open alert of t, after an SLA change
// moved their deadlines (jobs at the old times find nothing to do).
func (b *Breaches) Reschedule(ctx context.Context, t tenancy.Tenant) error {
	ids, err := b.alerts.OpenIDs(ctx, t)
	if err != nil {
		return err
	}
	return b.schedule(ctx, t, ids)
}

// schedule inserts the deadline jobs of the alerts' running clocks, in one
// insert. An alert that no longer exists has nothing to schedule.
func (b *Breaches) schedule(ctx context.Context, t tenancy.Tenant, ids []int64) error {
	var params []river.InsertManyParams
	for _, id := range ids {
		p, err := b.deadlines(ctx, t, id)
		if errors.Is(err, alerts.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("sla: scheduling alert #%d of %s: %w", id, t.Slug, err)
		}
		params = append(params, p...)
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := b.jobs.InsertMany(ctx, params); err != nil {
		return fmt.Errorf("inserting SLA deadline jobs: %w", err)
	}
	return nil
}

// rescheduleArgs moves one tenant's deadlines after a baseline change.
type rescheduleArgs struct {
	jobs.TenantArgs
	After time.Time `json:"after" river:"unique"` // the change; each change reschedules once
}

// Kind names the job in River.
func (rescheduleArgs) Kind() string { return "sla_reschedule" }

type rescheduleWorker struct {
	river.WorkerDefaults[rescheduleArgs]
	b *Breaches
}

// Work reschedules the tenant's open alerts.
func (w *rescheduleWorker) Work(ctx context.Context, job *river.Job[rescheduleArgs]) error {
	t, err := jobs.ResolveTenant(ctx, w.b.tenants, job.Args.TenantArgs)
	if err != nil {
		return err
	}
	return w.b.Reschedule(ctx, t)
}

// deadlines returns the jobs for an alert's running clocks.
func (b *Breaches) deadlines(ctx context.Context, t tenancy.Tenant, id int64) ([]river.InsertManyParams, error) {
	a, events, err := b.alerts.Get(ctx, t, id)
	if err != nil {
		return nil, err
	}
	// The cached policy will do here: a change made since is followed by its
	// own event, which reschedules.
	sla, st, ok, err := b.state(ctx, t, a, events, false)
	if err != nil || !ok {
		return nil, err
	}
	cal, err := sla.Calendar.Build()
	if err != nil {
		return nil, err
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
				return nil, err
			}
			params = append(params, river.InsertManyParams{
				Args: deadlineArgs{TenantArgs: jobs.TenantArgs{TenantID: t.ID}, AlertID: id, Clock: c.name, Level: m.level, Due: due.UTC().Truncate(time.Second)},
				InsertOpts: &river.InsertOpts{Queue: Queue, ScheduledAt: due, MaxAttempts: 10,
					UniqueOpts: river.UniqueOpts{ByArgs: true}},
			})
		}
	}
	return params, nil
}

// state computes the alert's clocks under the client's effective SLA. When
// a deadline decides (fresh), the policy is read from the database: a target
// changed a moment ago by another process (the CLI, another replica) must
// decide, not this process's cached copy.
func (b *Breaches) state(ctx context.Context, t tenancy.Tenant, a alerts.Alert, events []alerts.Event, fresh bool) (policies.SLA, State, bool, error) {
	effective := b.policies.Effective
	if fresh {
		effective = b.policies.EffectiveNow
	}
	eff, err := effective(ctx, t)
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
// and publishes it (Reached) in the same transaction: the escalation to the
// client's channels and the month's report follow from the outbox.
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
	sla, st, ok, err := b.state(ctx, t, a, events, true)
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
	if c.Stopped {
		return nil
	}
	// A second of slack for scheduling jitter. A running clock that has not
	// reached its moment was paused or its target moved: the job comes back
	// when the clock will have reached it, so a deadline scheduled from a
	// stale view of the policy is corrected rather than lost.
	if c.Used+time.Second < threshold {
		if !c.Running {
			return nil // paused: resuming schedules anew
		}
		cal, err := sla.Calendar.Build()
		if err != nil {
			return err
		}
		due, err := cal.Add(b.now(), threshold-c.Used)
		if err != nil {
			return err
		}
		args.Due = due.UTC().Truncate(time.Second)
		_, err = b.jobs.InsertMany(ctx, []river.InsertManyParams{{Args: args,
			InsertOpts: &river.InsertOpts{Queue: Queue, ScheduledAt: due, MaxAttempts: 10, UniqueOpts: river.UniqueOpts{ByArgs: true}}}})
		return err
	}
	kind := "sla_" + args.Level
	for _, e := range events {
		if e.Kind == kind && strings.HasPrefix(e.Body, args.Clock+" ") {
			return nil // recorded once
		}
	}
	// The body is read on the timeline by people: "4 h", not Go's "4h0m0s".
	body := fmt.Sprintf("%s target %s missed", args.Clock, humane.Duration(c.Target))
	if args.Level == "warning" {
		body = fmt.Sprintf("%s clock at %.0f%% of its %s target", args.Clock, sla.WarnAt*100, humane.Duration(c.Target))
	}
	reached := Reached{AlertID: a.ID, Clock: args.Clock, Level: Level(args.Level), FirstSeenAt: a.FirstSeenAt}
	if err := b.alerts.AddEvent(ctx, t, a.ID, kind, "sla", body, reached); err != nil {
		return err
	}
	b.log.InfoContext(ctx, "sla "+args.Level, "tenant", t.Slug, "alert", a.ID, "clock", args.Clock, "late_by", b.now().Sub(job.ScheduledAt).Round(time.Millisecond))
	return nil
}
