package dashboard

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
)

// The home's chart reads the daily snapshots of the rollups, summed over
// the clients the viewer sees: a day keeps its last snapshot, a day without
// one is a gap (not a zero), today is the live count, and old days are
// forgotten.
func TestOpenTrendFromSnapshots(t *testing.T) {
	s, _, list := setup(t, 3)
	ctx := context.Background()
	x, y, quiet := list[0], list[1], list[2]
	ingest := func(tn tenants.Tenant, sev string, rules ...string) []int64 {
		t.Helper()
		var sigs []alerts.Signal
		for _, r := range rules {
			sigs = append(sigs, alerts.Signal{Source: "t", Rule: r, Severity: sev})
		}
		out, err := s.alerts.Ingest(ctx, s.tenants.Scope(tn), sigs)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, o := range out {
			ids = append(ids, o.AlertID)
		}
		return ids
	}
	snapshot := func(at time.Time) {
		t.Helper()
		if _, err := s.tenants.SnapshotOpenAlerts(ctx, at); err != nil {
			t.Fatal(err)
		}
	}
	day := func(d int, hour int) time.Time { return time.Date(2030, 3, d, hour, 0, 0, 0, time.UTC) }

	crit := ingest(x, alerts.SeverityCritical, "c1", "c2")
	ingest(y, alerts.SeverityWarning, "w1")
	ingest(quiet, alerts.SeverityInfo, "i1") // info is not counted
	snapshot(day(3, 10))                     // Mar 3: x 2 critical, y 1 warning
	ingest(y, alerts.SeverityWarning, "w2", "w3", "w4")
	snapshot(day(5, 8)) // overwritten later the same day
	if _, err := s.alerts.Transition(ctx, s.tenants.Scope(x), crit[:1], alerts.ActionResolve); err != nil {
		t.Fatal(err)
	}
	snapshot(day(5, 23)) // Mar 5: x 1 critical, y 4 warnings

	now := day(6, 9)
	cases := []struct {
		name   string
		ids    []int64
		live   [2]int
		want   map[string][2]int // "Jan 2" → critical, warning
		label  []string
		points int
	}{
		{"both clients", []int64{x.ID, y.ID, quiet.ID}, [2]int{7, 1},
			map[string][2]int{"Mar 3": {2, 1}, "Mar 5": {1, 4}, "Mar 6": {7, 1}},
			[]string{"Mar 3 3", "Mar 4 no record", "Mar 5 5", "today 8", "last 14 days"}, 3},
		{"one client", []int64{y.ID}, [2]int{0, 4},
			map[string][2]int{"Mar 3": {0, 1}, "Mar 5": {0, 4}, "Mar 6": {0, 4}},
			[]string{"Mar 3 1", "Mar 5 4", "today 4"}, 3},
		{"no client visible", []int64{}, [2]int{0, 0},
			map[string][2]int{"Mar 3": {0, 0}, "Mar 5": {0, 0}, "Mar 6": {0, 0}},
			[]string{"Mar 3 0", "Mar 4 no record", "today 0"}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := s.OpenTrend(ctx, tc.ids, now, tc.live[0], tc.live[1])
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Points) != homeTrendDays || tr.Points[0].Day.Format("Jan 2") != "Feb 21" {
				t.Fatalf("%d points from %v; want %d from Feb 21", len(tr.Points), tr.Points[0].Day, homeTrendDays)
			}
			recorded := 0
			for _, p := range tr.Points {
				key := p.Day.Format("Jan 2")
				want, ok := tc.want[key]
				if ok != p.Recorded {
					t.Errorf("%s recorded %v, want %v", key, p.Recorded, ok)
				}
				if p.Recorded {
					recorded++
				}
				if ok && (p.Critical != want[0] || p.Warning != want[1]) {
					t.Errorf("%s: %d critical %d warning, want %v", key, p.Critical, p.Warning, want)
				}
			}
			if recorded != tc.points || tr.Gaps != homeTrendDays-tc.points {
				t.Errorf("%d days recorded, %d gaps", recorded, tr.Gaps)
			}
			for _, w := range tc.label {
				if !strings.Contains(tr.Label, w) {
					t.Errorf("label lacks %q: %s", w, tr.Label)
				}
			}
		})
	}

	// Mar 3 stands alone (Mar 4 has no record), Mar 5 and today join: two lines.
	tr, err := s.OpenTrend(ctx, []int64{x.ID, y.ID}, now, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Segments) != 2 || tr.Peak != 8 || tr.Max != 8 || !tr.Started || strings.Count(tr.Segments[1].Line, ",") != 2 {
		t.Errorf("segments %+v, peak %d, max %d", tr.Segments, tr.Peak, tr.Max)
	}
	if last := tr.Points[len(tr.Points)-1]; last.Y != homeTrendPad || last.X != homeTrendW {
		t.Errorf("today's point, the peak, is drawn at %.1f,%.1f; want the top right", last.X, last.Y)
	}

	// Before the first snapshot only today is known: the chart says it is new.
	if fresh, err := s.OpenTrend(ctx, []int64{x.ID}, day(1, 0).AddDate(0, 0, -20), 1, 0); err != nil || fresh.Started || fresh.Gaps != homeTrendDays-1 || len(fresh.Segments) != 1 {
		t.Errorf("a chart before any snapshot: %+v %v", fresh, err)
	}

	// A snapshot a quarter later forgets those days.
	snapshot(day(5, 0).AddDate(0, 3, 1))
	days, err := s.tenants.OpenAlertTrend(ctx, []int64{x.ID, y.ID}, day(1, 0), day(31, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range days {
		if d.Recorded {
			t.Errorf("%v is still recorded after a quarter", d.Day)
		}
	}
}
