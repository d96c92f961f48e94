package alerts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

func disk(status string) Signal {
	return Signal{Source: "nagios", Rule: "disk_full", Severity: SeverityCritical, Status: status, Summary: "disk 97% full",
		Endpoint: "web1", Labels: map[string]string{"host": "web1", "mount": "/"}}
}

func ingest(t *testing.T, f fixture, tn tenancy.Tenant, sigs ...Signal) []Outcome {
	t.Helper()
	out, err := f.alerts.Ingest(context.Background(), tn, sigs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	tn := f.tenant(t)

	first := ingest(t, f, tn, disk(""))[0]
	if first.Action != "created" || first.Status != StatusFiring {
		t.Fatalf("first signal: %+v", first)
	}
	// Same labels in another order: the same alert, counted.
	again := disk("")
	again.Labels = map[string]string{"mount": "/", "host": "web1"}
	repeat := ingest(t, f, tn, again)[0]
	if repeat.AlertID != first.AlertID || repeat.Action != "repeated" || repeat.Occurred != 2 {
		t.Fatalf("repeat: %+v", repeat)
	}
	if c, _, _ := rollup(t, tn); c != 1 {
		t.Fatalf("rollup open_critical = %d, want 1", c)
	}
	if n, err := f.alerts.Transition(ctx, tn, []int64{first.AlertID}, "acknowledge"); err != nil || n != 1 {
		t.Fatalf("acknowledge: %d %v", n, err)
	}
	// A repeat keeps it acknowledged.
	if o := ingest(t, f, tn, disk(""))[0]; o.Status != StatusAcknowledged || o.Occurred != 3 {
		t.Fatalf("repeat after ack: %+v", o)
	}
	if err := f.alerts.AddNote(ctx, tn, first.AlertID, "replacing the disk tonight", false); err != nil {
		t.Fatal(err)
	}
	if err := f.alerts.Assign(ctx, tn, first.AlertID, "tech@msp.example"); err != nil {
		t.Fatal(err)
	}
	if o := ingest(t, f, tn, disk(StatusResolved))[0]; o.Action != "resolved" || o.AlertID != first.AlertID {
		t.Fatalf("resolve: %+v", o)
	}
	if c, _, _ := rollup(t, tn); c != 0 {
		t.Fatalf("rollup after resolve = %d, want 0", c)
	}
	if o := ingest(t, f, tn, disk(StatusResolved))[0]; o.Action != "ignored" {
		t.Fatalf("second resolve: %+v", o)
	}
	// A trigger after resolution opens a new alert.
	reopened := ingest(t, f, tn, disk(""))[0]
	if reopened.Action != "created" || reopened.AlertID == first.AlertID {
		t.Fatalf("after resolve: %+v", reopened)
	}

	a, events, err := f.alerts.Get(ctx, tn, first.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	want := []string{"created", "acknowledged", "note", "assigned", "resolved"}
	if a.Assignee != "tech@msp.example" || a.Occurrences != 3 || a.Status != StatusResolved || len(kinds) != len(want) {
		t.Fatalf("alert %+v, timeline %v", a, kinds)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("timeline %v, want %v", kinds, want)
		}
	}
	if events[1].Actor != "tech@msp.example" {
		t.Fatalf("acknowledgement actor %q", events[1].Actor)
	}
}

func TestTwoTenantsNeverMerge(t *testing.T) {
	f := newFixture(t)
	a, b := f.tenant(t), f.tenant(t)
	oa := ingest(t, f, a, disk(""))[0]
	ob := ingest(t, f, b, disk(""))[0]
	var fa, fb string
	_ = tenancy.Do(context.Background(), a, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT fingerprint FROM alerts WHERE id = ?`, oa.AlertID).Scan(&fa).Error
	})
	_ = tenancy.Do(context.Background(), b, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT fingerprint FROM alerts WHERE id = ?`, ob.AlertID).Scan(&fb).Error
	})
	if fa == "" || fa == fb {
		t.Fatalf("the same signal in two tenants must have different fingerprints: %q %q", fa, fb)
	}
	if oa.Action != "created" || ob.Action != "created" || ob.Occurred != 1 {
		t.Fatalf("%+v %+v", oa, ob)
	}
}

func TestBadSignalStoresNothing(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	cases := map[string]Signal{
		"no rule":        {Source: "x"},
		"bad severity":   {Source: "x", Rule: "r", Severity: "urgent"},
		"bad status":     {Source: "x", Rule: "r", Status: "open"},
		"bad label name": {Source: "x", Rule: "r", Labels: map[string]string{"bad\x00name": "v"}},
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := f.alerts.Ingest(context.Background(), tn, []Signal{disk(""), bad})
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
	list, err := f.alerts.List(context.Background(), tn, Filter{Status: "all"})
	if err != nil || len(list) != 0 {
		t.Fatalf("a refused batch stored %d alerts (%v)", len(list), err)
	}
}

func TestSilenceSuppresses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	if _, err := f.alerts.CreateSilence(ctx, tn, []Matcher{{Name: "host", Op: "=~", Value: "web[0-9]+"}, {Name: "severity", Op: "=", Value: "critical"}},
		time.Now().Add(-time.Minute), time.Now().Add(time.Hour), "maintenance"); err != nil {
		t.Fatal(err)
	}
	o := ingest(t, f, tn, disk(""))[0]
	if o.Action != "suppressed" || o.Status != StatusSuppressed {
		t.Fatalf("silenced signal: %+v", o)
	}
	if c, _, _ := rollup(t, tn); c != 0 {
		t.Fatalf("suppressed alerts must not count as open: %d", c)
	}
	other := disk("")
	other.Labels = map[string]string{"host": "db1"}
	if o := ingest(t, f, tn, other)[0]; o.Status != StatusFiring {
		t.Fatalf("unmatched signal: %+v", o)
	}
	suppressed, _ := f.alerts.List(ctx, tn, Filter{Status: StatusSuppressed})
	if len(suppressed) != 1 || suppressed[0].SilenceID == nil {
		t.Fatalf("suppressed alerts are recorded, not dropped: %+v", suppressed)
	}
	for _, bad := range [][]Matcher{nil, {{Name: "host", Op: "~", Value: "x"}}, {{Name: "host", Op: "=~", Value: "("}}} {
		if _, err := f.alerts.CreateSilence(ctx, tn, bad, time.Now(), time.Now().Add(time.Hour), ""); !errors.Is(err, ErrInvalid) {
			t.Fatalf("matchers %+v: want ErrInvalid, got %v", bad, err)
		}
	}
}

func TestListFilters(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	ingest(t, f, tn,
		Signal{Source: "a", Rule: "cpu", Severity: SeverityWarning, Endpoint: "web1", Summary: "CPU high"},
		Signal{Source: "a", Rule: "disk", Severity: SeverityCritical, Endpoint: "db1", Summary: "Disk full"},
		Signal{Source: "a", Rule: "mem", Severity: SeverityInfo, Endpoint: "web1", Summary: "Memory"},
	)
	cases := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 3}, {Filter{Severity: SeverityCritical}, 1}, {Filter{Endpoint: "web1"}, 2},
		{Filter{Text: "disk"}, 1}, {Filter{Text: "%"}, 0}, {Filter{Status: StatusResolved}, 0},
	}
	for _, tc := range cases {
		got, err := f.alerts.List(ctx, tn, tc.f)
		if err != nil || len(got) != tc.want {
			t.Errorf("%+v: %d alerts (%v), want %d", tc.f, len(got), err, tc.want)
		}
	}
	got, _ := f.alerts.List(ctx, tn, Filter{})
	if got[0].Severity != SeverityCritical {
		t.Errorf("most severe first: %+v", got[0])
	}
	if _, err := f.alerts.List(ctx, tn, Filter{Status: "bogus"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad status filter: %v", err)
	}
}

func TestMaintenanceWindowSuppresses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	pol := policies.NewService(f.cluster)
	if err := pol.SetTenantItem(ctx, tn, policies.Item{Key: "patch-night", Kind: policies.KindMaintenance, Enabled: true,
		Maintenance: &policies.Maintenance{Labels: map[string]string{"host": "web1"}, StartsAt: time.Now().Add(-time.Hour), EndsAt: time.Now().Add(time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	if o := ingest(t, f, tn, disk(""))[0]; o.Status != StatusSuppressed {
		t.Fatalf("signal inside the window: %+v", o)
	}
	other := disk("")
	other.Labels = map[string]string{"host": "db1"}
	if o := ingest(t, f, tn, other)[0]; o.Status != StatusFiring {
		t.Fatalf("signal outside the window's labels: %+v", o)
	}
	_, events, err := f.alerts.Get(ctx, tn, 1)
	if err != nil || len(events) == 0 || !strings.Contains(events[0].Body, "maintenance window patch-night") {
		t.Fatalf("timeline says why: %+v %v", events, err)
	}
}

func TestWaitingOnClient(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	id := ingest(t, f, tn, disk(""))[0].AlertID
	steps := []struct {
		action Action
		want   int
	}{{"wait", 1}, {"wait", 0}, {"resume", 1}, {"resume", 0}, {"wait", 1}}
	for _, st := range steps {
		n, err := f.alerts.Transition(ctx, tn, []int64{id}, st.action)
		if err != nil || n != st.want {
			t.Fatalf("%s: changed %d (%v), want %d", st.action, n, err, st.want)
		}
	}
	_, events, _ := f.alerts.Get(ctx, tn, id)
	var kinds []string
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "created,waiting,resumed,waiting" {
		t.Fatalf("timeline %v", kinds)
	}
	if _, err := f.alerts.Transition(ctx, tn, []int64{id}, "resolve"); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.alerts.Transition(ctx, tn, []int64{id}, "resume"); n != 0 {
		t.Fatal("a resolved alert cannot be resumed")
	}
}
