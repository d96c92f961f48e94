package notify

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"switchboard/modules/alerts"
)

var (
	eventsDocOnce sync.Once
	eventsDoc     *openapi3.T
	eventsDocErr  error
)

// webhooksDoc loads and validates webhooks.openapi.json once.
func webhooksDoc(t *testing.T) *openapi3.T {
	t.Helper()
	eventsDocOnce.Do(func() {
		raw, err := os.ReadFile("webhooks.openapi.json")
		if err != nil {
			eventsDocErr = err
			return
		}
		eventsDoc, eventsDocErr = openapi3.NewLoader().LoadFromData(raw)
		if eventsDocErr == nil {
			eventsDocErr = eventsDoc.Validate(context.Background())
		}
	})
	if eventsDocErr != nil {
		t.Fatalf("webhooks.openapi.json: %v", eventsDocErr)
	}
	return eventsDoc
}

// checkPayload validates a payload against the request body schema of its
// event's webhook in webhooks.openapi.json.
func checkPayload(t *testing.T, raw []byte) {
	t.Helper()
	doc := webhooksDoc(t)
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("payload %s: %v", raw, err)
	}
	event, _ := v["event"].(string)
	item := doc.Webhooks[event]
	if item == nil || item.Post == nil {
		t.Fatalf("webhooks.openapi.json describes no webhook %q (payload %s)", event, raw)
	}
	schema := item.Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
		t.Fatalf("payload of %s does not match webhooks.openapi.json: %v\n%s", event, err, raw)
	}
}

// TestPayloadsMatchTheDocument: a sample of every event the code builds
// validates against its webhook's schema, and the document describes no
// event the code does not send.
func TestPayloadsMatchTheDocument(t *testing.T) {
	doc := webhooksDoc(t)
	s := &Service{}
	now := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	a := alerts.Alert{ID: 42, Rule: "disk_full", Severity: alerts.SeverityCritical, Status: alerts.StatusAcknowledged,
		Summary: "disk 97% full", Endpoint: "web1", Labels: map[string]string{"mount": "/"}, FirstSeenAt: now, Assignee: "tech@msp.example"}
	timeline := []alerts.Event{
		{ID: 1, Kind: "created", At: now},
		{ID: 2, Kind: entryAssigned, Actor: "lead@msp.example", Body: "assignee: nobody → tech@msp.example", At: now.Add(time.Minute)},
		{ID: 3, Kind: entryNote, Actor: "tech@msp.example", Body: "rebooting", At: now.Add(2 * time.Minute)},
		{ID: 4, Kind: entryClientNote, Actor: "it@client.example", Body: "thanks", ClientVisible: true, At: now.Add(3 * time.Minute)},
		{ID: 5, Kind: "sla_warning", Body: "response clock at 75% of its 1 h target", At: now.Add(45 * time.Minute)},
		{ID: 6, Kind: "acknowledged", At: now.Add(50 * time.Minute)},
		{ID: 7, Kind: "sla_breach", Body: "resolution target 4 h missed", At: now.Add(4 * time.Hour)},
		{ID: 8, Kind: "resolved", At: now.Add(5 * time.Hour)},
	}
	sent := map[string]bool{}
	for _, reason := range []string{reasonCreated, "assigned:2", "noted:3", "noted:4", "sla warning: response", reasonAcknowledged,
		"sla breach: resolution", reasonResolved, EventTest} {
		n := notice{Event: eventOf(reason), Reason: reason, ID: eventID(7, a.ID, reason), Tenant: payloadTenant{Slug: "acme", Name: "Acme"},
			Client: "Acme Health", Link: "https://console.msp.example/t/acme/alerts/42", Alert: a, What: describe(a, timeline, reason, now)}
		raw, err := json.Marshal(n.body())
		if err != nil {
			t.Fatal(err)
		}
		checkPayload(t, raw)
		sent[n.Event] = true
	}
	for _, event := range []string{ClientCreated, ClientSuspended} {
		raw, _ := json.Marshal(webhookBody{Event: event, ID: "client-7-x-1", OccurredAt: now, Tenant: payloadTenant{Slug: "acme", Name: "Acme"}, Client: "Acme"})
		checkPayload(t, raw)
		sent[event] = true
	}
	for event := range doc.Webhooks {
		if !sent[event] {
			t.Errorf("webhooks.openapi.json describes %s, which no sample sends", event)
		}
	}
	for _, event := range HookEvents {
		if doc.Webhooks[event] == nil {
			t.Errorf("webhooks.openapi.json does not describe %s", event)
		}
	}
	// A payload that drifts from the document fails.
	bad, _ := json.Marshal(map[string]any{"event": AlertCreated, "id": "x", "occurred_at": now, "client": "x", "tenant": map[string]any{"slug": "a", "name": "b"}})
	schema := doc.Webhooks[AlertCreated].Post.RequestBody.Value.Content.Get("application/json").Schema.Value
	var v any
	_ = json.Unmarshal(bad, &v)
	if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err == nil {
		t.Error("an alert.created payload without its alert validates")
	}
	_ = s
}
