package alerts

import "time"

// Event kinds the alerts module publishes through the tenant's outbox.
const (
	KindOpened  = "alert.opened"
	KindChanged = "alert.changed"
)

// Opened is published when an ingest opens a firing alert (suppressed
// alerts are recorded, not announced). It carries the alert as it was
// opened, for routing.
type Opened struct {
	Alert Alert `json:"alert"`
}

// EventKind names the event in the outbox.
func (Opened) EventKind() string { return KindOpened }

// Action is a change to an alert's state that staff, a client or a
// monitoring source made.
type Action string

// The actions Transition takes and Changed reports.
const (
	ActionAcknowledge Action = "acknowledge" // firing → acknowledged: the response clock stops
	ActionResolve     Action = "resolve"     // open → resolved: every clock stops
	ActionWait        Action = "wait"        // waiting on the client: clocks pause
	ActionResume      Action = "resume"      // back in the provider's hands: clocks run again
)

// Changed is published when an alert's state changed.
type Changed struct {
	AlertID int64  `json:"alert_id"`
	Action  Action `json:"action"`
	// FirstSeenAt places the alert in its SLA month.
	FirstSeenAt time.Time `json:"first_seen_at"`
}

// EventKind names the event in the outbox.
func (Changed) EventKind() string { return KindChanged }
