package main

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// runCLI runs one command in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL(), "--log-level", "warn"))
	err := root.ExecuteContext(context.Background())
	return exitStatus(err), out.String()
}

func TestSLACommands(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, out := runCLI(t, "tenant", "create", "--slug", "sla-cli", "--name", "SLA CLI"); code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sla", "show"}, 0, "24×7; msp calendar"},
		{[]string{"sla", "show", "sla-cli"}, 0, "(global)"},
		{[]string{"sla", "set", "--tenant", "sla-cli", "--target", "critical=30m/4h", "--target", "warning=2h/8h", "--target", "info=8h/40h",
			"--zone", "Europe/Berlin", "--hours", "Mon 09:00-17:00", "--clock", "client"}, 0, "Europe/Berlin Mon 09:00-17:00"},
		{[]string{"sla", "show", "sla-cli"}, 0, "(overridden)"},
		{[]string{"sla", "show"}, 0, "critical: acknowledge in 15 min,"}, // the baseline is untouched
		{[]string{"sla", "set", "--target", "critical=1h"}, 2, ""},       // exitStatus prints the one-line reason to stderr
		{[]string{"sla", "set", "--target", "critical=1h/2h", "--target", "warning=1h/2h", "--target", "info=1h/2h", "--zone", "Nowhere/X", "--hours", "Mon 09:00-17:00"}, 2, ""},
		{[]string{"sla", "set", "--target", "critical=1h/2h", "--always-open"}, 2, ""}, // warning and info missing
		{[]string{"sla", "show", "no-such-client"}, 2, ""},
	}
	for _, tc := range cases {
		code, out := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want %d containing %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

// TestSLAConsoleForm edits a client's SLA through the console form.
func TestSLAConsoleForm(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "sla-form", Name: "SLA Form"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "sla-owner@msp.example", Role: "owner", Password: "sla-form-password"}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	b.login("sla-owner@msp.example", "sla-form-password")
	b.waitAllowed("/t/sla-form/policy")
	form := url.Values{"sla": {"1"}, "ack_critical": {"20m"}, "resolve_critical": {"3h"}, "ack_warning": {"1h"}, "resolve_warning": {"8h"},
		"ack_info": {"4h"}, "resolve_info": {"24h"}, "always_open": {"false"}, "zone": {"America/New_York"},
		"hours": {"Mon 08:00-18:00\nTue 08:00-18:00"}, "holidays": {"2026-12-25"}, "clock_owner": {"client"}, "warn_at": {"0.8"}}
	if status, body, _ := b.do(http.MethodPost, "/t/sla-form/policy/sla-default/override", form); status != http.StatusSeeOther {
		t.Fatalf("override: %d %.3000s", status, body)
	}
	eff, err := e.policies.Effective(ctx, e.tenants.Scope(tn))
	if err != nil {
		t.Fatal(err)
	}
	sla, origin, _ := eff.SLA()
	if origin != "overridden" || sla.Calendar.Zone != "America/New_York" || len(sla.Calendar.Hours) != 2 || sla.Targets["critical"].Acknowledge != 20*time.Minute || sla.WarnAt != 0.8 {
		t.Fatalf("effective SLA after the form: %s %+v", origin, sla)
	}
	form.Set("zone", "Nowhere/Else")
	if status, _, _ := b.do(http.MethodPost, "/t/sla-form/policy/sla-default/override", form); status != http.StatusBadRequest {
		t.Fatalf("a bad zone must be a 400, got %d", status)
	}
	if status, body, _ := b.do(http.MethodGet, "/t/sla-form/policy", nil); status != 200 || !strings.Contains(body, "America/New_York") {
		t.Fatalf("policy page: %d", status)
	}
	// The monthly report, as a page and as CSV.
	if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(tn), []alerts.Signal{{Source: "t", Rule: "=cmd|' /C calc'!A0", Severity: "critical"}}); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := b.do(http.MethodGet, "/t/sla-form/sla", nil); status != 200 || !strings.Contains(body, "1 alert opened this month") {
		t.Fatalf("SLA page: %d", status)
	}
	status, body, hdr := b.do(http.MethodGet, "/t/sla-form/sla?format=csv", nil)
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.HasPrefix(body, "alert_id,opened_at") || !strings.Contains(body, "'=cmd") {
		t.Fatalf("SLA CSV: %d %q", status, body)
	}
	if status, _, _ := b.do(http.MethodGet, "/t/sla-form/sla?month=November", nil); status != http.StatusBadRequest {
		t.Fatalf("a bad month must be a 400, got %d", status)
	}
}

// TestUserAndRollupCommandsRefuseBadInput: one line per refused command;
// each exits 2 and leaves no staff user behind.
func TestUserAndRollupCommandsRefuseBadInput(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	cases := [][]string{
		{"user", "create", "--email", "nope", "--role", "owner"},
		{"user", "create", "--email", "x@msp.example", "--role", "superhero"},
		{"user", "create", "--email", "x@msp.example", "--role", "technician", "--except", "a"},
		{"user", "create", "--email", "x@msp.example", "--role", "technician", "--tenants", "no-such-client"},
		{"user", "create", "--email", "x@msp.example", "--role", "owner", "--tenants", "a", "--all-tenants"},
		{"user", "create", "--tenant", "no-such-client", "--email", "x@c.example", "--role", "client_user"},
		{"user", "disable", "nobody@msp.example"},
		{"user", "reset-password", "nobody@msp.example"},
		{"user", "sessions", "revoke", "nobody@msp.example"},
		{"rollups", "reconcile", "--output", "xml"},
	}
	for _, args := range cases {
		if code, out := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, out)
		}
	}
	// Quoted: other tests' users may end in "x@msp.example" (random suffixes).
	if code, out := runCLI(t, "user", "list", "--output", "json"); code != 0 || strings.Contains(out, `"x@msp.example"`) {
		t.Fatalf("a refused create left a user: %d %s", code, out)
	}
}

// TestSLASetFromCLIReschedules: `switchboard sla set` from the command line,
// a separate process that only inserts jobs, moves the deadlines of open
// alerts: it records the change in the client's outbox, and serve's workers
// reschedule. A lengthened target's earlier job fires, finds the clock
// short and comes back when it will have run out; the breach comes at the
// new target, never at the old one.
func TestSLASetFromCLIReschedules(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, _, _ := testServer(t)
	if err := startBackground(ctx, e); err != nil {
		t.Fatal(err)
	}
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "sla-resched", Name: "SLA Resched"})
	if err != nil {
		t.Fatal(err)
	}
	scope := e.tenants.Scope(tn)
	set := func(ack string) {
		t.Helper()
		code, out := runCLI(t, "sla", "set", "--tenant", "sla-resched", "--target", "critical="+ack+"/1h",
			"--target", "warning=1h/8h", "--target", "info=4h/24h", "--always-open", "--warn-at", "0.99")
		if code != 0 {
			t.Fatalf("sla set %s: %d %s", ack, code, out)
		}
	}
	set("2s")
	out, err := e.alerts.Ingest(ctx, scope, []alerts.Signal{{Source: "t", Rule: "ups", Severity: alerts.SeverityCritical}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].AlertID
	set("5s") // lengthened before the 2 s job fires

	var breachAt, createdAt time.Time
	for deadline := time.Now().Add(20 * time.Second); breachAt.IsZero(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no breach recorded after the target was lengthened from the CLI")
		}
		_, events, err := e.alerts.Get(ctx, scope, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			switch ev.Kind {
			case "created":
				createdAt = ev.At
			case "sla_breach":
				breachAt = ev.At
			}
		}
	}
	after := breachAt.Sub(createdAt)
	t.Logf("breach recorded %v after the alert opened (target 5 s, first 2 s)", after.Round(10*time.Millisecond))
	if after < 5*time.Second || after > 12*time.Second {
		t.Fatalf("breach %v after opening; want at the lengthened 5 s target, within a few seconds", after)
	}
}
