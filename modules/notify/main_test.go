package notify

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var (
	seq   atomic.Int64
	quiet = slog.New(slog.NewTextHandler(io.Discard, nil))
)

// fixture gives a test the package's database, real tenants and alerts.
type fixture struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	alerts  *alerts.Service
	lookup  *tenantMap
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	c, ts := tenantstest.Open(t)
	return fixture{
		cluster: c,
		tenants: ts,
		alerts:  alerts.NewService(policies.NewService(c), slas.Panel(policies.NewService(c))),
		lookup:  &tenantMap{m: map[int64]tenancy.Tenant{}},
	}
}

func (f fixture) tenant(t *testing.T) tenancy.Tenant {
	t.Helper()
	slug := fmt.Sprintf("nt-%d", seq.Add(1))
	tn, err := f.tenants.Create(context.Background(), tenants.CreateInput{Slug: slug, Name: "Notify " + slug})
	if err != nil {
		t.Fatal(err)
	}
	scoped := f.tenants.Scope(tn)
	f.lookup.add(scoped)
	return scoped
}

// tenantMap stands in for tenants.Service.ByID, which app wires in production.
type tenantMap struct {
	mu sync.Mutex
	m  map[int64]tenancy.Tenant
}

func (l *tenantMap) add(t tenancy.Tenant) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.m[t.ID] = t
}

func (l *tenantMap) ByID(_ context.Context, id int64) (tenancy.Tenant, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.m[id]
	if !ok {
		return tenancy.Tenant{}, tenancy.ErrUnknownTenant
	}
	return t, nil
}
