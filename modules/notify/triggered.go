package notify

import "time"

// Events that database triggers of notify's own migrations record in the
// outbox, in the transaction of the change they describe (tenant migration
// 0014, control migration 0020). A trigger rather than a call in the
// producing module: every path that writes a note, an assignment or a
// client's status (console, portal, API, CLI) publishes it, and none of
// those modules has to know that anyone listens.

// KindTimeline names TimelineEntry in a tenant's outbox.
const KindTimeline = "alert.timeline"

// Timeline entry kinds that are published (the trigger's WHEN clause).
const (
	entryNote       = "note"        // staff's note; ClientVisible says whether the client reads it
	entryClientNote = "client_note" // a client user's reply from the portal (always client-visible)
	entryAssigned   = "assigned"    // the assignee changed; Body is "assignee: old → new"
)

// TimelineEntry is a note or an assignment added to an alert's timeline.
type TimelineEntry struct {
	AlertID       int64     `json:"alert_id"`
	EntryID       int64     `json:"entry_id"`
	Kind          string    `json:"kind"`
	Actor         string    `json:"actor"`
	Body          string    `json:"body"`
	ClientVisible bool      `json:"client_visible"`
	At            time.Time `json:"at"`
}

// EventKind names the event in the outbox.
func (TimelineEntry) EventKind() string { return KindTimeline }

// ClientChange is a client's status change in the control plane, recorded
// in the control plane's outbox by a trigger on control.tenants.
type ClientChange struct {
	TenantID int64     `json:"tenant_id"`
	Slug     string    `json:"slug"`
	Name     string    `json:"name"`
	At       time.Time `json:"at"`
}

// ClientCreatedEvent is published when a client becomes active after onboarding.
type ClientCreatedEvent struct{ ClientChange }

// EventKind names the event in the control plane's outbox.
func (ClientCreatedEvent) EventKind() string { return ClientCreated }

// ClientSuspendedEvent is published when a client is suspended.
type ClientSuspendedEvent struct{ ClientChange }

// EventKind names the event in the control plane's outbox.
func (ClientSuspendedEvent) EventKind() string { return ClientSuspended }
