package slas

import (
	"context"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
)

// TestMonthlyReport: three alerts this month under a 24×7 SLA (critical:
// 15 min to acknowledge, 4 h to resolve). One acknowledged and resolved at
// once, one acknowledged at once and still open, one never acknowledged.
// An hour later the response clock has a decided outcome for all three
// (two met, one missed), the resolution clock for one (met).
func TestMonthlyReport(t *testing.T) {
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	// Other tests in this package change the baseline: set the one this test assumes.
	if err := pol.SetGlobal(ctx, policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}, false); err != nil {
		t.Fatal(err)
	}
	tn := ts.Scope(tenantstest.Create(t, ts, "rep"))
	al := alerts.NewService(pol, Panel(pol))
	var ids []int64
	for _, rule := range []string{"a", "b", "c"} {
		out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: rule, Severity: "critical"}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, out[0].AlertID)
	}
	if _, err := al.Transition(ctx, tn, ids[:2], alerts.ActionAcknowledge); err != nil {
		t.Fatal(err)
	}
	if _, err := al.Transition(ctx, tn, ids[:1], alerts.ActionResolve); err != nil {
		t.Fatal(err)
	}
	r := &Reports{alerts: al, policies: pol, now: func() time.Time { return time.Now().Add(time.Hour) }}
	rep, err := r.Month(ctx, tn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Alerts != 3 || rep.Origin != policies.OriginGlobal {
		t.Fatalf("report: %d alerts, origin %q", rep.Alerts, rep.Origin)
	}
	if rep.Response.Decided != 3 || rep.Response.Met != 2 || int(rep.Response.Percent()) != 66 {
		t.Fatalf("response: %+v (%.1f%%)", rep.Response, rep.Response.Percent())
	}
	if rep.Resolution.Decided != 1 || rep.Resolution.Met != 1 || rep.Resolution.Percent() != 100 {
		t.Fatalf("resolution: %+v", rep.Resolution)
	}
	if len(rep.Breaches) != 1 || rep.Breaches[0].Alert.ID != ids[2] {
		t.Fatalf("breaches: %+v", rep.Breaches)
	}
	if rep.Response.Median < 0 || rep.Response.Median > time.Minute {
		t.Fatalf("median response %v for alerts acknowledged at once", rep.Response.Median)
	}
	next, err := r.Month(ctx, tn, time.Now().AddDate(0, 1, 0))
	if err != nil || next.Alerts != 0 || next.Response.Percent() != 100 {
		t.Fatalf("next month: %+v %v", next, err)
	}
}

// TestRollupFollowsDecisions: acknowledging and resolving refresh the
// client's row in control.sla_rollups, which the cross-client table reads.
func TestRollupFollowsDecisions(t *testing.T) {
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	rec := tenantstest.Create(t, ts, "roll")
	other := tenantstest.Create(t, ts, "roll-other")
	tn := ts.Scope(rec)
	al := alerts.NewService(pol, Panel(pol))
	startPipeline(t, c, ts, pol, al)
	out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: "a", Severity: "critical"}, {Source: "t", Rule: "b", Severity: "critical"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := al.Transition(ctx, tn, []int64{out[0].AlertID}, alerts.ActionAcknowledge); err != nil {
		t.Fatal(err)
	}
	if _, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: "a", Severity: "critical", Status: "resolved"}}); err != nil {
		t.Fatal(err)
	}
	// The refresh follows from the outbox, debounced: wait for it.
	var s, o tenants.Summary
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sums, err := ts.Summaries(ctx, []int64{rec.ID, other.ID})
		if err != nil || len(sums) != 2 {
			t.Fatalf("%+v %v", sums, err)
		}
		s, o = sums[0], sums[1]
		if s.ID != rec.ID {
			s, o = o, s
		}
		if s.SLAResolutionDecided == 1 || time.Now().After(deadline) {
			break
		}
	}
	// The function takes the tenant from the caller's role: another client's row is untouched.
	if o.SLAAlerts != 0 || o.SLAResponseDecided != 0 {
		t.Fatalf("another client's rollup changed: %+v", o)
	}
	if s.SLAAlerts != 2 || s.SLAResponseDecided != 1 || s.SLAResponseMet != 1 || s.SLAResolutionDecided != 1 || s.SLAResolutionMet != 1 {
		t.Fatalf("rollup after an acknowledgement and a resolution: %+v", s)
	}
}

// TestCurrentCountsOverdueOpenAlerts: the client's home must not read "100 %
// answered in time" while an alert is overdue. An alert opened last month
// and still open past its target counts against no month of the monthly
// report, so Current counts it as missed and names it in Overdue; an alert
// of this month past its target is counted once, by the month's tally.
func TestCurrentCountsOverdueOpenAlerts(t *testing.T) {
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	// Other tests in this package change the baseline: set the one this test assumes.
	if err := pol.SetGlobal(ctx, policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}, false); err != nil {
		t.Fatal(err)
	}
	tn := ts.Scope(tenantstest.Create(t, ts, "cur"))
	al := alerts.NewService(pol, Panel(pol))
	out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: "late", Severity: "critical"}, {Source: "t", Rule: "done", Severity: "critical"}})
	if err != nil {
		t.Fatal(err)
	}
	late, done := out[0].AlertID, out[1].AlertID
	for _, action := range []alerts.Action{alerts.ActionAcknowledge, alerts.ActionResolve} {
		if _, err := al.Transition(ctx, tn, []int64{done}, action); err != nil {
			t.Fatal(err)
		}
	}
	overdue := func(rep Report) []int64 {
		var ids []int64
		for _, row := range rep.Overdue {
			ids = append(ids, row.Alert.ID)
		}
		return ids
	}

	t.Run("opened last month, still open: missed this month", func(t *testing.T) {
		next := time.Now().AddDate(0, 1, 0)
		r := &Reports{alerts: al, policies: pol, now: func() time.Time { return next }}
		month, err := r.Month(ctx, tn, next)
		if err != nil {
			t.Fatal(err)
		}
		if month.Response.Measured() || month.Resolution.Measured() {
			t.Fatalf("the monthly report measures alerts opened in the month: %+v", month)
		}
		cur, err := r.Current(ctx, tn, next)
		if err != nil {
			t.Fatal(err)
		}
		if !cur.Response.Measured() || cur.Response.Decided != 1 || cur.Response.Met != 0 || cur.Response.Percent() != 0 {
			t.Errorf("response now: %+v, want the overdue alert as the one miss", cur.Response)
		}
		if cur.Resolution.Decided != 1 || cur.Resolution.Met != 0 {
			t.Errorf("resolution now: %+v, want the overdue alert as the one miss", cur.Resolution)
		}
		if ids := overdue(cur); len(ids) != 1 || ids[0] != late {
			t.Errorf("overdue = %v, want [%d]", ids, late)
		}
		if len(cur.Carried) != 1 || cur.Carried[0].Alert.ID != late {
			t.Errorf("carried = %+v, want the alert of last month", cur.Carried)
		}
	})

	t.Run("opened this month: counted once", func(t *testing.T) {
		// The clocks are read an hour on; the month is the alerts' own.
		r := &Reports{alerts: al, policies: pol, now: func() time.Time { return time.Now().Add(time.Hour) }}
		cur, err := r.Current(ctx, tn, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if cur.Response.Decided != 2 || cur.Response.Met != 1 {
			t.Errorf("response: %+v, want one met (done) and one missed (late)", cur.Response)
		}
		if ids := overdue(cur); len(ids) != 1 || ids[0] != late {
			t.Errorf("overdue = %v, want [%d]", ids, late)
		}
		if len(cur.Carried) != 0 {
			t.Errorf("carried = %+v, want none: this month's overdue alert is among the breaches", cur.Carried)
		}
		if cur.Response.Timed != 1 {
			t.Errorf("timed = %d, want 1: only the acknowledged alert has a response time", cur.Response.Timed)
		}
	})
}
