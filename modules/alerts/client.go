package alerts

import (
	"context"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// clientKinds are the timeline entries a client may read in its portal: the
// alert's lifecycle. Repeats, assignments, escalations and deliveries are
// the MSP's internal business.
var clientKinds = map[string]string{
	"created":      "Opened",
	"acknowledged": "Being worked on",
	"waiting":      "Waiting for your answer",
	"resumed":      "Work resumed",
	"resolved":     "Resolved",
	"reopened":     "Reopened",
}

// ClientEvent is one timeline entry as the client sees it.
type ClientEvent struct {
	Event
	Label string // what happened, in the client's words
}

// ClientTimeline is what a client may read of an alert's timeline: its
// lifecycle, the notes staff chose to share (signed "Support", never with
// staff names) and the notes of the client's own users.
func ClientTimeline(events []Event) []ClientEvent {
	var out []ClientEvent
	for _, e := range events {
		label, lifecycle := clientKinds[e.Kind]
		switch {
		case lifecycle:
			e.Body, e.Actor = "", ""
		case e.Kind == "note" && e.ClientVisible:
			label, e.Actor = "Note from Support", ""
		case e.Kind == "client_note":
			label = "Note from " + e.Actor // one of the client's own users
		default:
			continue
		}
		out = append(out, ClientEvent{Event: e, Label: label})
	}
	return out
}

// ClientReply records a note written by one of the client's own users (the
// actor of ctx), visible to staff and to the client. When the alert was
// waiting on the client, the reply is the answer: the alert resumes and its
// SLA clocks run again, in the same transaction. It reports whether it resumed.
func (s *Service) ClientReply(ctx context.Context, t tenancy.Tenant, id int64, text string) (bool, error) {
	text, err := noteText(text)
	if err != nil {
		return false, err
	}
	var resumed []changedAlert
	err = s.onAlert(ctx, t, id, func(tx *gorm.DB, a Alert) (err error) {
		if a.Status == StatusSuppressed {
			return ErrNotFound // the client never sees suppressed alerts
		}
		if err := addNote(tx, Event{AlertID: id, Kind: "client_note", Actor: audit.OriginFrom(ctx).Actor, Body: text, ClientVisible: true}); err != nil {
			return err
		}
		resumed, err = recordPause(ctx, tx, []int64{id}, ActionResume)
		return err
	})
	if err != nil {
		return false, err
	}
	return len(resumed) > 0, nil
}

// Waiting reports whether a timeline ends waiting on the client.
func Waiting(events []Event) bool {
	waiting := false
	for _, e := range events {
		switch e.Kind {
		case "waiting":
			waiting = true
		case "resumed":
			waiting = false
		}
	}
	return waiting
}
