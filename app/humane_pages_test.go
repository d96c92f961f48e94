package main

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// goDuration matches Go's own duration text ("24m42.293750642s", "1m0s",
// "4h0m0s") and long fractions of a second; rfc3339 matches timestamps as
// Go and JSON print them. Neither belongs on a page a person reads.
var (
	goDuration = regexp.MustCompile(`\b\d+h\d+m|\b\d+m\d+(\.\d+)?s\b|\b\d+(\.\d+)?(h|m|s|ms|µs|ns)\b`)
	rfc3339    = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}`)
	// rawIdentifier matches status and role identifiers the code uses,
	// which a page must show as words.
	rawIdentifier = regexp.MustCompile(`\b(client_admin|client_user|notify_failed|notify_sent|sla_breached)\b`)
	// A reader never sees scripts, styles and the tags themselves; titles
	// and ARIA labels are read out, so they are kept.
	// Preformatted blocks are machine documents shown as sent (a webhook's
	// payload bytes), not sentences, so they are skipped too.
	pageScripts = regexp.MustCompile(`(?is)<(script|style|pre)\b.*?</(script|style|pre)>`)
	pageLabels  = regexp.MustCompile(`(?i)\b(?:title|aria-label)="([^"]*)"`)
	pageTags    = regexp.MustCompile(`(?s)<[^>]*>`)
	// barSVG is every SLA bar's opening tag.
	barSVG = regexp.MustCompile(`<svg[^>]*class="bar"[^>]*>`)
)

// pageText is what a person reads of a page: its text, and the titles and
// labels that tooltips and screen readers say.
func pageText(body string) string {
	body = pageScripts.ReplaceAllString(body, " ")
	var labels []string
	for _, m := range pageLabels.FindAllStringSubmatch(body, -1) {
		labels = append(labels, m[1])
	}
	text := pageTags.ReplaceAllString(body, " ")
	return html.UnescapeString(text + " " + strings.Join(labels, " "))
}

// humaneClient is a portal client whose settings name a time zone, with an
// SLA of its own, an alert overdue since last month, an acknowledged alert,
// a failed notification on its timeline and an endpoint up for an hour.
type humaneClient struct {
	portalTenant
	overdue, acked int64
	endpointID     int64
	zone           *time.Location
}

func seedHumaneClient(t *testing.T, e *env, prefix string) humaneClient {
	t.Helper()
	ctx := context.Background()
	h := humaneClient{portalTenant: seedPortalTenant(t, e, prefix)}
	tn := h.tenant
	var err error
	if h.zone, err = time.LoadLocation("America/New_York"); err != nil {
		t.Fatal(err)
	}
	if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE settings SET value = 'America/New_York' WHERE key = 'timezone'`).Error
	}); err != nil {
		t.Fatal(err)
	}
	// An SLA of the client's own (a baseline would change other tests' clients).
	if err := e.policies.SetTenantItem(ctx, tn, policies.Item{Key: "sla-humane", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}); err != nil {
		t.Fatal(err)
	}
	// Thresholds of the client's own: one at once, one after 90 s.
	for key, wait := range map[string]time.Duration{"humane-now": 0, "humane-later": 90 * time.Second} {
		if err := e.policies.SetTenantItem(ctx, tn, policies.Item{Key: key, Kind: policies.KindThreshold, Enabled: true,
			Threshold: &policies.Threshold{Metric: "memory_percent", Operator: ">", Value: 99, For: wait, Severity: "critical"}}); err != nil {
			t.Fatal(err)
		}
	}
	out, err := e.alerts.Ingest(ctx, tn, []alerts.Signal{
		{Source: "test", Rule: "backup-late", Severity: "critical", Summary: "Backup overdue since last month"},
		{Source: "test", Rule: "disk", Severity: "warning", Summary: "Disk filling"},
	})
	if err != nil {
		t.Fatal(err)
	}
	h.overdue, h.acked = out[0].AlertID, out[1].AlertID
	// The overdue alert was opened 40 days ago: in an earlier month, so the
	// monthly report of this month does not hold it.
	if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE alerts SET first_seen_at = first_seen_at - interval '40 days', last_seen_at = last_seen_at - interval '40 days' WHERE id = ?`, h.overdue).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE alert_events SET at = at - interval '40 days' WHERE alert_id = ?`, h.overdue).Error
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.alerts.Transition(ctx, tn, []int64{h.acked}, alerts.ActionAcknowledge); err != nil {
		t.Fatal(err)
	}
	if err := e.alerts.AddEvent(ctx, tn, h.alertID, "notify_failed", "notify", "channel oncall: no such channel; check the routing policy"); err != nil {
		t.Fatal(err)
	}
	eps, err := e.agents.ListEndpoints(ctx, tn)
	if err != nil || len(eps) == 0 {
		t.Fatalf("endpoints: %v %v", eps, err)
	}
	h.endpointID = eps[0].ID
	return h
}

// TestPagesShowNumbersForPeople walks every page of the console and the
// portal route tables (GET, as an owner and as the client's admin) and
// reads each as a person would: no Go-format duration and no RFC 3339
// timestamp in any page's text, every SLA bar stretched across its card.
// Then it checks the fixed items one by one.
func TestPagesShowNumbersForPeople(t *testing.T) {
	e, srv, ts := testServer(t)
	h := seedHumaneClient(t, e, "hu")
	owner := signedInOwner(t, e, ts.URL, "hu-owner@msp.example")
	admin := newHostClient(t, ts.URL, h.host)
	if status := admin.login(h.admin, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("client admin login: %d", status)
	}
	samples := map[string]string{":slug": h.tenant.Slug, ":id": itoa(h.alertID), ":email": h.user, ":key": "sla-humane",
		":name": "seed", ":prefix": "sbk_nope", ":host": h.host, ":file": "logo.svg", "*": "app.css"}
	pages := map[string]string{} // "console /t/x/alerts/3" → body

	for _, s := range []struct {
		name string
		echo *echo.Echo
		c    *client
	}{{"console", srv.console, owner}, {"portal", srv.portal, admin}} {
		for _, rt := range s.echo.Routes() {
			if rt.Method != http.MethodGet || strings.HasPrefix(rt.Path, "/api/") {
				continue
			}
			path := pathParam.ReplaceAllStringFunc(rt.Path, func(name string) string { return url.PathEscape(samples[name]) })
			if strings.Contains(rt.Path, "/endpoints/:id") {
				path = strings.Replace(rt.Path, ":slug", h.tenant.Slug, 1)
				path = strings.Replace(path, ":id", itoa(h.endpointID), 1)
			}
			status, body := s.c.get(path)
			if status >= http.StatusInternalServerError {
				t.Errorf("%s %s: %d", s.name, path, status)
			}
			if status != http.StatusOK || !strings.Contains(body, "<html") {
				continue // a redirect, a file, or a page this sample cannot open
			}
			pages[s.name+" "+path] = body
			text := pageText(body)
			if m := goDuration.FindAllString(text, 3); m != nil {
				t.Errorf("%s %s shows Go-format durations %q", s.name, path, m)
			}
			if m := rfc3339.FindAllString(text, 3); m != nil {
				t.Errorf("%s %s shows RFC 3339 timestamps %q", s.name, path, m)
			}
			if m := rawIdentifier.FindAllString(text, 3); m != nil {
				t.Errorf("%s %s shows identifiers instead of words %q", s.name, path, m)
			}
			for _, svg := range barSVG.FindAllString(body, -1) {
				if !strings.Contains(svg, `preserveAspectRatio="none"`) {
					t.Errorf("%s %s: SLA bar %s keeps its aspect ratio: a strip in the middle of its card", s.name, path, svg)
				}
			}
		}
	}
	page := func(t *testing.T, key string) string {
		t.Helper()
		body, ok := pages[key]
		if !ok {
			t.Fatalf("%s was not rendered by the walk", key)
		}
		return pageText(body)
	}
	slug := h.tenant.Slug
	if os.Getenv("HUMANE_DUMP") != "" {
		for k, v := range pages {
			t.Logf("== %s\n%s", k, strings.Join(strings.Fields(pageText(v)), " "))
		}
	}
	if len(pages) < 20 {
		t.Fatalf("only %d pages rendered; the walk lost its way", len(pages))
	}

	t.Run("portal times in the client's zone", func(t *testing.T) {
		text := page(t, "portal /alerts/"+itoa(h.alertID))
		abbr := time.Now().In(h.zone).Format("MST") // EST or EDT
		if !strings.Contains(text, " "+abbr) || strings.Contains(text, " UTC") {
			t.Errorf("portal alert page: want times in %s, not UTC:\n%s", abbr, text)
		}
	})
	t.Run("portal status words", func(t *testing.T) {
		text := page(t, "portal /alerts")
		for _, want := range []string{"Open", "Being worked on"} {
			if !strings.Contains(text, want) {
				t.Errorf("portal alerts: no %q", want)
			}
		}
		for _, raw := range []string{"firing", "acknowledged"} {
			if regexp.MustCompile(`\b` + raw + `\b`).MatchString(text) {
				t.Errorf("portal alerts show the status identifier %q", raw)
			}
		}
	})
	t.Run("notification states in words", func(t *testing.T) {
		text := page(t, "console /t/"+slug+"/alerts/"+itoa(h.alertID))
		if !strings.Contains(text, "Notification failed") || strings.Contains(text, "notify_failed") || strings.Contains(text, "by notify") {
			t.Errorf("console timeline: want \"Notification failed\", not notify_failed by notify:\n%s", text)
		}
	})
	t.Run("uptime in hours, not seconds", func(t *testing.T) {
		text := page(t, "console /t/"+slug+"/endpoints/"+itoa(h.endpointID))
		if !strings.Contains(text, "up 1 h") || strings.Contains(text, "3600 s") || !strings.Contains(text, "(1 check-in)") {
			t.Errorf("endpoint page: want \"up 1 h\" and \"1 check-in\":\n%s", text)
		}
	})
	t.Run("overdue alert is not 100 % in time", func(t *testing.T) {
		text := page(t, "portal /")
		if regexp.MustCompile(`100%\s+answered in time`).MatchString(text) {
			t.Errorf("portal home claims 100%% answered in time with a critical alert overdue:\n%s", text)
		}
		if !strings.Contains(text, "past its target") || !strings.Contains(text, "Backup overdue since last month") {
			t.Errorf("portal home does not name the overdue alert:\n%s", text)
		}
	})
	t.Run("this month's report agrees with the home", func(t *testing.T) {
		text := page(t, "portal /sla")
		if !strings.Contains(text, "Opened earlier, still open and past target") || !strings.Contains(text, "Backup overdue since last month") ||
			!strings.Contains(text, "1 of 2 met") {
			t.Errorf("portal report of this month does not count the overdue alert of last month as missed:\n%s", text)
		}
	})
	t.Run("a threshold without delay has no \"for 0 s\"", func(t *testing.T) {
		text := page(t, "console /t/"+slug+"/policy")
		if strings.Contains(text, "for 0 s") || !strings.Contains(text, "memory_percent > 99 → critical") ||
			!strings.Contains(text, "memory_percent > 99 for 1 min 30 s → critical") {
			t.Errorf("policy page:\n%s", text)
		}
	})
	t.Run("the home's Portal column names the client's domain", func(t *testing.T) {
		_, body := owner.get("/")
		row := regexp.MustCompile(`(?s)<tr>\s*<td><a href="/t/` + regexp.QuoteMeta(slug) + `/">.*?</tr>`).FindString(body)
		if !strings.Contains(row, h.host) {
			t.Errorf("the client's row on the home does not show its portal %s:\n%s", h.host, row)
		}
	})
	t.Run("nothing decided reads — with a reason", func(t *testing.T) {
		for _, c := range []struct {
			name string
			c    *client
			path string
		}{{"console", owner, "/t/" + slug + "/sla?month=2020-01"}, {"portal", admin, "/sla?month=2020-01"}} {
			status, body := c.c.get(c.path)
			text := pageText(body)
			if status != http.StatusOK || strings.Contains(text, "100%") || strings.Contains(text, "0 of 0") ||
				!strings.Contains(text, "—") || !strings.Contains(text, "no alert decided in this month") ||
				!strings.Contains(text, "0 alerts opened in January 2020") {
				t.Errorf("%s report of an empty month (%d):\n%s", c.name, status, text)
			}
		}
	})
	t.Run("SLA durations for people", func(t *testing.T) {
		status, body := owner.get("/t/" + slug + "/alerts/" + itoa(h.overdue))
		text := pageText(body)
		if status != http.StatusOK {
			t.Fatalf("overdue alert page: %d", status)
		}
		if !strings.Contains(text, "of 15 min") || !strings.Contains(text, "of 4 h") {
			t.Errorf("console alert SLA clocks: want targets as \"15 min\" and \"4 h\":\n%s", text)
		}
	})
}

// TestHomeCountsOneClient: a technician who sees one client reads "1
// client", not "1 clients".
func TestHomeCountsOneClient(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "one")
	const email, password = "one-tech@msp.example", "one-client-password"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: email, Role: "technician", Scope: "list",
		Tenants: []string{p.tenant.Slug}, Password: password}); err != nil {
		t.Fatal(err)
	}
	tech := newClient(t, ts.URL)
	if status := tech.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	tech.waitAllowed("/t/" + p.tenant.Slug + "/")
	status, body := tech.get("/")
	text := strings.Join(strings.Fields(pageText(body)), " ")
	if status != http.StatusOK || !strings.Contains(text, "1 client ") || strings.Contains(text, "1 clients") ||
		!strings.Contains(text, "1 critical alert ") {
		t.Errorf("home (%d) for one client with one critical alert:\n%s", status, text)
	}
}

// A staff user's console shows times in their own zone.
func TestConsoleTimesInTheStaffUsersZone(t *testing.T) {
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "zoned")
	owner := signedInOwner(t, e, ts.URL, "zoned-owner@msp.example")
	// The user sets it on their own settings page; a name that is not a
	// zone is refused with the reason and changes nothing.
	owner.get("/account/security")
	if status, body, _ := owner.do(http.MethodPost, "/account/security/time-zone", url.Values{"time_zone": {"Mars/Olympus"}}); status != http.StatusBadRequest || !strings.Contains(body, "is not a time zone") {
		t.Fatalf("bad zone: %d\n%.600s", status, pageText(body))
	}
	if status, _, hdr := owner.do(http.MethodPost, "/account/security/time-zone", url.Values{"time_zone": {"Asia/Kathmandu"}}); status != http.StatusSeeOther || hdr.Get("Location") != "/account/security" {
		t.Fatalf("set zone: %d %q", status, hdr.Get("Location"))
	}
	// Kathmandu's zone (+05:45) is named "+0545"; no other zone prints so.
	status, body := owner.get("/t/" + p.tenant.Slug + "/audit")
	if text := pageText(body); status != http.StatusOK || !strings.Contains(text, "+0545") || strings.Contains(text, " UTC") {
		t.Errorf("audit page (%d) of a staff user in Asia/Kathmandu:\n%s", status, strings.Join(strings.Fields(text), " "))
	}
}

// The client overview's recent activity is in the order things happened,
// not the order they were written (a seeded or imported entry is older
// than the client's creation but written after it).
func TestClientOverviewActivityByTime(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "bytime")
	if err := tenancy.Do(ctx, p.tenant, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO audit_log (at, actor, action, target, summary) VALUES (now() - interval '30 days', 'import', 'note.imported', 'x', 'kick-off meeting held')`).Error
	}); err != nil {
		t.Fatal(err)
	}
	owner := signedInOwner(t, e, ts.URL, "bytime-owner@msp.example")
	owner.waitAllowed("/t/" + p.tenant.Slug + "/")
	status, body := owner.get("/t/" + p.tenant.Slug + "/")
	created, imported := strings.Index(body, "provisioned as"), strings.Index(body, "kick-off meeting held")
	if status != http.StatusOK || created < 0 || imported < 0 || imported < created {
		t.Fatalf("overview (%d): the 30-day-old entry (at %d) must come after the client's creation (at %d), newest first", status, imported, created)
	}
}

// A maintenance window's start is entered on the viewer's clock, as every
// time they see: 09:00 in Kathmandu (UTC+05:45) is 03:15 UTC.
func TestMaintenanceStartsOnTheViewersClock(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "mwzone")
	owner := signedInOwner(t, e, ts.URL, "mwzone-owner@msp.example")
	owner.get("/account/security")
	if status, _, _ := owner.do(http.MethodPost, "/account/security/time-zone", url.Values{"time_zone": {"Asia/Kathmandu"}}); status != http.StatusSeeOther {
		t.Fatalf("set zone: %d", status)
	}
	path := "/t/" + p.tenant.Slug + "/policy"
	owner.waitAllowed(path)
	if _, body := owner.get(path); !strings.Contains(pageText(body), "Starts (Asia/Kathmandu)") {
		t.Fatalf("the form does not say which clock its start is on")
	}
	status, _, _ := owner.do(http.MethodPost, path+"/items", url.Values{"kind": {"maintenance"}, "key": {"patch-night"},
		"starts_at": {"2026-12-10T09:00"}, "duration": {"2h"}, "labels": {""}})
	if status != http.StatusSeeOther {
		t.Fatalf("add maintenance: %d", status)
	}
	var body string
	if err := tenancy.Do(ctx, p.tenant, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT body FROM policy_items WHERE key = 'patch-night'`).Scan(&body).Error
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(body, `"starts_at": "2026-12-10T03:15:00Z"`) && !strings.Contains(body, `"starts_at":"2026-12-10T03:15:00Z"`) {
		t.Fatalf("stored window %s, want it to start at 03:15 UTC", body)
	}
}

// signedInOwner creates a staff owner with the given e-mail address and
// returns a console client signed in as them.
func signedInOwner(t *testing.T, e *env, base, email string) *client {
	t.Helper()
	const password = "owner-password-for-pages"
	if _, _, err := e.identity.CreateStaff(context.Background(), identity.StaffInput{Email: email, Role: "owner", Password: password}); err != nil {
		t.Fatal(err)
	}
	owner := newClient(t, base)
	if status := owner.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("owner login: %d", status)
	}
	return owner
}
