package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// deliveryArgs is one delivery job: one alert to one channel of one tenant.
// All three ids form the job's unique key, so enqueueing the same delivery
// again is a no-op while River keeps the job (24 h after it finishes).
type deliveryArgs struct {
	jobs.TenantArgs
	AlertID   int64 `json:"alert_id" river:"unique"`
	ChannelID int64 `json:"channel_id" river:"unique"`
	// Reason is empty for a new alert, "acknowledged" or "resolved" for a
	// follow-up, and names an escalation otherwise ("sla warning:
	// response"); each is delivered once (see eventOf).
	Reason string `json:"reason,omitempty" river:"unique"`
}

// Kind names the job in River.
func (deliveryArgs) Kind() string { return "notify_delivery" }

// allStates makes uniqueness hold whatever became of the earlier job:
// a delivery that was cancelled or gave up is not re-sent by a duplicate.
var allStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
	rivertype.JobStatePending, rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// announce routes the alerts an ingest opened with the tenant's effective
// policy and enqueues their deliveries. It runs from the outbox, after the
// alerts committed and whatever became of the request; a crash before the
// insert hands the same events over again, and the deliveries' unique keys
// make the second insert a no-op.
func (s *Service) announce(ctx context.Context, t tenancy.Tenant, events []alerts.Opened) error {
	eff, err := s.deps.Policies.Effective(ctx, t)
	if err != nil {
		return fmt.Errorf("notify: reading the routing policy of %s: %w", t.Slug, err)
	}
	opened := make([]alerts.Alert, len(events))
	for i, e := range events {
		opened[i] = e.Alert
	}
	_, err = s.Enqueue(ctx, t, opened, eff.Items)
	return err
}

// escalate sends each SLA warning or breach of a still-open alert to the
// channels its routing names, once per reason.
func (s *Service) escalate(ctx context.Context, t tenancy.Tenant, events []slas.Reached) error {
	for _, e := range events {
		a, _, err := s.deps.Alerts.Get(ctx, t, e.AlertID)
		if errors.Is(err, alerts.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := s.Escalate(ctx, t, a, e.Reason()); err != nil {
			return err
		}
	}
	return nil
}

// followUp sends acknowledgements and resolutions to the channels the
// alert's routing names that subscribe to them (Channel.Events), through
// the same jobs as new alerts, so a ticket a webhook opened can follow its
// alert. Only alerts that were announced (opened firing, not suppressed)
// are followed up: a receiver never hears of the end of an alert it was
// never told of. Like announce, it runs from the outbox and is idempotent.
func (s *Service) followUp(ctx context.Context, t tenancy.Tenant, events []alerts.Changed) error {
	var todo []followUp
	for _, e := range events {
		switch e.Action {
		case alerts.ActionAcknowledge:
			todo = append(todo, followUp{alertID: e.AlertID, reason: reasonAcknowledged})
		case alerts.ActionResolve:
			todo = append(todo, followUp{alertID: e.AlertID, reason: reasonResolved})
		}
		// waiting and resuming are the SLA clocks' business
	}
	return s.follow(ctx, t, todo)
}

// timeline sends notes (alert.noted) and assignments (alert.assigned) like
// followUp; an internal note never goes to a client-facing channel.
func (s *Service) timeline(ctx context.Context, t tenancy.Tenant, events []TimelineEntry) error {
	todo := make([]followUp, len(events))
	for i, e := range events {
		todo[i] = followUp{alertID: e.AlertID, reason: entryReason(e),
			internal: e.Kind == entryNote && !e.ClientVisible}
	}
	return s.follow(ctx, t, todo)
}

// followUp is one later event of an alert, to the channels its routing names.
type followUp struct {
	alertID  int64
	reason   string
	internal bool // an internal note: MSP-side channels only
}

func (s *Service) follow(ctx context.Context, t tenancy.Tenant, todo []followUp) error {
	var eff *policies.Effective
	for _, f := range todo {
		a, timeline, err := s.deps.Alerts.Get(ctx, t, f.alertID)
		if errors.Is(err, alerts.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !announced(timeline) {
			continue
		}
		if eff == nil {
			got, err := s.deps.Policies.Effective(ctx, t)
			if err != nil {
				return fmt.Errorf("notify: reading the routing policy of %s: %w", t.Slug, err)
			}
			eff = &got
		}
		if _, err := s.enqueue(ctx, t, []alerts.Alert{a}, eff.Items, f.reason, f.internal); err != nil {
			return err
		}
	}
	return nil
}

// announced reports whether the alert was opened firing (and so announced).
func announced(timeline []alerts.Event) bool {
	for _, e := range timeline {
		if e.Kind == "created" {
			return true
		}
	}
	return false
}

// Enqueue routes firing alerts to the tenant's enabled channels and inserts
// one delivery job per (alert, channel), all in one River transaction. It
// returns how many jobs were new.
func (s *Service) Enqueue(ctx context.Context, t tenancy.Tenant, created []alerts.Alert, routing []policies.EffectiveItem) (int, error) {
	return s.enqueue(ctx, t, created, routing, reasonCreated, false)
}

// Escalate sends an escalation about an open alert (reason, e.g. "sla
// breach: response") to the channels its routing names, once per reason.
func (s *Service) Escalate(ctx context.Context, t tenancy.Tenant, a alerts.Alert, reason string) (int, error) {
	eff, err := s.deps.Policies.Effective(ctx, t)
	if err != nil {
		return 0, err
	}
	a.Status = alerts.StatusFiring // routed like a firing alert whatever its acknowledgement
	return s.enqueue(ctx, t, []alerts.Alert{a}, eff.Items, reason, false)
}

// enqueue inserts the deliveries of one reason about alerts to the enabled
// channels their routing names that subscribe to its event; internal (an
// internal note) leaves client-facing channels out.
func (s *Service) enqueue(ctx context.Context, t tenancy.Tenant, created []alerts.Alert, routing []policies.EffectiveItem, reason string, internal bool) (int, error) {
	routes := map[int64][]string{}
	var names []string
	// Channels the tenant itself routes to. A baseline route (e.g. to
	// "oncall") is an offer: a tenant without that channel has not opted in,
	// which is not a mistake worth a timeline entry.
	own := map[string]bool{}
	for _, it := range routing {
		if it.Routing != nil && (it.Origin == policies.OriginOverridden || it.Origin == policies.OriginTenant) {
			for _, c := range it.Routing.Channels {
				own[c] = true
			}
		}
	}
	event := eventOf(reason)
	for _, a := range created {
		if event == AlertCreated && a.Status != alerts.StatusFiring {
			continue // suppressed alerts are recorded, not announced
		}
		if r := Route(a, routing); len(r) > 0 {
			routes[a.ID] = r
			names = append(names, r...)
		}
	}
	if len(routes) == 0 {
		return 0, nil // the common case costs no query
	}
	var chans []Channel
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Select("ID", "Name", "Enabled", "Events", "ClientFacing").Where("name IN ?", names).Find(&chans).Error
	})
	if err != nil {
		return 0, fmt.Errorf("reading channels: %w", err)
	}
	byName := make(map[string]Channel, len(chans))
	for _, c := range chans {
		byName[c.Name] = c
	}
	var params []river.InsertManyParams
	for _, a := range created {
		for _, name := range routes[a.ID] {
			c, ok := byName[name]
			if !ok {
				if own[name] && (event == AlertCreated || event == SLAWarning || event == SLABreached) {
					// The tenant's own route names no channel: a policy mistake; say so where staff look.
					s.missingChannel(ctx, t, a.ID, name)
				}
				continue
			}
			if !c.Enabled || !c.Receives(event) || (internal && c.ClientFacing) {
				continue
			}
			params = append(params, river.InsertManyParams{
				Args:       deliveryArgs{TenantArgs: jobs.TenantArgs{TenantID: t.ID}, AlertID: a.ID, ChannelID: c.ID, Reason: reason},
				InsertOpts: s.insertOpts(),
			})
		}
	}
	res, err := s.jobs.InsertMany(ctx, params)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range res {
		if !r.UniqueSkippedAsDuplicate {
			n++
		}
	}
	return n, nil
}

func (s *Service) insertOpts() *river.InsertOpts {
	return &river.InsertOpts{
		Queue:       s.opts.Queue,
		MaxAttempts: s.opts.MaxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: allStates},
	}
}

func (s *Service) missingChannel(ctx context.Context, t tenancy.Tenant, alertID int64, name string) {
	s.log.WarnContext(ctx, "notify: routing names an unknown channel", "tenant", t.Slug, "channel", name, "alert", alertID)
	body := fmt.Sprintf("channel %s: no such channel; check the routing policy", name)
	if err := s.deps.Alerts.AddEvent(ctx, t, alertID, EventNotifyFailed, actor, body); err != nil {
		s.log.ErrorContext(ctx, "notify: recording on the alert timeline", "tenant", t.Slug, "alert", alertID, "err", err)
	}
}

// jsonList encodes a string list for a jsonb column.
func jsonList(l []string) string {
	if len(l) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(l) // a list of strings always encodes
	return string(b)
}
