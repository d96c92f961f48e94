package main

import (
	"context"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// loginLine is one login as the demo prints and writes it: role, e-mail, password.
var loginLine = regexp.MustCompile(`(?m)^demo:\s+(\S+)\s+(\S+@\S+)\s+(\S+)`)

// demoLogins reads the e-mail → password pairs of a demo output or file.
func demoLogins(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range loginLine.FindAllStringSubmatch(text, -1) {
		out[m[2]] = m[3]
	}
	if len(out) != 8 {
		t.Fatalf("%d logins, want 8 (2 staff, 2 per client):\n%s", len(out), text)
	}
	return out
}

// TestDemo runs `switchboard demo` twice: the second run creates nothing,
// and each writes every login (mode 0600) with new passwords that work,
// while the previous ones stop working. The clients have what is worth
// evaluating: endpoints with a day of history (one offline), an SLA breach
// this month, a note shared with the client, a locked global policy item
// and a client's override. A later run tops the history up to now.
func TestDemo(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	t.Cleanup(func() { // the demo locks disk-full for every client of the package's database
		globals, _ := e.policies.Globals(ctx)
		for _, g := range globals {
			if g.Key == "disk-full" && g.Locked {
				_ = e.policies.SetGlobal(ctx, g.Item, false)
			}
		}
	})
	path := filepath.Join(t.TempDir(), "new-folder", "demo-logins.txt")

	start := time.Now()
	first := cli(t, "demo", "--logins", path)
	firstTook := time.Since(start)
	expect(t, first, 0, "created Acme Health (acme-health)", "created Cedar & Pine Legal", path,
		"http://acme-health.localhost:8080/", "http://127.0.0.1:8080/login")
	firstFile := readLogins(t, path)
	before := demoLogins(t, firstFile)
	if got := demoLogins(t, first.stdout); !maps.Equal(got, before) {
		t.Errorf("printed logins %v differ from the file's %v", got, before)
	}
	acme := demoScope(t, e, "acme-health")
	alertsBefore, err := e.alerts.List(ctx, acme, alerts.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}

	// Someone disabled the client admin meanwhile: the demo hands out only logins that work.
	if _, err := e.identity.SetClientDisabled(ctx, acme, "it@acme-health.example", true); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	second := cli(t, "demo", "--logins", path)
	secondTook := time.Since(start)
	expect(t, second, 0, "acme-health already exists; its data is kept", path)
	t.Logf("demo took %s on an empty database, %s again", firstTook.Round(time.Millisecond), secondTook.Round(time.Millisecond))
	after := demoLogins(t, readLogins(t, path))
	for email, pw := range after {
		if before[email] == pw {
			t.Errorf("%s kept its password across runs", email)
		}
	}

	// Idempotent: nothing new in the clients.
	alertsAfter, err := e.alerts.List(ctx, acme, alerts.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(alertsAfter) != len(alertsBefore) {
		t.Errorf("%d alerts after the second run, %d after the first", len(alertsAfter), len(alertsBefore))
	}
	list, err := e.tenants.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	demo := 0
	for _, tn := range list {
		if slices.Contains([]string{"acme-health", "borealis-logistics", "cedar-legal"}, tn.Slug) {
			demo++
		}
	}
	if demo != 3 {
		t.Errorf("%d demo clients, want 3", demo)
	}

	// The logins of the last run work; the earlier ones do not.
	portal := newHostClient(t, ts.URL, "acme-health.localhost")
	if status := portal.login("it@acme-health.example", before["it@acme-health.example"]); status == http.StatusSeeOther {
		t.Error("the first run's client password still works")
	}
	portal = newHostClient(t, ts.URL, "acme-health.localhost")
	if status := portal.login("it@acme-health.example", after["it@acme-health.example"]); status != http.StatusSeeOther {
		t.Fatalf("client admin login with the written password: %d", status)
	}
	if _, home := portal.get("/"); !strings.Contains(home, "Acme Health") || !regexp.MustCompile(`\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2} [AP]M E[SD]T`).MatchString(home) {
		t.Errorf("Acme Health's portal home lacks its name or US dates in New York time:\n%s", home)
	}
	if status := newClient(t, ts.URL).login("owner@switchboard.example", after["owner@switchboard.example"]); status != http.StatusSeeOther {
		t.Errorf("staff owner login with the written password: %d", status)
	}

	checkDemoContent(t, e, acme)

	expect(t, cli(t, "demo", "--help"), 0, "Existing data: a demo client that exists is not seeded again",
		"passwords of the demo logins", "their sessions end", "mode 0600")

	// A later run tops the online endpoints' history up to its time.
	fs01 := demoSamples(t, e, acme, "acme-fs01")
	later := time.Now().Add(2 * time.Hour)
	if err := runDemo(ctx, e, io.Discard, path, func() time.Time { return later }); err != nil {
		t.Fatal(err)
	}
	if got := demoSamples(t, e, acme, "acme-fs01"); got != fs01+4 {
		t.Errorf("acme-fs01 has %d samples after a run 2 h later, want %d + 4", got, fs01)
	}
}

// checkDemoContent looks at what makes the demo worth evaluating.
func checkDemoContent(t *testing.T, e *env, acme tenancy.Tenant) {
	t.Helper()
	ctx := context.Background()
	eps, err := e.agents.ListEndpoints(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	status := map[string]string{}
	for _, ep := range eps {
		status[ep.Hostname] = ep.Status
		hist, err := e.agents.History(ctx, acme, ep.ID, time.Now().Add(-25*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) < 40 || hist[len(hist)-1].At.Sub(hist[0].At) < 20*time.Hour {
			t.Errorf("%s has %d samples, want a day's worth", ep.Hostname, len(hist))
		}
	}
	want := map[string]string{"acme-fs01": "online", "acme-app02": "online", "acme-vpn": "online", "acme-ws07": "offline"}
	if !maps.Equal(status, want) {
		t.Errorf("endpoints %v, want %v", status, want)
	}
	rep, err := e.reports.Current(ctx, acme, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Breaches) == 0 || len(rep.Overdue) == 0 {
		t.Errorf("this month's SLA report has %d breaches, %d overdue; want the unanswered critical alert", len(rep.Breaches), len(rep.Overdue))
	}
	// Two weeks of history: resolved alerts on earlier days, and the home's
	// counters of this month agreeing with the report.
	history, err := e.alerts.List(ctx, acme, alerts.Filter{Status: "resolved", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	days := map[string]bool{}
	for _, a := range history {
		days[a.FirstSeenAt.UTC().Format(time.DateOnly)] = true
	}
	if len(days) < 5 {
		t.Errorf("resolved alerts on %d days, want a fortnight's history", len(days))
	}
	sums, err := e.tenants.Summaries(ctx, []int64{acme.ID})
	if err != nil || len(sums) != 1 {
		t.Fatal(sums, err)
	}
	if s := sums[0]; s.SLAResponseDecided != rep.Response.Decided || s.SLAResponseMet != rep.Response.Met || s.SLAResponseDecided == 0 {
		t.Errorf("home counters %d of %d answered in time, report %d of %d", s.SLAResponseMet, s.SLAResponseDecided, rep.Response.Met, rep.Response.Decided)
	}
	list, err := e.alerts.List(ctx, acme, alerts.Filter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	shared := false
	for _, a := range list {
		if a.Rule != "backup-failed" {
			continue
		}
		_, events, err := e.alerts.Get(ctx, acme, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range events {
			shared = shared || (ev.Kind == "note" && ev.ClientVisible)
		}
	}
	if !shared {
		t.Error("no alert has a note shared with the client")
	}
	eff, err := e.policies.EffectiveNow(ctx, acme)
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]string{}
	for _, it := range eff.Items {
		origins[it.Key] = it.Origin
	}
	if origins["disk-full"] != policies.OriginLocked || origins["cpu-high"] != policies.OriginOverridden {
		t.Errorf("origins %v, want disk-full locked and cpu-high overridden", origins)
	}
}

func demoScope(t *testing.T, e *env, slug string) tenancy.Tenant {
	t.Helper()
	tn, err := e.tenants.Get(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	return e.tenants.Scope(tn)
}

func demoSamples(t *testing.T, e *env, tn tenancy.Tenant, host string) int {
	t.Helper()
	eps, err := e.agents.ListEndpoints(context.Background(), tn)
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range eps {
		if ep.Hostname == host {
			hist, err := e.agents.History(context.Background(), tn, ep.ID, time.Now().Add(-48*time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return len(hist)
		}
	}
	t.Fatalf("no endpoint %s", host)
	return 0
}

// readLogins reads the logins file and checks only its owner may read it.
func readLogins(t *testing.T, path string) string {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
