package policies

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func officeSLA(owner string) *SLA {
	return &SLA{
		Targets: map[string]SLATarget{
			"critical": {Acknowledge: 30 * time.Minute, Resolve: 4 * time.Hour},
			"warning":  {Acknowledge: 2 * time.Hour, Resolve: 8 * time.Hour},
			"info":     {Acknowledge: 8 * time.Hour, Resolve: 40 * time.Hour},
		},
		Calendar:   SLACalendar{Zone: "Europe/Berlin", Hours: []string{"Mon 09:00-17:00", "Tue 09:00-17:00", "Wed 09:00-17:00", "Thu 09:00-17:00", "Fri 09:00-17:00"}, Holidays: []string{"2026-12-25"}},
		ClockOwner: owner,
		WarnAt:     0.75,
	}
}

func TestSLAChecks(t *testing.T) {
	good := officeSLA("client")
	cases := []struct {
		name   string
		mutate func(*SLA)
		ok     bool
		says   string // a part of the refusal's words
	}{
		{"good", func(*SLA) {}, true, ""},
		{"24x7", func(s *SLA) { s.Calendar = SLACalendar{AlwaysOpen: true} }, true, ""},
		{"missing severity", func(s *SLA) { delete(s.Targets, "info") }, false, "info has none"},
		{"resolve before acknowledge", func(s *SLA) { s.Targets["critical"] = SLATarget{Acknowledge: time.Hour, Resolve: time.Minute} }, false, "no shorter"},
		{"unknown zone", func(s *SLA) { s.Calendar.Zone = "Mars/Olympus" }, false, ""},
		{"bad hours", func(s *SLA) { s.Calendar.Hours = []string{"Funday 09:00-17:00"} }, false, ""},
		{"no hours", func(s *SLA) { s.Calendar.Hours = nil }, false, ""},
		{"bad holiday", func(s *SLA) { s.Calendar.Holidays = []string{"25.12.2026"} }, false, ""},
		{"bad owner", func(s *SLA) { s.ClockOwner = "nobody" }, false, ""},
		{"warn at 1", func(s *SLA) { s.WarnAt = 1 }, false, ""},
	}
	for _, tc := range cases {
		s := *good
		s.Targets = map[string]SLATarget{}
		for k, v := range good.Targets {
			s.Targets[k] = v
		}
		tc.mutate(&s)
		err := Item{Key: "sla-x", Kind: KindSLA, SLA: &s}.Check()
		if (err == nil) != tc.ok || (err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.says))) {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
	// The calendar really computes business time: Friday 16:30 + 1h = Monday 09:30 in Berlin.
	cal, err := good.Calendar.Build()
	if err != nil {
		t.Fatal(err)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	got, err := cal.Add(time.Date(2026, 11, 27, 16, 30, 0, 0, berlin), time.Hour)
	if err != nil || !got.Equal(time.Date(2026, 11, 30, 9, 30, 0, 0, berlin)) {
		t.Fatalf("Friday 16:30 + 1h business = %v (%v), want Monday 09:30", got, err)
	}
}

func TestEffectiveSLA(t *testing.T) {
	s, newTenant := setup(t)
	ctx := context.Background()
	a, b, c := newTenant(), newTenant(), newTenant()

	sla, origin, ok := mustEffective(t, s, a).SLA()
	if !ok || origin != OriginGlobal || !sla.Calendar.AlwaysOpen || sla.Targets["critical"].Acknowledge != 15*time.Minute {
		t.Fatalf("baseline SLA: %+v %s %v", sla, origin, ok)
	}
	// B keeps its own office calendar; C changes targets but the MSP's
	// calendar (24×7) runs its clock.
	if err := s.Override(ctx, b, "sla-default", nil, &Item{SLA: officeSLA("client")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Override(ctx, c, "sla-default", nil, &Item{SLA: officeSLA("msp")}); err != nil {
		t.Fatal(err)
	}
	sb, ob, _ := mustEffective(t, s, b).SLA()
	if ob != OriginOverridden || sb.Calendar.AlwaysOpen || sb.Calendar.Zone != "Europe/Berlin" || sb.Targets["critical"].Acknowledge != 30*time.Minute {
		t.Fatalf("B: %+v %s", sb, ob)
	}
	sc, _, _ := mustEffective(t, s, c).SLA()
	if !sc.Calendar.AlwaysOpen || sc.Targets["critical"].Acknowledge != 30*time.Minute {
		t.Fatalf("C runs on the MSP's calendar with its own targets: %+v", sc)
	}
	if err := s.Override(ctx, a, "sla-default", nil, &Item{SLA: &SLA{ClockOwner: "client"}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("an incomplete SLA override must be refused: %v", err)
	}
}
