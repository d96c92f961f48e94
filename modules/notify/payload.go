package notify

import (
	"strconv"
	"strings"
	"time"

	"switchboard/modules/alerts"
)

// webhookBody is the JSON a webhook receives (and an inbox keeps), for a
// client's channel and an MSP-wide webhook alike; webhooks.openapi.json
// describes it. Fields are only ever added: "tenant" became an object and
// "id" and "occurred_at" were added with the full event set.
type webhookBody struct {
	Event      string         `json:"event"`
	ID         string         `json:"id"`          // the event's id: the same for every subscription that receives it
	OccurredAt time.Time      `json:"occurred_at"` // when it happened, not when it was sent
	Tenant     payloadTenant  `json:"tenant"`
	Client     string         `json:"client"`           // the client's display name
	Reason     string         `json:"reason,omitempty"` // set for SLA events, e.g. "sla breach: response"
	Alert      *webhookAlert  `json:"alert,omitempty"`  // every alert.* and sla.* event, and test
	Note       *payloadNote   `json:"note,omitempty"`   // alert.noted
	Assignment *payloadAssign `json:"assignment,omitempty"`
	SLA        *payloadSLA    `json:"sla,omitempty"`
}

type payloadTenant struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

type webhookAlert struct {
	ID          int64             `json:"id"`
	Rule        string            `json:"rule"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	Summary     string            `json:"summary"`
	Endpoint    string            `json:"endpoint"`
	Labels      map[string]string `json:"labels"`
	FirstSeenAt time.Time         `json:"first_seen_at"`
	Assignee    string            `json:"assignee"` // "" when nobody
	URL         string            `json:"url"`      // the alert's page in the console
}

type payloadNote struct {
	Text          string `json:"text"`
	Author        string `json:"author"`
	ClientVisible bool   `json:"client_visible"` // the client reads it in its portal
	FromClient    bool   `json:"from_client"`    // written by one of the client's users
}

type payloadAssign struct {
	From string `json:"from"` // "" when nobody
	To   string `json:"to"`   // "" when cleared
	By   string `json:"by"`
}

type payloadSLA struct {
	Clock string `json:"clock"` // response or resolution
	Level string `json:"level"` // warning or breach
}

// The reasons of deliveries: what about the alert a delivery tells. Each is
// delivered once per channel (notification_deliveries); notes and
// assignments carry their timeline entry's id, as there may be many.
const (
	reasonCreated      = ""
	reasonAcknowledged = "acknowledged"
	reasonResolved     = "resolved"
	reasonAssigned     = "assigned:" // + entry id
	reasonNoted        = "noted:"    // + entry id
)

// eventOf names the event a delivery's reason stands for.
func eventOf(reason string) string {
	switch {
	case reason == reasonCreated:
		return AlertCreated
	case reason == reasonAcknowledged:
		return AlertAcknowledged
	case reason == reasonResolved:
		return AlertResolved
	case reason == EventTest:
		return EventTest
	case strings.HasPrefix(reason, reasonAssigned):
		return AlertAssigned
	case strings.HasPrefix(reason, reasonNoted):
		return AlertNoted
	case strings.HasPrefix(reason, "sla warning"):
		return SLAWarning
	}
	return SLABreached // "sla breach: response"
}

// entryReason is the reason of a delivery about a timeline entry.
func entryReason(e TimelineEntry) string {
	if e.Kind == entryAssigned {
		return reasonAssigned + strconv.FormatInt(e.EntryID, 10)
	}
	return reasonNoted + strconv.FormatInt(e.EntryID, 10)
}

// eventID is the payload's "id": tenant, alert and reason, so that every
// subscription receiving one event sees the same id.
func eventID(tenantID, alertID int64, reason string) string {
	tag := "created"
	if reason != reasonCreated {
		tag = strings.NewReplacer(": ", "-", ":", "-", " ", "-").Replace(reason)
	}
	return strconv.FormatInt(tenantID, 10) + "-" + strconv.FormatInt(alertID, 10) + "-" + tag
}

// happening is what a payload says about one event of an alert's life,
// read back from the alert and its timeline.
type happening struct {
	At         time.Time
	Note       *payloadNote
	Assignment *payloadAssign
	SLA        *payloadSLA
	Internal   bool // an internal note: never to client-facing subscriptions
}

// describe reads the event reason stands for from a's timeline. now stands
// in for a time the timeline does not hold.
func describe(a alerts.Alert, timeline []alerts.Event, reason string, now time.Time) happening {
	h := happening{At: now}
	last := func(kind string, ok func(alerts.Event) bool) *alerts.Event {
		for i := len(timeline) - 1; i >= 0; i-- {
			if timeline[i].Kind == kind && (ok == nil || ok(timeline[i])) {
				return &timeline[i]
			}
		}
		return nil
	}
	byID := func(id string) *alerts.Event {
		n, _ := strconv.ParseInt(id, 10, 64)
		for i := range timeline {
			if timeline[i].ID == n {
				return &timeline[i]
			}
		}
		return nil
	}
	switch event := eventOf(reason); event {
	case AlertCreated, EventTest:
		h.At = a.FirstSeenAt
	case AlertAcknowledged, AlertResolved:
		if e := last(strings.TrimPrefix(event, "alert."), nil); e != nil {
			h.At = e.At
		}
	case AlertAssigned:
		if e := byID(strings.TrimPrefix(reason, reasonAssigned)); e != nil {
			from, to, _ := strings.Cut(strings.TrimPrefix(e.Body, "assignee: "), " → ")
			h.At, h.Assignment = e.At, &payloadAssign{From: nobody(from), To: nobody(to), By: e.Actor}
		}
	case AlertNoted:
		h.Internal = true // until the entry says otherwise: never leak what cannot be read
		if e := byID(strings.TrimPrefix(reason, reasonNoted)); e != nil {
			visible := e.ClientVisible || e.Kind == entryClientNote
			h.At, h.Internal = e.At, !visible
			h.Note = &payloadNote{Text: e.Body, Author: e.Actor, ClientVisible: visible, FromClient: e.Kind == entryClientNote}
		}
	case SLAWarning, SLABreached:
		level, clock, _ := strings.Cut(strings.TrimPrefix(reason, "sla "), ": ")
		h.SLA = &payloadSLA{Clock: clock, Level: level}
		if e := last("sla_"+level, func(e alerts.Event) bool { return strings.HasPrefix(e.Body, clock+" ") }); e != nil {
			h.At = e.At
		}
	}
	h.At = h.At.UTC()
	return h
}

// nobody is "" for the alerts module's word for no assignee.
func nobody(s string) string {
	if s == "nobody" {
		return ""
	}
	return s
}
