package dashboard

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
)

// queueFixture is four clients with open alerts of known ages and states:
//
//	Delta   a-crit   critical, 10 min old           response ok, 5 min left; assigned to tech
//	        a-warn   warning, 3 h old               response breached 2 h ago
//	alpha   b-crit   critical, 2 h old, acknowledged resolution ok, 2 h left
//	        b-warn   warning, 50 min old            response near, 10 min left
//	Charlie c-warn   warning, 20 min old, waiting   response paused, 40 min left; assigned to tech
//	bravo   d-crit   critical, 1 min old            no SLA
type queueFixture struct {
	s    *Service
	sums []tenants.Summary
	now  time.Time
}

func newQueueFixture(t *testing.T) queueFixture {
	t.Helper()
	s, _, list := setup(t, 4)
	ctx := context.Background()
	names := []string{"Delta", "alpha", "Charlie", "bravo"}
	type seed struct {
		tenant   int
		rule     string
		severity string
		age      time.Duration
	}
	seeds := []seed{
		{0, "a-crit", alerts.SeverityCritical, 10 * time.Minute},
		{0, "a-warn", alerts.SeverityWarning, 3 * time.Hour},
		{1, "b-crit", alerts.SeverityCritical, 2 * time.Hour},
		{1, "b-warn", alerts.SeverityWarning, 50 * time.Minute},
		{2, "c-warn", alerts.SeverityWarning, 20 * time.Minute},
		{3, "d-crit", alerts.SeverityCritical, time.Minute},
	}
	ids := map[string]int64{}
	for _, sd := range seeds {
		tn := list[sd.tenant]
		out, err := s.alerts.Ingest(ctx, s.tenants.Scope(tn), []alerts.Signal{{Source: "test", Rule: sd.rule, Severity: sd.severity, Summary: sd.rule}})
		if err != nil {
			t.Fatal(err)
		}
		ids[sd.rule] = out[0].AlertID
		// Back-date the alert and its opening: the SLA clocks replay the timeline.
		ago := fmt.Sprintf("%d seconds", int(sd.age.Seconds()))
		admin(t, fmt.Sprintf(`UPDATE tenant_%d.alerts SET first_seen_at = first_seen_at - $1::interval, last_seen_at = last_seen_at - $1::interval WHERE id = $2`, tn.ID), ago, out[0].AlertID)
		admin(t, fmt.Sprintf(`UPDATE tenant_%d.alert_events SET at = at - $1::interval WHERE alert_id = $2`, tn.ID), ago, out[0].AlertID)
	}
	for i, tn := range list {
		admin(t, `UPDATE control.tenants SET name = $1 WHERE id = $2`, names[i], tn.ID)
	}
	if _, err := s.alerts.Transition(ctx, s.tenants.Scope(list[1]), []int64{ids["b-crit"]}, alerts.ActionAcknowledge); err != nil {
		t.Fatal(err)
	}
	if _, err := s.alerts.Transition(ctx, s.tenants.Scope(list[2]), []int64{ids["c-warn"]}, alerts.ActionWait); err != nil {
		t.Fatal(err)
	}
	for _, rule := range []string{"a-crit", "c-warn"} {
		tn := list[0]
		if rule == "c-warn" {
			tn = list[2]
		}
		if err := s.alerts.Assign(ctx, s.tenants.Scope(tn), ids[rule], "tech@msp.example"); err != nil {
			t.Fatal(err)
		}
	}
	off := false
	if err := s.policies.Override(ctx, s.tenants.Scope(list[3]), "sla-default", &off, nil); err != nil {
		t.Fatal(err)
	}
	var tids []int64
	for _, tn := range list {
		tids = append(tids, tn.ID)
	}
	sums, err := s.tenants.Summaries(ctx, tids)
	if err != nil {
		t.Fatal(err)
	}
	return queueFixture{s: s, sums: sums, now: time.Now()}
}

func rules(q []QueueItem) string {
	var out []string
	for _, it := range q {
		out = append(out, it.Alert.Rule)
	}
	return strings.Join(out, " ")
}

// The queue sorts by urgency (the default), age, time to breach and client,
// and "my alerts" keeps the viewer's only, whatever the case of the address.
func TestWorkQueueOrdersAndFilters(t *testing.T) {
	f := newQueueFixture(t)
	cases := []struct {
		name     string
		opts     QueueOptions
		want     string
		wantRead int
	}{
		{"urgency", QueueOptions{Limit: 25}, "a-crit d-crit b-crit a-warn b-warn c-warn", 4},
		{"urgency by name", QueueOptions{Sort: SortUrgency, Limit: 25}, "a-crit d-crit b-crit a-warn b-warn c-warn", 4},
		{"age", QueueOptions{Sort: SortAge, Limit: 25}, "a-warn b-crit b-warn c-warn a-crit d-crit", 4},
		{"time to breach", QueueOptions{Sort: SortBreach, Limit: 25}, "a-warn a-crit b-warn c-warn b-crit d-crit", 4},
		{"client", QueueOptions{Sort: SortClient, Limit: 25}, "b-crit b-warn d-crit c-warn a-crit a-warn", 4},
		{"limit after sorting", QueueOptions{Sort: SortBreach, Limit: 3}, "a-warn a-crit b-warn", 3},
		{"mine", QueueOptions{Assignee: "Tech@MSP.example", Limit: 25, Reach: 100}, "a-crit c-warn", 4},
		{"mine by age", QueueOptions{Sort: SortAge, Assignee: "tech@msp.example", Limit: 25}, "c-warn a-crit", 4},
		{"someone else's", QueueOptions{Assignee: "other@msp.example", Limit: 25}, "", 4},
		{"reach bounds the clients read", QueueOptions{Limit: 25, Reach: 2}, "", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = f.now
			q, read, err := f.s.WorkQueue(context.Background(), f.sums, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if read != tc.wantRead {
				t.Errorf("read %d client schemas, want %d", read, tc.wantRead)
			}
			if tc.name == "reach bounds the clients read" {
				return // which two of the busiest is a tie; the count is the point
			}
			if got := rules(q); got != tc.want {
				t.Errorf("order %q, want %q", got, tc.want)
			}
		})
	}
}

// Each queued alert carries its age, its SLA clock's state, its assignee and
// whether it waits on the client.
func TestWorkQueueShowsEachAlertsState(t *testing.T) {
	f := newQueueFixture(t)
	q, _, err := f.s.WorkQueue(context.Background(), f.sums, QueueOptions{Limit: 25, Now: f.now})
	if err != nil {
		t.Fatal(err)
	}
	byRule := map[string]QueueItem{}
	for _, it := range q {
		byRule[it.Alert.Rule] = it
	}
	// Seconds pass between seeding and reading: compare to the minute.
	near := func(d, want time.Duration) bool { return d > want-time.Minute && d <= want+time.Minute }
	cases := []struct {
		rule, state, clock string
		left, over, age    time.Duration
		paused, waiting    bool
		assignee           string
	}{
		{"a-crit", DueOK, "response", 5 * time.Minute, 0, 10 * time.Minute, false, false, "tech@msp.example"},
		{"a-warn", DueBreached, "response", 0, 2 * time.Hour, 3 * time.Hour, false, false, ""},
		{"b-crit", DueOK, "resolution", 2 * time.Hour, 0, 2 * time.Hour, false, false, ""},
		{"b-warn", DueNear, "response", 10 * time.Minute, 0, 50 * time.Minute, false, false, ""},
		{"c-warn", DueOK, "response", 40 * time.Minute, 0, 20 * time.Minute, true, true, "tech@msp.example"},
		{"d-crit", DueNone, "", 0, 0, time.Minute, false, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.rule, func(t *testing.T) {
			it, ok := byRule[tc.rule]
			if !ok {
				t.Fatalf("%s is not in the queue", tc.rule)
			}
			d := it.Due
			if d.State != tc.state || d.Clock != tc.clock || d.Paused != tc.paused || it.Waiting != tc.waiting || it.Alert.Assignee != tc.assignee {
				t.Errorf("%+v, waiting %v, assignee %q", d, it.Waiting, it.Alert.Assignee)
			}
			if !near(it.Age, tc.age) || (tc.left > 0 && !near(d.Left, tc.left)) || (tc.over > 0 && !near(d.Over, tc.over)) {
				t.Errorf("age %v left %v over %v; want %v %v %v", it.Age, d.Left, d.Over, tc.age, tc.left, tc.over)
			}
		})
	}
	if d := byRule["d-crit"].Due; d.Text() != "—" || !strings.Contains(d.Title(), "no SLA") {
		t.Errorf("a client without an SLA: %q %q", d.Text(), d.Title())
	}
}
