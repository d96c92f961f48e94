package slas

import (
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

func TestCompute(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	at := func(day, hour, min int) time.Time { return time.Date(2026, 11, day, hour, min, 0, 0, berlin) } // 27 Nov 2026 is a Friday
	ev := func(kind string, when time.Time) alerts.Event { return alerts.Event{Kind: kind, At: when} }
	targets := map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
		"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}}
	always := policies.SLA{Targets: targets, Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}
	office := always
	office.Calendar = policies.SLACalendar{Zone: "Europe/Berlin", Hours: []string{"Mon 09:00-17:00", "Tue 09:00-17:00", "Wed 09:00-17:00", "Thu 09:00-17:00", "Fri 09:00-17:00"}}

	cases := []struct {
		name   string
		sla    policies.SLA
		events []alerts.Event
		now    time.Time
		check  func(t *testing.T, s State)
	}{
		{"24x7, running", always, []alerts.Event{ev("created", at(27, 10, 0))}, at(27, 10, 10), func(t *testing.T, s State) {
			if s.Response.Used != 10*time.Minute || !s.Response.Deadline.Equal(at(27, 10, 15)) || !s.Response.Running || s.Response.Breached {
				t.Fatalf("%+v", s.Response)
			}
			if !s.Resolution.Deadline.Equal(at(27, 14, 0)) {
				t.Fatalf("resolution deadline %v", s.Resolution.Deadline)
			}
		}},
		{"acknowledged in time", always, []alerts.Event{ev("created", at(27, 10, 0)), ev("acknowledged", at(27, 10, 12))}, at(27, 11, 0), func(t *testing.T, s State) {
			if !s.Response.Stopped || !s.Response.Met || s.Response.Used != 12*time.Minute || s.Resolution.Stopped {
				t.Fatalf("%+v", s)
			}
		}},
		{"acknowledged late", always, []alerts.Event{ev("created", at(27, 10, 0)), ev("acknowledged", at(27, 10, 16))}, at(27, 11, 0), func(t *testing.T, s State) {
			if s.Response.Met || !s.Response.Breached {
				t.Fatalf("%+v", s.Response)
			}
		}},
		// 10:00 → 14:30 is 4h30 of which 1h waiting on the client: 3h30 used of 4h.
		{"pause moves the deadline", always, []alerts.Event{ev("created", at(27, 10, 0)), ev("acknowledged", at(27, 10, 5)),
			ev("waiting", at(27, 10, 20)), ev("resumed", at(27, 11, 20)), ev("resolved", at(27, 14, 30))}, at(27, 15, 0), func(t *testing.T, s State) {
			if s.Resolution.Used != 3*time.Hour+30*time.Minute || s.Resolution.Paused != time.Hour || !s.Resolution.Met {
				t.Fatalf("%+v", s.Resolution)
			}
			if s.Response.Paused != 0 {
				t.Fatalf("the pause came after the acknowledgement: %+v", s.Response)
			}
		}},
		{"still waiting", always, []alerts.Event{ev("created", at(27, 10, 0)), ev("waiting", at(27, 10, 10))}, at(27, 12, 10), func(t *testing.T, s State) {
			if !s.Waiting || s.Response.Running || s.Response.Used != 10*time.Minute || s.Response.Paused != 2*time.Hour {
				t.Fatalf("%+v", s)
			}
			if !s.Response.Deadline.Equal(at(27, 12, 15)) {
				t.Fatalf("deadline if work resumed now: %v", s.Response.Deadline)
			}
		}},
		// Office hours: Friday 16:00 → Monday 10:00 is 1h + 1h of business time.
		{"office hours over a weekend", office, []alerts.Event{ev("created", at(27, 16, 0))}, at(30, 10, 0), func(t *testing.T, s State) {
			if s.Resolution.Used != 2*time.Hour || !s.Resolution.Deadline.Equal(at(30, 12, 0)) {
				t.Fatalf("%+v", s.Resolution)
			}
			if !s.Response.Breached {
				t.Fatalf("15 minutes to acknowledge ran out on Friday: %+v", s.Response)
			}
		}},
		// A pause from Friday 16:30 to Monday 09:30 is 30 + 30 minutes of business time.
		{"pause over a weekend", office, []alerts.Event{ev("created", at(27, 16, 0)), ev("acknowledged", at(27, 16, 5)),
			ev("waiting", at(27, 16, 30)), ev("resumed", at(30, 9, 30))}, at(30, 10, 0), func(t *testing.T, s State) {
			if s.Resolution.Paused != time.Hour || s.Resolution.Used != time.Hour {
				t.Fatalf("%+v", s.Resolution)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Compute(tc.events, "critical", tc.sla, tc.now)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
	if _, err := Compute(nil, "urgent", always, at(27, 10, 0)); err == nil {
		t.Fatal("an unknown severity must be an error")
	}
}
