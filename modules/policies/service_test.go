package policies

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func setup(t *testing.T) (*Service, func() tenancy.Tenant) {
	t.Helper()
	c, ts := tenantstest.Open(t)
	return NewService(c), func() tenancy.Tenant { return ts.Scope(tenantstest.Create(t, ts, "pol")) }
}

func find(t *testing.T, e Effective, key string) EffectiveItem {
	t.Helper()
	for _, it := range e.Items {
		if it.Key == key {
			return it
		}
	}
	t.Fatalf("no effective item %s", key)
	return EffectiveItem{}
}

func threshold(key string, value float64, locked bool) (Item, bool) {
	return Item{Key: key, Kind: KindThreshold, Enabled: true,
		Threshold: &Threshold{Metric: "cpu_percent", Operator: ">", Value: value, For: time.Minute, Severity: "warning"}}, locked
}

func TestEffectivePolicy(t *testing.T) {
	s, newTenant := setup(t)
	ctx := context.Background()
	a, b := newTenant(), newTenant()
	if err := s.SetGlobal(ctx, Item{Key: "t-cpu", Kind: KindThreshold, Enabled: true,
		Threshold: &Threshold{Metric: "cpu_percent", Operator: ">", Value: 90, For: time.Minute, Severity: "warning"}}, false); err != nil {
		t.Fatal(err)
	}
	it, locked := threshold("t-baseline", 50, true)
	if err := s.SetGlobal(ctx, it, locked); err != nil {
		t.Fatal(err)
	}

	// A overrides the value and excludes one endpoint; B disables the item.
	if err := s.Override(ctx, a, "t-cpu", nil, &Item{Threshold: &Threshold{Metric: "cpu_percent", Operator: ">", Value: 75, For: time.Minute, Severity: "critical"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetExclusion(ctx, a, "t-cpu", "build-server", true); err != nil {
		t.Fatal(err)
	}
	off := false
	if err := s.Override(ctx, b, "t-cpu", &off, nil); err != nil {
		t.Fatal(err)
	}
	// Locked baselines refuse overrides and exclusions.
	if err := s.Override(ctx, a, "t-baseline", &off, nil); !errors.Is(err, ErrLocked) {
		t.Fatalf("override of a locked item: %v", err)
	}
	if err := s.SetExclusion(ctx, a, "t-baseline", "x", true); !errors.Is(err, ErrLocked) {
		t.Fatalf("exclusion from a locked item: %v", err)
	}

	ea, err := s.Effective(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	cpu := find(t, ea, "t-cpu")
	if cpu.Origin != OriginOverridden || cpu.Threshold.Value != 75 || cpu.Threshold.Severity != "critical" || len(cpu.Excluded) != 1 {
		t.Fatalf("A's cpu item: %+v %+v", cpu, cpu.Threshold)
	}
	if find(t, ea, "t-baseline").Origin != OriginLocked {
		t.Fatal("locked origin not reported")
	}
	if hosts := len(ea.Thresholds("build-server")); hosts != len(ea.Thresholds("web1"))-1 {
		t.Fatalf("exclusion not applied: %d vs %d", hosts, len(ea.Thresholds("web1")))
	}
	eb, _ := s.Effective(ctx, b)
	if bc := find(t, eb, "t-cpu"); bc.Enabled || bc.Origin != OriginOverridden {
		t.Fatalf("B's cpu item: %+v", bc)
	}

	// A baseline change reaches every tenant without touching their schemas;
	// A's override still wins for the body, B's for enabled.
	if err := s.SetGlobal(ctx, Item{Key: "t-cpu", Kind: KindThreshold, Enabled: true,
		Threshold: &Threshold{Metric: "cpu_percent", Operator: ">", Value: 95, For: time.Minute, Severity: "warning"}}, false); err != nil {
		t.Fatal(err)
	}
	c := newTenant()
	ec, _ := s.Effective(ctx, c)
	if got := find(t, ec, "t-cpu"); got.Threshold.Value != 95 || got.Origin != OriginGlobal {
		t.Fatalf("new tenant sees %+v", got.Threshold)
	}
	if got := find(t, mustEffective(t, s, a), "t-cpu"); got.Threshold.Value != 75 {
		t.Fatalf("A's override lost: %+v", got.Threshold)
	}

	globals, err := s.Globals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range globals {
		if g.Key == "t-cpu" && g.Overridden != 2 {
			t.Fatalf("t-cpu overridden by %d tenants, want 2", g.Overridden)
		}
	}
	if err := s.ClearOverride(ctx, b, "t-cpu"); err != nil {
		t.Fatal(err)
	}
	globals, _ = s.Globals(ctx)
	for _, g := range globals {
		if g.Key == "t-cpu" && g.Overridden != 1 {
			t.Fatalf("after clearing, overridden by %d, want 1", g.Overridden)
		}
	}
}

func mustEffective(t *testing.T, s *Service, tn tenancy.Tenant) Effective {
	t.Helper()
	e, err := s.Effective(context.Background(), tn)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestItemCheck(t *testing.T) {
	good := Threshold{Metric: "disk_percent", Operator: ">=", Value: 90, Severity: "critical"}
	cases := []struct {
		name string
		it   Item
		ok   bool
	}{
		{"good", Item{Key: "disk", Kind: KindThreshold, Threshold: &good}, true},
		{"bad key", Item{Key: "Disk!", Kind: KindThreshold, Threshold: &good}, false},
		{"no body", Item{Key: "disk", Kind: KindThreshold}, false},
		{"two bodies", Item{Key: "disk", Kind: KindThreshold, Threshold: &good, Agent: &AgentSettings{}}, false},
		{"bad metric", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "temp", Operator: ">", Severity: "warning"}}, false},
		{"bad operator", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "cpu_percent", Operator: "==", Severity: "warning"}}, false},
		{"a negative percentage", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "cpu_percent", Operator: ">", Value: -5, Severity: "warning"}}, false},
		{"a percentage over 100", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "memory_percent", Operator: ">", Value: 101, Severity: "warning"}}, false},
		{"100 percent", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "disk_percent", Operator: ">=", Value: 100, Severity: "critical"}}, true},
		{"a negative uptime", Item{Key: "x", Kind: KindThreshold, Threshold: &Threshold{Metric: "uptime_seconds", Operator: "<", Value: -1, Severity: "warning"}}, false},
		{"agent interval too short", Item{Key: "a", Kind: KindAgent, Agent: &AgentSettings{CheckInInterval: time.Second, OfflineAfterMissed: 3}}, false},
		{"routing without channels", Item{Key: "r", Kind: KindRouting, Routing: &Routing{MinSeverity: "warning"}}, false},
	}
	for _, tc := range cases {
		if err := tc.it.Check(); (err == nil) != tc.ok {
			t.Errorf("%s: err = %v", tc.name, err)
		}
	}
}

// A precondition sees the baseline as stored, inside the writing
// transaction: refusing writes nothing, and a create that someone else beat
// (the row appeared after the precondition saw none) is not overwritten.
func TestGlobalPreconditions(t *testing.T) {
	s, _ := setup(t)
	ctx := context.Background()
	refused := errors.New("refused")
	it, _ := threshold("t-pre", 80, false)
	if err := s.SetGlobalIf(ctx, it, false, func(cur *Global) error {
		if cur != nil {
			t.Errorf("a new key's precondition saw %+v", cur)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	changed, _ := threshold("t-pre", 85, false)
	if err := s.SetGlobalIf(ctx, changed, false, func(cur *Global) error {
		if cur == nil || cur.Threshold.Value != 80 {
			t.Errorf("the precondition saw %+v, want the stored value 80", cur)
		}
		return refused
	}); !errors.Is(err, refused) {
		t.Fatalf("refused write: %v", err)
	}
	if err := s.DeleteGlobalIf(ctx, "t-pre", func(*Global) error { return refused }); !errors.Is(err, refused) {
		t.Fatalf("refused delete: %v", err)
	}
	g, ok, err := s.global(ctx, "t-pre")
	if err != nil || !ok || g.Threshold.Value != 80 {
		t.Fatalf("after refusals: %+v %v %v, want the first value kept", g, ok, err)
	}

	// Someone else creates the key between the precondition and the write.
	other, _ := threshold("t-race", 70, false)
	mine, _ := threshold("t-race", 95, false)
	err = s.SetGlobalIf(ctx, mine, false, func(cur *Global) error {
		if cur != nil {
			t.Fatalf("t-race exists already: %+v", cur)
		}
		return s.SetGlobal(ctx, other, false) // another connection, committed at once
	})
	if !errors.Is(err, ErrChangedMeanwhile) {
		t.Fatalf("a create beaten by another: %v, want ErrChangedMeanwhile", err)
	}
	if g, _, _ := s.global(ctx, "t-race"); g.Threshold.Value != 70 {
		t.Errorf("the other's baseline was overwritten: %v", g.Threshold.Value)
	}
	if err := s.DeleteGlobalIf(ctx, "t-none", func(*Global) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleting a missing baseline: %v, want ErrNotFound", err)
	}
}
