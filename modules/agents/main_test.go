package agents

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var seq atomic.Int64

// t0 is the injected clock's start: well clear of the real time, so that a
// timestamp the database wrote itself (now()) is never mistaken for ours.
var t0 = time.Date(2031, 3, 4, 10, 0, 0, 0, time.UTC)

// clock is the service's injected time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// fixture gives a test the real services on the package's database.
type fixture struct {
	tenants  *tenants.Service
	policies *policies.Service
	alerts   *alerts.Service
	agents   *Service
	clock    *clock
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	c, ts := tenantstest.Open(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pol := policies.NewService(c)
	f := fixture{tenants: ts, policies: pol, alerts: alerts.NewService(pol, slas.Panel(pol)), clock: &clock{now: t0}}
	f.agents = NewService(Options{Tenants: f.tenants, Policies: f.policies, Alerts: f.alerts, Logger: log, Now: f.clock.Now})
	return f
}

// tenant creates a tenant whose only thresholds are items (the global
// baselines are switched off for it); agent settings stay the default
// (check in every minute, offline after 3 missed).
func (f fixture) tenant(t *testing.T, items ...policies.Item) tenancy.Tenant {
	t.Helper()
	ctx := context.Background()
	slug := fmt.Sprintf("ag-%d", seq.Add(1))
	tn, err := f.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Agents " + slug})
	if err != nil {
		t.Fatal(err)
	}
	scoped := f.tenants.Scope(tn)
	globals, err := f.policies.Globals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	for _, g := range globals {
		if g.Kind == policies.KindThreshold && !g.Locked {
			if err := f.policies.Override(ctx, scoped, g.Key, &off, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, it := range items {
		if err := f.policies.SetTenantItem(ctx, scoped, it); err != nil {
			t.Fatal(err)
		}
	}
	return scoped
}

// threshold is a tenant threshold item.
func threshold(key, metric, op string, value float64, hold time.Duration, severity string, autoResolve bool) policies.Item {
	return policies.Item{Key: key, Kind: policies.KindThreshold, Enabled: true, Threshold: &policies.Threshold{
		Metric: metric, Operator: op, Value: value, For: hold, Severity: severity, AutoResolve: autoResolve}}
}

// enroll creates a token and enrolls host with it, returning the credential.
func (f fixture) enroll(t *testing.T, tn tenancy.Tenant, host string) Enrollment {
	t.Helper()
	ctx := context.Background()
	tok, _, err := f.agents.CreateToken(ctx, tn, "test", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	en, err := f.agents.Enroll(ctx, tok, host, "linux")
	if err != nil {
		t.Fatal(err)
	}
	return en
}

// report is a healthy check-in of host.
func report(host string) Report {
	return Report{Hostname: host, OS: "linux", UptimeSeconds: 3600, CPUPercent: 10, MemoryPercent: 20,
		Disks: []Disk{{Mount: "/", UsedPercent: 30}}}
}

func (f fixture) checkIn(t *testing.T, cred string, r Report) {
	t.Helper()
	if _, err := f.agents.CheckIn(context.Background(), cred, r); err != nil {
		t.Fatalf("check-in %+v: %v", r, err)
	}
}

// alertsOf lists every alert of the tenant (any status) raised by rule.
func (f fixture) alertsOf(t *testing.T, tn tenancy.Tenant, rule string) []alerts.Alert {
	t.Helper()
	all, err := f.alerts.List(context.Background(), tn, alerts.Filter{Status: "all"})
	if err != nil {
		t.Fatal(err)
	}
	var out []alerts.Alert
	for _, a := range all {
		if a.Rule == rule {
			out = append(out, a)
		}
	}
	return out
}

// count runs a count query in the tenant's schema.
func count(t *testing.T, tn tenancy.Tenant, query string, args ...any) int64 {
	t.Helper()
	var n int64
	err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error { return tx.Raw(query, args...).Scan(&n).Error })
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// nextOffline reads the tenant's control-plane deadline as the superuser.
func nextOffline(t *testing.T, tn tenancy.Tenant) *time.Time {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var at *time.Time
	err = conn.QueryRow(ctx, `SELECT max(next_offline_at) FROM control.tenant_rollups WHERE tenant_id = $1`, tn.ID).Scan(&at)
	if err != nil {
		t.Fatal(err)
	}
	return at
}
