package slas

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestBreachFiresOnTime: with 100 tenants present, a critical alert whose
// 4-second response target runs out gets its warning and its breach recorded
// once, within a few seconds of the moment, by scheduled jobs; an alert
// acknowledged in time gets neither.
func TestBreachFiresOnTime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	sla := &policies.SLA{Targets: map[string]policies.SLATarget{
		"critical": {Acknowledge: 4 * time.Second, Resolve: time.Hour},
		"warning":  {Acknowledge: time.Hour, Resolve: 8 * time.Hour},
		"info":     {Acknowledge: time.Hour, Resolve: 8 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.5}
	if err := pol.SetGlobal(ctx, policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: sla}, false); err != nil {
		t.Fatal(err)
	}
	var scopes []tenancy.Tenant
	for i := 0; i < 100; i++ {
		scopes = append(scopes, ts.Scope(tenantstest.Create(t, ts, "brc")))
	}

	al := alerts.NewService(pol, Panel(pol))
	esc := startPipeline(t, c, ts, pol, al).esc

	type watched struct {
		t       tenancy.Tenant
		id      int64
		created time.Time
	}
	var late, onTime []watched
	for i, tn := range []tenancy.Tenant{scopes[3], scopes[41], scopes[77], scopes[99]} {
		out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "test", Rule: "ups", Severity: "critical", Summary: "UPS on battery"}})
		if err != nil {
			t.Fatal(err)
		}
		w := watched{tn, out[0].AlertID, time.Now()}
		if i%2 == 0 {
			late = append(late, w)
		} else {
			onTime = append(onTime, w)
			if _, err := al.Transition(ctx, tn, []int64{w.id}, alerts.ActionAcknowledge); err != nil {
				t.Fatal(err)
			}
		}
	}

	deadline := time.Now().Add(20 * time.Second)
	for _, w := range late {
		var breachAt time.Time
		for breachAt.IsZero() {
			if time.Now().After(deadline) {
				t.Fatalf("no breach recorded for alert %d of %s", w.id, w.t.Slug)
			}
			time.Sleep(100 * time.Millisecond)
			_, events, err := al.Get(ctx, w.t, w.id)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events {
				if e.Kind == "sla_breach" && strings.HasPrefix(e.Body, "response ") {
					breachAt = e.At
				}
			}
		}
		_, events, _ := al.Get(ctx, w.t, w.id)
		lateBy := breachAt.Sub(events[0].At.Add(4 * time.Second)) // from the recorded creation
		if events[0].Kind != "created" {
			t.Fatalf("first event %q", events[0].Kind)
		}
		t.Logf("%s: breach recorded %v after the deadline", w.t.Slug, lateBy.Round(10*time.Millisecond))
		if lateBy < 0 || lateBy > 7*time.Second {
			t.Errorf("%s: breach %v after the deadline, want within a few seconds", w.t.Slug, lateBy)
		}
	}
	time.Sleep(time.Second) // let any duplicate or stray job run
	for _, w := range late {
		_, events, _ := al.Get(ctx, w.t, w.id)
		counts := map[string]int{}
		for _, e := range events {
			counts[e.Kind]++
		}
		if counts["sla_breach"] != 1 || counts["sla_warning"] != 1 {
			t.Errorf("%s: warning and breach must be recorded once each: %v", w.t.Slug, counts)
		}
		got := strings.Join(esc.of(w.t, w.id), ",")
		if got != "sla warning: response,sla breach: response" {
			t.Errorf("%s: escalations %q", w.t.Slug, got)
		}
	}
	for _, w := range onTime {
		_, events, _ := al.Get(ctx, w.t, w.id)
		for _, e := range events {
			if strings.HasPrefix(e.Kind, "sla_") && strings.HasPrefix(e.Body, "response") {
				t.Errorf("%s: an alert acknowledged in time got %s", w.t.Slug, e.Kind)
			}
		}
	}
}

// TestTargetChangeReschedules: an alert opened under a one-hour response
// target breaches within seconds once the target is cut to 3 seconds: the
// SLA change reschedules the open alerts' deadline jobs.
func TestTargetChangeReschedules(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	setTarget := func(ack time.Duration) {
		t.Helper()
		sla := &policies.SLA{Targets: map[string]policies.SLATarget{
			"critical": {Acknowledge: ack, Resolve: 2 * time.Hour},
			"warning":  {Acknowledge: time.Hour, Resolve: 8 * time.Hour},
			"info":     {Acknowledge: time.Hour, Resolve: 8 * time.Hour}},
			Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.9}
		if err := pol.SetGlobal(ctx, policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: sla}, false); err != nil {
			t.Fatal(err)
		}
	}
	setTarget(time.Hour)
	tn := ts.Scope(tenantstest.Create(t, ts, "resched"))
	al := alerts.NewService(pol, Panel(pol))
	startPipeline(t, c, ts, pol, al)

	out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: "r", Severity: "critical"}})
	if err != nil {
		t.Fatal(err)
	}
	setTarget(3 * time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, events, _ := al.Get(ctx, tn, out[0].AlertID)
		for _, e := range events {
			if e.Kind == "sla_breach" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the shortened target never produced a breach")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
