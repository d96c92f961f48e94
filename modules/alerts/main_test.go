package alerts

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// fixture gives a test its own tenants on the package's database.
type fixture struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	alerts  *Service
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	c, ts := tenantstest.Open(t)
	return fixture{cluster: c, tenants: ts, alerts: NewService(policies.NewService(c), noSLA)}
}

// noSLA stands in for the slas module's panel, which this package cannot import.
func noSLA(context.Context, tenancy.Tenant, Alert, []Event) (*SLAPanel, error) { return nil, nil }

func (f fixture) tenant(t *testing.T) tenancy.Tenant {
	t.Helper()
	return f.tenants.Scope(tenantstest.Create(t, f.tenants, "al"))
}

// rollup reads a tenant's open-alert counters as the superuser.
func rollup(t *testing.T, tn tenancy.Tenant) (critical, warning, info int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	err = conn.QueryRow(ctx, `SELECT coalesce(max(open_critical), 0), coalesce(max(open_warning), 0), coalesce(max(open_info), 0)
		FROM control.tenant_rollups WHERE tenant_id = $1`, tn.ID).Scan(&critical, &warning, &info)
	if err != nil {
		t.Fatal(err)
	}
	return critical, warning, info
}
