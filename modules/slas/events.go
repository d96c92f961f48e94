package slas

import "time"

// KindReached names Reached in the outbox.
const KindReached = "sla.reached"

// Level is how far a clock has run against its target.
type Level string

// The levels a deadline job records.
const (
	LevelWarning Level = "warning" // the warning share of the target is used up
	LevelBreach  Level = "breach"  // the target is missed
)

// Reached is published, with the timeline entry, when an alert's clock
// reaches its warning share or misses its target: channels are told (an
// escalation) and the month's report changes.
type Reached struct {
	AlertID     int64     `json:"alert_id"`
	Clock       string    `json:"clock"` // response or resolution
	Level       Level     `json:"level"`
	FirstSeenAt time.Time `json:"first_seen_at"`
}

// EventKind names the event in the outbox.
func (Reached) EventKind() string { return KindReached }

// Reason is how an escalation about this event is named on the alert's
// timeline and in its notification ("sla breach: response"); each reason is
// delivered once per channel.
func (r Reached) Reason() string { return "sla " + string(r.Level) + ": " + r.Clock }
