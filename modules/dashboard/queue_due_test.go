package dashboard

import (
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

// The time-to-breach cell: ok, near (past the SLA's warning share), breached,
// paused while waiting on the client, the resolution clock once
// acknowledged, business hours, and "—" with the reason when there is
// nothing to measure against.
func TestDueStates(t *testing.T) {
	t0 := time.Date(2030, 3, 1, 16, 50, 0, 0, time.UTC) // a Friday
	ev := func(kind string, after time.Duration) alerts.Event {
		return alerts.Event{Kind: kind, At: t0.Add(after)}
	}
	targets := map[string]policies.SLATarget{
		"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
		"warning":  {Acknowledge: time.Hour, Resolve: 8 * time.Hour},
	}
	allDay := policies.SLA{Targets: targets, Calendar: policies.SLACalendar{AlwaysOpen: true}, WarnAt: 0.75}
	office := policies.SLA{Targets: targets, WarnAt: 0.75,
		Calendar: policies.SLACalendar{Zone: "UTC", Hours: []string{"Mon 09:00-17:00", "Tue 09:00-17:00", "Wed 09:00-17:00", "Thu 09:00-17:00", "Fri 09:00-17:00"}}}
	opened := []alerts.Event{ev("created", 0)}
	cases := []struct {
		name     string
		events   []alerts.Event
		severity string
		sla      policies.SLA
		noSLA    bool
		at       time.Duration // after t0
		state    string
		text     string
		title    string
	}{
		{"ok", opened, "critical", allDay, false, 5 * time.Minute, DueOK, "in 10 min", "Response target of 15 min: due in 10 min"},
		{"near: a quarter of the target left", opened, "critical", allDay, false, 12 * time.Minute, DueNear, "in 3 min", "nearly used up"},
		{"breached", opened, "critical", allDay, false, 27 * time.Minute, DueBreached, "breached 12 min ago", "Response target of 15 min missed by 12 min"},
		{"acknowledged: the resolution clock", []alerts.Event{ev("created", 0), ev("acknowledged", 5*time.Minute)}, "critical", allDay, false, time.Hour, DueOK, "in 3 h", "Resolution target of 4 h"},
		{"acknowledged late: resolution still ok", []alerts.Event{ev("created", 0), ev("acknowledged", time.Hour)}, "critical", allDay, false, 2 * time.Hour, DueOK, "in 2 h", "Resolution"},
		{"waiting on the client: paused", []alerts.Event{ev("created", 0), ev("waiting", 5*time.Minute)}, "warning", allDay, false, 3 * time.Hour, DueOK, "55 min left, paused", "paused while waiting on the client"},
		{"resumed: running again", []alerts.Event{ev("created", 0), ev("waiting", 5*time.Minute), ev("resumed", 2*time.Hour)}, "warning", allDay, false, 2*time.Hour + 50*time.Minute, DueNear, "in 5 min", "nearly used up"},
		{"business hours: due after the weekend", opened, "critical", office, false, 5 * time.Minute, DueOK, "in 2 d 16 h", "Response target of 15 min"},
		{"business hours: breached in business time", opened, "critical", office, false, 2*24*time.Hour + 16*time.Hour + 26*time.Minute, DueBreached, "breached 11 min ago", "of business time"},
		{"no SLA", opened, "critical", policies.SLA{}, true, time.Minute, DueNone, "—", "No SLA deadline: this client has no SLA"},
		{"no target for the severity", opened, "info", allDay, false, time.Minute, DueNone, "—", "no target for info alerts"},
		{"no opening on the timeline", nil, "critical", allDay, false, time.Minute, DueNone, "—", "no open SLA clock"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := dueOf(tc.events, tc.severity, tc.sla, !tc.noSLA, t0.Add(tc.at))
			if d.State != tc.state || d.Text() != tc.text || !strings.Contains(d.Title(), tc.title) {
				t.Errorf("state %q text %q title %q; want %q %q …%q…", d.State, d.Text(), d.Title(), tc.state, tc.text, tc.title)
			}
		})
	}
}

// Time to breach orders the furthest past its target first, then the least
// time left, and alerts without a clock last.
func TestDueCompare(t *testing.T) {
	list := []Due{
		{State: DueNone},
		{State: DueOK, Left: time.Hour},
		{State: DueBreached, Over: time.Minute},
		{State: DueNear, Left: 5 * time.Minute},
		{State: DueBreached, Over: time.Hour},
	}
	q := make([]QueueItem, len(list))
	for i, d := range list {
		q[i] = QueueItem{Due: d, TenantSlug: "x", Alert: alerts.Alert{ID: int64(i), Severity: "warning"}}
	}
	sortQueue(q, SortBreach)
	var got []int64
	for _, it := range q {
		got = append(got, it.Alert.ID)
	}
	if want := []int64{4, 2, 3, 1, 0}; !equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
