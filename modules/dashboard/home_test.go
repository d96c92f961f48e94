package dashboard

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
	"switchboard/platform/web"
	"switchboard/templates"
)

// The home lists one page of clients; a page past the end is the last one.
func TestPageOf(t *testing.T) {
	cases := []struct {
		name, param string
		n           int
		want        homePage
	}{
		{"no clients", "", 0, homePage{Number: 1, Pages: 1, From: 0, To: 0, First: 1}},
		{"one page", "", 150, homePage{Number: 1, Pages: 1, From: 0, To: 150, First: 1}},
		{"first of many", "", 10000, homePage{Number: 1, Pages: 50, From: 0, To: 200, First: 1, Next: 2}},
		{"middle", "7", 10000, homePage{Number: 7, Pages: 50, From: 1200, To: 1400, First: 1201, Prev: 6, Next: 8}},
		{"last, short", "3", 450, homePage{Number: 3, Pages: 3, From: 400, To: 450, First: 401, Prev: 2}},
		{"past the end", "99", 450, homePage{Number: 3, Pages: 3, From: 400, To: 450, First: 401, Prev: 2}},
		{"not a number", "x", 450, homePage{Number: 1, Pages: 3, From: 0, To: 200, First: 1, Next: 2}},
		{"negative", "-2", 450, homePage{Number: 1, Pages: 3, From: 0, To: 200, First: 1, Next: 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pageOf(tc.param, tc.n); got != tc.want {
				t.Fatalf("pageOf(%q, %d) = %+v, want %+v", tc.param, tc.n, got, tc.want)
			}
		})
	}
}

// ?sort= and ?mine= take only the values the page offers; anything else is
// refused with the ones allowed (400), not shown as the default.
func TestQueueViewOf(t *testing.T) {
	cases := []struct {
		sort, mine string
		want       queueView
		bad        string
	}{
		{"", "", queueView{Sort: SortUrgency}, ""},
		{"age", "1", queueView{Sort: SortAge, Mine: true}, ""},
		{"breach", "0", queueView{Sort: SortBreach}, ""},
		{"client", "", queueView{Sort: SortClient}, ""},
		{"name", "", queueView{}, "sort by urgency, age, breach or client"},
		{"", "yes", queueView{}, "mine is 1"},
	}
	for _, tc := range cases {
		t.Run(tc.sort+"/"+tc.mine, func(t *testing.T) {
			v, err := queueViewOf(tc.sort, tc.mine)
			if tc.bad != "" {
				var he *echo.HTTPError
				if !errors.As(err, &he) || he.Code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(he.Message), tc.bad) {
					t.Fatalf("want 400 saying %q, got %v", tc.bad, err)
				}
				return
			}
			if err != nil || v.Sort != tc.want.Sort || v.Mine != tc.want.Mine {
				t.Fatalf("got %+v %v, want %+v", v, err, tc.want)
			}
		})
	}
}

// The queue's links keep the other choices and the page of clients, and
// leave the defaults out.
func TestHomeURL(t *testing.T) {
	cases := []struct {
		sort string
		mine bool
		page int
		want string
	}{
		{SortUrgency, false, 1, "/"},
		{"", false, 1, "/"},
		{SortAge, false, 1, "/?sort=age"},
		{SortUrgency, true, 1, "/?mine=1"},
		{SortBreach, true, 3, "/?mine=1&page=3&sort=breach"},
		{SortClient, false, 0, ""},
	}
	for _, tc := range cases {
		if got := homeURL(tc.sort, tc.mine, tc.page); got != tc.want {
			t.Errorf("homeURL(%q, %v, %d) = %q, want %q", tc.sort, tc.mine, tc.page, got, tc.want)
		}
	}
}

// The home renders the queue as a person reads it: age, time to breach in
// words with its colour, the assignee or "unassigned", waiting on the
// client, the sort links with the current one marked, and the chart's
// numbers in its label.
func TestHomeRendersWorkQueue(t *testing.T) {
	r, err := web.NewRenderer(templates.FS, nil, "console/*.html")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	view, _ := queueViewOf("breach", "")
	view.link(1)
	view.Read, view.Reach = 2, queueSize
	queue := []QueueItem{
		{TenantSlug: "acme", TenantName: "Acme", Alert: alerts.Alert{ID: 7, Severity: "warning", Status: "firing", Summary: "Disk full", FirstSeenAt: now.Add(-125 * time.Minute), LastSeenAt: now},
			Age: 125 * time.Minute, Due: Due{State: DueBreached, Clock: "response", Target: time.Hour, Over: 12 * time.Minute}},
		{TenantSlug: "bore", TenantName: "Borealis", Alert: alerts.Alert{ID: 9, Severity: "critical", Status: "acknowledged", Summary: "Backup late", Assignee: "tech@msp.example", FirstSeenAt: now, LastSeenAt: now},
			Age: 5 * time.Minute, Waiting: true, Due: Due{State: DueNone, Reason: "this client has no SLA"}},
	}
	days := make([]tenants.OpenAlertDay, homeTrendDays)
	today := tenants.Day(now)
	for i := range days {
		days[i] = tenants.OpenAlertDay{Day: today.AddDate(0, 0, i-homeTrendDays+1), Critical: i, Recorded: i != 3}
	}
	data := map[string]any{"Tenants": []tenants.Summary{}, "Total": 2, "Page": homePage{Number: 1, Pages: 1},
		"Counts": map[string]int{"critical": 1, "warning": 1}, "Queue": queue, "Busy": true, "View": view,
		"Trend": openTrend(days, today, 1, 1), "Mine": false}
	var out bytes.Buffer
	if err := r.Render(&out, "console/home.html", web.Page{Title: "Clients", Chrome: web.Chrome{User: "o@msp.example", Role: "owner"}, Data: data}, nil); err != nil {
		t.Fatal(err)
	}
	body := out.String()
	for _, want := range []string{
		"2 h 5 min", `class="due due-breached"`, "breached 12 min ago", "Response target of 1 h missed by 12 min",
		`class="due due-none"`, "No SLA deadline: this client has no SLA", ">unassigned<", "tech@msp.example", "waiting on client",
		`aria-sort="ascending"><a href="/?sort=breach#queue">Time to breach`, `href="/?sort=age#queue">Age`, `href="/?mine=1&amp;sort=breach#queue"`,
		"today 2", "no record", "Open alerts, last 14 days", "1 day without a record",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
}
