package agents

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

func TestCheckInUpdatesInventoryAndHistory(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	en := f.enroll(t, tn, "web1")

	f.clock.Set(t0.Add(time.Minute))
	r := Report{Hostname: "web1", OS: "Debian 13", UptimeSeconds: 86400, CPUPercent: 12.5, MemoryPercent: 40,
		Disks: []Disk{{Mount: "/", UsedPercent: 55}, {Mount: "/data", UsedPercent: 80.25}}}
	next, err := f.agents.CheckIn(ctx, en.Credential, r)
	if err != nil || next != time.Minute {
		t.Fatalf("check-in: %v %v", next, err)
	}
	eps, err := f.agents.ListEndpoints(ctx, tn)
	if err != nil || len(eps) != 1 {
		t.Fatalf("endpoints %+v %v", eps, err)
	}
	ep := eps[0]
	if ep.Hostname != "web1" || ep.OS != "Debian 13" || !ep.LastSeenAt.Equal(t0.Add(time.Minute)) || ep.Status != StatusOnline ||
		*ep.UptimeSeconds != 86400 || *ep.CPUPercent != 12.5 || *ep.MemoryPercent != 40 || len(ep.Disks) != 2 || ep.Disks[1] != (Disk{"/data", 80.25}) {
		t.Fatalf("endpoint %+v", ep)
	}

	// A second check-in appends to the history; a rename follows the machine.
	f.clock.Set(t0.Add(2 * time.Minute))
	r.CPUPercent, r.Hostname = 30, "web1.example.net"
	f.checkIn(t, en.Credential, r)
	hist, err := f.agents.History(ctx, tn, en.EndpointID, t0)
	if err != nil || len(hist) != 2 || hist[0].CPUPercent != 12.5 || hist[1].CPUPercent != 30 || !hist[1].At.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("history %+v %v", hist, err)
	}
	if eps, _ := f.agents.ListEndpoints(ctx, tn); eps[0].Hostname != "web1.example.net" {
		t.Fatalf("renamed endpoint %+v", eps[0])
	}

	// Rows older than the retention go as later check-ins come in.
	f.clock.Set(t0.Add(metricsRetention + 90*time.Second))
	f.checkIn(t, en.Credential, r)
	if n := count(t, tn, `SELECT count(*) FROM endpoint_metrics WHERE endpoint_id = ?`, en.EndpointID); n != 2 {
		t.Fatalf("after retention: %d rows, want 2 (the 2-minute row and the new one)", n)
	}

	// A hostname that belongs to another endpoint is refused, not merged.
	other := f.enroll(t, tn, "db1")
	r.Hostname = "db1"
	if _, err := f.agents.CheckIn(ctx, en.Credential, r); !errors.Is(err, ErrConflict) {
		t.Fatalf("taking another endpoint's hostname: %v", err)
	}
	_ = other
}

func TestInvalidCheckInStoresNothing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	en := f.enroll(t, tn, "web1")
	manyDisks := make([]Disk, maxDisks+1)
	for i := range manyDisks {
		manyDisks[i] = Disk{Mount: fmt.Sprintf("/m%d", i), UsedPercent: 1}
	}
	cases := []struct {
		name   string
		mutate func(r *Report)
		msg    string
	}{
		{"cpu above 100", func(r *Report) { r.CPUPercent = 100.1 }, "cpu_percent"},
		{"negative memory", func(r *Report) { r.MemoryPercent = -1 }, "memory_percent"},
		{"NaN cpu", func(r *Report) { r.CPUPercent = math.NaN() }, "cpu_percent"},
		{"negative uptime", func(r *Report) { r.UptimeSeconds = -5 }, "uptime_seconds"},
		{"no hostname", func(r *Report) { r.Hostname = "" }, "hostname"},
		{"hostname with control character", func(r *Report) { r.Hostname = "web\n1" }, "hostname"},
		{"long os", func(r *Report) { r.OS = strings.Repeat("x", maxOS+1) }, "os"},
		{"disk above 100", func(r *Report) { r.Disks = []Disk{{"/", 30}, {"/data", 101}} }, "/data"},
		{"disk without mount", func(r *Report) { r.Disks = []Disk{{"", 30}} }, "mount"},
		{"mount twice", func(r *Report) { r.Disks = []Disk{{"/", 30}, {"/", 31}} }, "twice"},
		{"too many disks", func(r *Report) { r.Disks = manyDisks }, "disks"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := report("web1")
			tc.mutate(&r)
			_, err := f.agents.CheckIn(ctx, en.Credential, r)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("want ErrInvalid mentioning %q, got %v", tc.msg, err)
			}
		})
	}
	if n := count(t, tn, `SELECT count(*) FROM endpoint_metrics`); n != 0 {
		t.Fatalf("refused check-ins stored %d metric rows", n)
	}
	if n := count(t, tn, `SELECT count(*) FROM endpoints WHERE cpu_percent IS NOT NULL`); n != 0 {
		t.Fatal("a refused check-in updated the endpoint")
	}
}

// checkStep is one check-in of a threshold scenario: at t0+at, report cpu (and
// the given disks); then the alerts of the rule must be as listed (each
// "status/occurrences", in any order).
type checkStep struct {
	at    time.Duration
	cpu   float64
	disks []Disk
	want  []string
}

func TestThresholdEvaluation(t *testing.T) {
	cpuFor5m := threshold("cpu-busy", "cpu_percent", ">", 90, 5*time.Minute, "warning", true)
	cpuManual := threshold("cpu-busy", "cpu_percent", ">", 90, 2*time.Minute, "critical", false)
	diskFull := threshold("disk-full-now", "disk_percent", ">=", 95, 0, "critical", true)
	m := time.Minute
	cases := []struct {
		name  string
		rule  string
		steps []checkStep
	}{
		{"fires only after holding for the whole duration, re-raises, auto-resolves", "cpu-busy", []checkStep{
			{0, 95, nil, nil},
			{2 * m, 96, nil, nil},
			{4*m + 59*time.Second, 97, nil, nil},
			{5 * m, 98, nil, []string{"firing/1"}},
			{6 * m, 99, nil, []string{"firing/2"}},
			{7 * m, 50, nil, []string{"resolved/2"}},
			{8 * m, 50, nil, []string{"resolved/2"}},
		}},
		{"one check-in below the threshold restarts the clock", "cpu-busy", []checkStep{
			{0, 95, nil, nil},
			{1 * m, 95, nil, nil},
			{2 * m, 95, nil, nil},
			{3 * m, 80, nil, nil}, // flap
			{4 * m, 95, nil, nil},
			{7 * m, 95, nil, nil}, // 3 minutes since the flap: not yet
			{8 * m, 95, nil, nil},
			{9 * m, 95, nil, []string{"firing/1"}},
		}},
		{"silence longer than the offline grace restarts the clock", "cpu-busy", []checkStep{
			{0, 95, nil, nil},
			{4 * m, 95, nil, nil}, // 4 minutes without a check-in (> 3 × 1m): nothing known in between
			{5 * m, 95, nil, nil},
			{8 * m, 95, nil, nil},
			{9 * m, 95, nil, []string{"firing/1"}},
		}},
		{"a new alert after a resolve", "cpu-busy", []checkStep{
			{0, 95, nil, nil},
			{2 * m, 95, nil, nil},
			{4 * m, 95, nil, nil},
			{5 * m, 95, nil, []string{"firing/1"}},
			{6 * m, 10, nil, []string{"resolved/1"}},
			{7 * m, 95, nil, []string{"resolved/1"}},
			{9 * m, 95, nil, []string{"resolved/1"}},
			{11 * m, 95, nil, []string{"resolved/1"}},
			{12 * m, 95, nil, []string{"resolved/1", "firing/1"}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			runScenario(t, tc.rule, tc.steps, cpuFor5m)
		})
	}
	t.Run("without auto-resolve the alert stays open, the clock is cleared", func(t *testing.T) {
		f, tn, _ := runScenario(t, "cpu-busy", []checkStep{
			{0, 95, nil, nil},
			{2 * m, 95, nil, []string{"firing/1"}},
			{3 * m, 10, nil, []string{"firing/1"}},
			{4 * m, 95, nil, []string{"firing/1"}},
			{5 * m, 95, nil, []string{"firing/1"}}, // 1 minute since the clock restarted
			{6 * m, 95, nil, []string{"firing/2"}},
		}, cpuManual)
		if a := f.alertsOf(t, tn, "cpu-busy"); a[0].Severity != "critical" || a[0].Source != "agent" || a[0].Endpoint != "host-1" ||
			a[0].Labels["host"] != "host-1" || a[0].Labels["metric"] != "cpu_percent" {
			t.Fatalf("alert %+v", a[0])
		}
	})
	t.Run("disk thresholds per mount", func(t *testing.T) {
		f, tn, _ := runScenario(t, "disk-full-now", []checkStep{
			{0, 10, []Disk{{"/", 96}, {"/data", 10}}, []string{"firing/1"}},
			{1 * m, 10, []Disk{{"/", 96}, {"/data", 97}}, []string{"firing/2", "firing/1"}},
			{2 * m, 10, []Disk{{"/data", 97}}, []string{"resolved/2", "firing/2"}}, // "/" is no longer reported
		}, diskFull)
		var mounts []string
		for _, a := range f.alertsOf(t, tn, "disk-full-now") {
			mounts = append(mounts, a.Labels["mount"]+"="+a.Status)
		}
		if strings.Join(mounts, ",") != "/data=firing,/=resolved" && strings.Join(mounts, ",") != "/=resolved,/data=firing" {
			t.Fatalf("alerts by mount: %v", mounts)
		}
	})
}

// runScenario enrolls host-1 in a tenant with item as its only threshold
// and plays steps, checking the rule's alerts after each.
func runScenario(t *testing.T, rule string, steps []checkStep, item policies.Item) (fixture, tenancy.Tenant, string) {
	t.Helper()
	f := newFixture(t)
	tn := f.tenant(t, item)
	en := f.enroll(t, tn, "host-1")
	for i, s := range steps {
		f.clock.Set(t0.Add(s.at))
		r := report("host-1")
		r.CPUPercent = s.cpu
		if s.disks != nil {
			r.Disks = s.disks
		}
		f.checkIn(t, en.Credential, r)
		var got []string
		for _, a := range f.alertsOf(t, tn, rule) {
			got = append(got, fmt.Sprintf("%s/%d", a.Status, a.Occurrences))
		}
		// The alerts module lists by severity and recency; compare as sets.
		want := slices.Clone(s.want)
		slices.Sort(got)
		slices.Sort(want)
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("step %d (t0+%s, cpu %v): alerts %v, want %v", i, s.at, s.cpu, got, s.want)
		}
	}
	return f, tn, en.Credential
}

func TestExcludedEndpointIsNotEvaluated(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t, threshold("mem-full", "memory_percent", ">=", 90, 0, "warning", true))
	if err := f.policies.SetExclusion(ctx, tn, "mem-full", "build-box", true); err != nil {
		t.Fatal(err)
	}
	build, web := f.enroll(t, tn, "build-box"), f.enroll(t, tn, "web1")
	for _, c := range []struct{ cred, host string }{{build.Credential, "build-box"}, {web.Credential, "web1"}} {
		r := report(c.host)
		r.MemoryPercent = 99
		f.checkIn(t, c.cred, r)
	}
	got := f.alertsOf(t, tn, "mem-full")
	if len(got) != 1 || got[0].Endpoint != "web1" {
		t.Fatalf("alerts %+v, want one for web1 only", got)
	}
	if n := count(t, tn, `SELECT count(*) FROM threshold_states s JOIN endpoints e ON e.id = s.endpoint_id WHERE e.hostname = 'build-box'`); n != 0 {
		t.Fatalf("an excluded endpoint has %d threshold clocks", n)
	}
}

// A resolve the alerts module did not take is sent again at the next
// check-in: the stored state stays firing until it is confirmed.
func TestFailedResolveIsRetried(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	flaky := &flakyAlerter{inner: f.alerts}
	f.agents.alerts = flaky
	tn := f.tenant(t, threshold("cpu-now", "cpu_percent", ">", 90, 0, "warning", true))
	en := f.enroll(t, tn, "web1")
	hot := report("web1")
	hot.CPUPercent = 99
	f.checkIn(t, en.Credential, hot)
	flaky.failNext = true
	f.clock.Advance(time.Minute)
	f.checkIn(t, en.Credential, report("web1")) // the resolve is lost
	if a := f.alertsOf(t, tn, "cpu-now"); a[0].Status != "firing" {
		t.Fatalf("after a lost resolve: %+v", a[0])
	}
	f.clock.Advance(time.Minute)
	f.checkIn(t, en.Credential, report("web1"))
	if a := f.alertsOf(t, tn, "cpu-now"); a[0].Status != "resolved" {
		t.Fatalf("the resolve was not retried: %+v", a[0])
	}
	var n int64
	_ = tenancy.Do(ctx, tn, func(tx *gorm.DB) error { return tx.Raw(`SELECT count(*) FROM threshold_states`).Scan(&n).Error })
	if n != 0 {
		t.Fatalf("%d threshold states left after the confirmed resolve", n)
	}
}

// flakyAlerter loses the next batch of signals when told to: the alerts
// module is real, only its availability is simulated.
type flakyAlerter struct {
	inner    Alerter
	failNext bool
}

func (a *flakyAlerter) Ingest(ctx context.Context, t tenancy.Tenant, signals []alerts.Signal) ([]alerts.Outcome, error) {
	if a.failNext {
		a.failNext = false
		return nil, errors.New("alerts unavailable")
	}
	return a.inner.Ingest(ctx, t, signals)
}
