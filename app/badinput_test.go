package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// TestConsoleBadInput sends every console form and endpoint something it
// must refuse, one line per case (PocketBase style), and checks the answer
// is a 4xx with a reason and that nothing was written anywhere: every
// successful change appends an audit entry, and the client's tables that
// these forms write keep their row counts.
func TestConsoleBadInput(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "bad-input", Name: "Bad Input"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(tn), []alerts.Signal{{Source: "t", Rule: "r"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tenants.AddDomain(ctx, tn.Slug, "portal.bad-input.example"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "bad-owner@msp.example", Role: "owner", Password: "bad-input-password"}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login("bad-owner@msp.example", "bad-input-password"); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	p := "/t/bad-input"
	cases := []struct {
		name, method, path string
		form               url.Values
		status             int
		reason             string
	}{
		{"onboard: bad slug", "POST", "/clients", url.Values{"slug": {"X"}, "name": {"x"}}, 400, "slug"},
		{"onboard: taken slug", "POST", "/clients", url.Values{"slug": {"bad-input"}, "name": {"x"}}, 409, "taken"},
		{"user: bad e-mail", "POST", p + "/users", url.Values{"email": {"nope"}, "role": {"client_user"}}, 400, "not a valid e-mail"},
		{"user: bad role", "POST", p + "/users", url.Values{"email": {"a@b.example"}, "role": {"owner"}}, 400, "client role"},
		{"user: unknown", "POST", p + "/users/nobody@x.example/disable", nil, 404, "No such user"},
		{"staff: bad e-mail", "POST", "/platform/staff", url.Values{"email": {"nope"}, "role": {"technician"}}, 400, "not a valid e-mail"},
		{"staff: list without clients", "POST", "/platform/staff", url.Values{"email": {"t@msp.example"}, "role": {"technician"}, "scope": {"list"}}, 400, "at least one tenant"},
		{"alerts: bad status filter", "GET", p + "/alerts?status=bogus", nil, 400, "unknown status"},
		{"alerts: bad severity filter", "GET", p + "/alerts?severity=urgent", nil, 400, "severity"},
		{"alerts: bulk with a bad id", "POST", p + "/alerts/bulk", url.Values{"action": {"acknowledge"}, "ids": {"x"}}, 400, "numbers"},
		{"alerts: bulk with a bad action", "POST", p + "/alerts/bulk", url.Values{"action": {"explode"}, "ids": {"1"}}, 400, "unknown action"},
		{"alerts: unknown alert", "GET", p + "/alerts/999", nil, 404, "No such alert"},
		{"alerts: empty note", "POST", p + "/alerts/1/notes", url.Values{"note": {" "}}, 400, "note"},
		{"silence: bad matcher", "POST", p + "/silences", url.Values{"matchers": {"host"}, "duration": {"1h"}}, 400, "matcher"},
		{"silence: bad regexp", "POST", p + "/silences", url.Values{"matchers": {"host=~("}, "duration": {"1h"}}, 400, "host"},
		{"silence: bad duration", "POST", p + "/silences", url.Values{"matchers": {"host=a"}, "duration": {"forever"}}, 400, "duration"},
		{"policy: override a locked-free unknown item", "POST", p + "/policy/no-such-item/override", url.Values{"enabled": {"false"}}, 404, "No such policy item"},
		{"policy: bad threshold value", "POST", p + "/policy/cpu-high/override", url.Values{"value": {"high"}}, 400, "number"},
		{"policy: bad item kind", "POST", p + "/policy/items", url.Values{"kind": {"magic"}, "key": {"k"}}, 400, "maintenance window or a routing rule"},
		{"policy: routing without channels", "POST", p + "/policy/items", url.Values{"kind": {"routing"}, "key": {"r"}, "min_severity": {"warning"}}, 400, "channel"},
		{"policy: bad labels", "POST", p + "/policy/items", url.Values{"kind": {"routing"}, "key": {"r"}, "labels": {"oops"}, "channels": {"x"}}, 400, "labels"},
		{"policy: bad SLA zone", "POST", p + "/policy/sla-default/override", url.Values{"sla": {"1"}, "ack_critical": {"1m"}, "resolve_critical": {"1h"},
			"ack_warning": {"1m"}, "resolve_warning": {"1h"}, "ack_info": {"1m"}, "resolve_info": {"1h"}, "always_open": {"false"}, "zone": {"Mars/X"},
			"hours": {"Mon 09:00-17:00"}, "clock_owner": {"msp"}, "warn_at": {"0.75"}}, 400, "time zone"},
		{"channel: bad URL", "POST", p + "/channels", url.Values{"name": {"hook"}, "kind": {"webhook"}, "url": {"ftp://x"}}, 400, "http"},
		{"channel: bad kind", "POST", p + "/channels", url.Values{"name": {"hook"}, "kind": {"pigeon"}}, 400, "kind"},
		{"enrollment: bad validity", "POST", p + "/enrollment", url.Values{"name": {"x"}, "ttl": {"soon"}, "max_uses": {"1"}}, 400, "duration"},
		{"enrollment: bad uses", "POST", p + "/enrollment", url.Values{"name": {"x"}, "ttl": {"1h"}, "max_uses": {"many"}}, 400, "whole number"},
		{"api key: no name", "POST", p + "/apikeys", url.Values{"name": {""}}, 400, "name"},
		{"domain: bad hostname", "POST", p + "/domains", url.Values{"host": {"bad_host.example"}}, 400, "invalid label"},
		{"domain: IP address", "POST", p + "/domains", url.Values{"host": {"10.0.0.1"}}, 400, "IP address"},
		{"domain: empty", "POST", p + "/domains", url.Values{"host": {""}}, 400, "hostname"},
		{"domain: already added", "POST", p + "/domains", url.Values{"host": {"Portal.Bad-Input.example"}}, 409, "already a domain of bad-input"},
		{"domain: verify unknown", "POST", p + "/domains/nope.example/verify", nil, 404, "has no domain"},
		{"domain: verify bad hostname", "POST", p + "/domains/bad_host.example/verify", nil, 400, "invalid label"},
		{"domain: primary unknown", "POST", p + "/domains/nope.example/primary", nil, 404, "has no domain"},
		{"domain: remove unknown", "POST", p + "/domains/nope.example/remove", nil, 404, "has no domain"},
		{"audit: bad date", "GET", p + "/audit?since=yesterday", nil, 400, "YYYY-MM-DD"},
		{"audit: bad export format", "GET", p + "/audit?format=xls", nil, 400, "csv or ndjson"},
		{"sla: bad month", "GET", p + "/sla?month=May", nil, 400, "month"},
		{"branding: bad colour", "POST", p + "/branding", url.Values{"primary_color": {"blue"}}, 400, "#rrggbb"},
		{"branding: bad support e-mail", "POST", p + "/branding", url.Values{"support_email": {"help"}}, 400, "not a valid e-mail"},
		{"branding: bad phone", "POST", p + "/branding", url.Values{"support_phone": {"call us"}}, 400, "phone"},
		{"switcher: overlong search", "GET", "/switcher?q=" + strings.Repeat("a", 101), nil, 400, "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := writeCounts(t, tn.SchemaName)
			status, body, _ := b.do(tc.method, tc.path, tc.form)
			if status != tc.status || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.reason)) {
				t.Fatalf("status %d, body %.300q; want %d with %q", status, body, tc.status, tc.reason)
			}
			if after := writeCounts(t, tn.SchemaName); after != before {
				t.Fatalf("a refused request wrote something: %v → %v", before, after)
			}
		})
	}
	// Branding images come as multipart uploads; the type is sniffed, the name ignored.
	for _, tc := range []struct {
		name, field, filename, body string
		status                      int
		reason                      string
	}{
		{"branding: logo too large", "logo", "big.png", strings.Repeat("\x00", 600<<10), 413, "limit is 512 KiB"},
		{"branding: text named .png", "logo", "logo.png", "not an image at all", 415, "not a PNG"},
		{"branding: SVG with a script", "logo", "logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, 400, "&lt;script&gt;"},
		{"branding: SVG with an event handler", "favicon", "f.svg", `<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`, 400, "event handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := writeCounts(t, tn.SchemaName)
			status, body := b.upload(p+"/branding", tc.field, tc.filename, tc.body)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Fatalf("status %d, body %.300q; want %d with %q", status, body, tc.status, tc.reason)
			}
			if after := writeCounts(t, tn.SchemaName); after != before {
				t.Fatalf("a refused upload wrote something: %v → %v", before, after)
			}
		})
	}
}

// upload posts one file as a multipart form, as a browser's file input does.
func (b *client) upload(path, field, filename, content string) (int, string) {
	b.t.Helper()
	return b.multipart(path, nil, field, filename, content)
}

// writeCounts totals what the console's forms could write, as the superuser.
func writeCounts(t *testing.T, schema string) [2]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var out [2]int64
	q := `SELECT (SELECT count(*) FROM control.audit_log) + (SELECT count(*) FROM control.tenants) + (SELECT count(*) FROM control.staff_users)
		+ (SELECT count(*) FROM control.api_keys) + (SELECT count(*) FROM control.tenant_domains),
		(SELECT count(*) FROM ` + schema + `.audit_log) + (SELECT count(*) FROM ` + schema + `.alert_events) + (SELECT count(*) FROM ` + schema + `.silences)
		+ (SELECT count(*) FROM ` + schema + `.policy_items) + (SELECT count(*) FROM ` + schema + `.policy_overrides)
		+ (SELECT count(*) FROM ` + schema + `.notification_channels) + (SELECT count(*) FROM ` + schema + `.enrollment_tokens)
		+ (SELECT count(*) FROM ` + schema + `.users) + (SELECT count(*) FROM ` + schema + `.branding) + (SELECT count(*) FROM ` + schema + `.brand_assets)`
	if err := conn.QueryRow(ctx, q).Scan(&out[0], &out[1]); err != nil {
		t.Fatal(err)
	}
	return out
}
