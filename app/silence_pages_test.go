package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
)

// TestSilencesPage: the console lists a client's silences with their
// matchers, who and why, humane times and what they mute; "Expire now" and
// "Delete" act and say so; a missing silence is a 404.
func TestSilencesPage(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "silence-page", Name: "Silence Page"})
	if err != nil {
		t.Fatal(err)
	}
	scope := e.tenants.Scope(tn)
	owner := signedInOwner(t, e, ts.URL, "silence-owner@msp.example")
	p := "/t/" + tn.Slug + "/silences"

	status, _, hdr := owner.do(http.MethodPost, p, url.Values{"matchers": {"host=web1, alertname=~disk.*"}, "duration": {"2h"}, "comment": {"planned reboot"}})
	if status != http.StatusSeeOther || hdr.Get("Location") != p {
		t.Fatalf("create: %d %v", status, hdr)
	}
	if _, err := e.alerts.Ingest(ctx, scope, []alerts.Signal{{Source: "nagios", Rule: "disk_full", Labels: map[string]string{"host": "web1"}}}); err != nil {
		t.Fatal(err)
	}
	list, err := e.alerts.Silences(ctx, scope, time.Now())
	if err != nil || len(list) != 1 {
		t.Fatalf("silences %+v (%v)", list, err)
	}
	id := list[0].ID
	_, body := owner.get(p)
	text := strings.Join(strings.Fields(pageText(body)), " ")
	for _, want := range []string{fmt.Sprintf("#%d", id), "host=web1", "alertname=~disk.*", "silence-owner@msp.example", "planned reboot",
		"just now", "in 1 h", "1 alert", "Silence #1 created", "Expire now"} {
		if !strings.Contains(text, want) {
			t.Errorf("silences page lacks %q:\n%s", want, text)
		}
	}

	status, _, _ = owner.do(http.MethodPost, fmt.Sprintf("%s/%d/expire", p, id), nil)
	if _, body := owner.get(p); status != http.StatusSeeOther || !strings.Contains(body, "expired: matching alerts are no longer suppressed") ||
		!strings.Contains(pageText(body), "Ended in the last 7 d") {
		t.Fatalf("expire: %d\n%s", status, pageText(body))
	}
	status, _, _ = owner.do(http.MethodPost, fmt.Sprintf("%s/%d/delete", p, id), nil)
	if _, body := owner.get(p); status != http.StatusSeeOther || !strings.Contains(body, fmt.Sprintf("Silence #%d deleted.", id)) {
		t.Fatalf("delete: %d", status)
	}
	for _, path := range []string{fmt.Sprintf("%s/%d/delete", p, id), fmt.Sprintf("%s/%d/expire", p, id), p + "/x/delete"} {
		if status, body, _ := owner.do(http.MethodPost, path, nil); status != http.StatusNotFound || !strings.Contains(body, "No such silence") {
			t.Errorf("POST %s = %d, want 404 with a reason", path, status)
		}
	}
	if _, body := owner.get("/t/" + tn.Slug + "/alerts"); !strings.Contains(body, `href="`+p+`"`) {
		t.Error("the alerts page does not link to the silences")
	}
}

// TestChannelsPage: kinds and events on the form, a warning for an address
// deliveries will refuse, "Send test" with its outcome, and the built-in
// inbox listing what it received.
func TestChannelsPage(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "channels-page", Name: "Channels Page"})
	if err != nil {
		t.Fatal(err)
	}
	owner := signedInOwner(t, e, ts.URL, "channels-owner@msp.example")
	p := "/t/" + tn.Slug + "/channels"

	// A webhook to a private address: created, with the reason it will fail.
	status, body, _ := owner.do(http.MethodPost, p, url.Values{"name": {"internal"}, "kind": {"webhook"}, "url": {"http://10.0.0.5:8080/hook"},
		"email_to": {"typed before switching kinds"}, "events": {"alert.firing", "alert.resolved"}})
	if status != http.StatusCreated || !strings.Contains(body, "Deliveries to this webhook will be refused: 10.0.0.5 is a loopback, private or link-local address") {
		t.Fatalf("create internal: %d\n%s", status, pageText(body))
	}
	status, body, _ = owner.do(http.MethodPost, p, url.Values{"name": {"box"}, "kind": {"inbox"}, "events": {"alert.acknowledged"}})
	if status != http.StatusCreated || strings.Contains(body, "Deliveries to this webhook will be refused") {
		t.Fatalf("create box: %d\n%s", status, pageText(body))
	}
	if status, body, _ := owner.do(http.MethodPost, p, url.Values{"name": {"bad"}, "kind": {"inbox"}, "events": {"alert.deleted"}}); status != http.StatusBadRequest ||
		!strings.Contains(body, "is not one of") {
		t.Fatalf("an unknown event: %d", status)
	}

	status, _, hdr := owner.do(http.MethodPost, p+"/box/test", nil)
	if status != http.StatusSeeOther || hdr.Get("Location") != p {
		t.Fatalf("test box: %d", status)
	}
	_, body = owner.get(p)
	text := strings.Join(strings.Fields(pageText(body)), " ")
	for _, want := range []string{"Test of box sent: received in the inbox.", "The last 20 messages the built-in inbox channels received", "[TEST] switchboard_test",
		"New alerts, Resolutions", "Acknowledgements", "Deliveries will be refused: 10.0.0.5"} {
		if !strings.Contains(text, want) {
			t.Errorf("channels page lacks %q:\n%s", want, text)
		}
	}
	status, body, _ = owner.do(http.MethodPost, p+"/internal/test", nil)
	if status != http.StatusOK || !strings.Contains(body, "Test of internal failed:") || !strings.Contains(body, "loopback, private or link-local") {
		t.Fatalf("test internal: %d\n%s", status, pageText(body))
	}
	if status, _, _ := owner.do(http.MethodPost, p+"/nope/test", nil); status != http.StatusNotFound {
		t.Fatalf("test of a missing channel: %d", status)
	}
}
