package alerts

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
// lifecycle and the notes staff chose to share, with no staff names (a
// shared note is signed by "Support").
func ClientTimeline(events []Event) []ClientEvent {
	var out []ClientEvent
	for _, e := range events {
		label, lifecycle := clientKinds[e.Kind]
		switch {
		case lifecycle:
			e.Body = ""
		case e.Kind == "note" && e.ClientVisible:
			label = "Note from Support"
		default:
			continue
		}
		e.Actor = ""
		out = append(out, ClientEvent{Event: e, Label: label})
	}
	return out
}
