package alerts

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/db"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var seq atomic.Int64

// fixture gives a test its own tenants on the package's database.
type fixture struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	alerts  *Service
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.PoolOptions{MaxOpen: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return fixture{cluster: c, tenants: tenants.NewService(c, tenants.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), alerts: NewService()}
}

func (f fixture) tenant(t *testing.T) tenancy.Tenant {
	t.Helper()
	slug := fmt.Sprintf("al-%d", seq.Add(1))
	tn, err := f.tenants.Create(context.Background(), tenants.CreateInput{Slug: slug, Name: "Alerts " + slug})
	if err != nil {
		t.Fatal(err)
	}
	return f.tenants.Scope(tn)
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
