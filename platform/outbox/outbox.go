// Package outbox carries a tenant write's side effects from its transaction
// to the workers that act on them, with nothing lost in between.
//
// A module that changes tenant data with consequences (notify someone,
// schedule a deadline, refresh a report) records typed events with Record
// inside its tenancy.Do transaction. The events land in the tenant's own
// outbox table, and a trigger marks the tenant due in the control plane in
// the same transaction (control.outbox_due). So an event exists exactly when
// its write committed.
//
// A River job per due tenant (the Drainer) reads the tenant's events in id
// order, in batches, hands each run of one kind to the handlers subscribed
// to that kind, then deletes the batch. Handlers must be idempotent: a crash
// after a handler ran and before the delete hands the same events over
// again. Producers never call consumers; consumers never reach back into
// the producing request.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// Event is what a module publishes: a value that encodes as JSON and names
// its kind ("alert.opened"). Producers export their event types; subscribers
// decode them by type.
type Event interface {
	EventKind() string
}

// Record appends events to the outbox of the tenant whose schema tx is
// scoped to (inside tenancy.Do), in one statement whatever their number.
func Record(tx *gorm.DB, events ...Event) error { return record(tx, "outbox", events) }

// RecordControl appends events of a platform-wide write to the control
// plane's outbox, in tx (a control-plane transaction). Handlers receive
// them with the zero Tenant.
func RecordControl(tx *gorm.DB, events ...Event) error { return record(tx, "control.outbox", events) }

func record(tx *gorm.DB, table string, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	var q strings.Builder
	q.WriteString(`INSERT INTO ` + table + ` (kind, payload) VALUES `)
	args := make([]any, 0, 2*len(events))
	for i, ev := range events {
		body, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("outbox: encoding %s: %w", ev.EventKind(), err)
		}
		if i > 0 {
			q.WriteString(", ")
		}
		q.WriteString("(?, ?::jsonb)")
		args = append(args, ev.EventKind(), string(body))
	}
	if err := tx.Exec(q.String(), args...).Error; err != nil {
		return fmt.Errorf("outbox: recording %d event(s): %w", len(events), err)
	}
	return nil
}

// Message is one stored event, as a handler receives it.
type Message struct {
	ID        int64
	Kind      string
	Payload   json.RawMessage
	CreatedAt time.Time
}

// Handler acts on one tenant's events of one kind, in outbox order. It must
// be idempotent. An error leaves the events in the outbox and the drain is
// retried with backoff, so return one only for failures a retry can fix
// (the database was unreachable); log and skip what can never succeed.
type Handler func(ctx context.Context, t tenancy.Tenant, msgs []Message) error

// Subscribers maps event kinds to handlers. It is filled while wiring and
// only read afterwards.
type Subscribers struct {
	byKind map[string][]subscriber
}

type subscriber struct {
	name string
	h    Handler
}

// NewSubscribers returns an empty set of subscriptions.
func NewSubscribers() *Subscribers { return &Subscribers{byKind: map[string][]subscriber{}} }

// Handle registers h for events of kind under name (used in logs).
func (s *Subscribers) Handle(kind, name string, h Handler) {
	s.byKind[kind] = append(s.byKind[kind], subscriber{name: name, h: h})
}

// Subscribe registers a typed handler for events of type E: the payloads are
// decoded into E before h sees them. An event that cannot be decoded is a
// programming error and fails the drain loudly.
func Subscribe[E Event](s *Subscribers, name string, h func(ctx context.Context, t tenancy.Tenant, events []E) error) {
	var zero E
	s.Handle(zero.EventKind(), name, func(ctx context.Context, t tenancy.Tenant, msgs []Message) error {
		events := make([]E, len(msgs))
		for i, m := range msgs {
			if err := json.Unmarshal(m.Payload, &events[i]); err != nil {
				return fmt.Errorf("outbox: decoding %s #%d: %w", m.Kind, m.ID, err)
			}
		}
		return h(ctx, t, events)
	})
}

// dispatch hands msgs (in id order) to the subscribers: each run of one kind
// goes to every handler of that kind before the next run starts, so a
// handler sees a tenant's events in the order they were recorded.
func (s *Subscribers) dispatch(ctx context.Context, t tenancy.Tenant, msgs []Message) error {
	for start := 0; start < len(msgs); {
		end := start + 1
		for end < len(msgs) && msgs[end].Kind == msgs[start].Kind {
			end++
		}
		for _, sub := range s.byKind[msgs[start].Kind] {
			if err := sub.h(ctx, t, msgs[start:end]); err != nil {
				return fmt.Errorf("outbox: %s handling %s: %w", sub.name, msgs[start].Kind, err)
			}
		}
		start = end
	}
	return nil
}
