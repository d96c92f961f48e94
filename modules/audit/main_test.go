package audit_test

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/audit"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

type env struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	svc     *audit.Service
}

// openEnv connects to the package's test database, migrates the control
// plane and builds the services.
func openEnv(t testing.TB) env {
	t.Helper()
	c, ts := tenantstest.Open(t)
	return env{cluster: c, tenants: ts, svc: audit.NewService(c)}
}

var seq atomic.Int64

// uniqueSlug keeps tests independent inside the shared package database.
func uniqueSlug(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// newTenant provisions a tenant and returns its control row and scoped handle.
func (e env) newTenant(t testing.TB, prefix string) (tenants.Tenant, tenancy.Tenant) {
	t.Helper()
	tn := tenantstest.Create(t, e.tenants, prefix)
	return tn, e.tenants.Scope(tn)
}

// tenantLister is the list function Export and Each take, for one tenant.
func (e env) tenantLister(scope tenancy.Tenant) func(audit.Filter) ([]audit.Entry, error) {
	return func(f audit.Filter) ([]audit.Entry, error) { return e.svc.Tenant(context.Background(), scope, f) }
}

// admin runs a query as the superuser, to look from outside.
func admin(t testing.TB, query string, args ...any) pgx.Rows {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	t.Cleanup(rows.Close)
	return rows
}

// adminEntries reads a whole audit log table as the superuser, newest first.
func adminEntries(t testing.TB, table string) []audit.Entry {
	t.Helper()
	rows := admin(t, `SELECT id, at, actor, action, target, summary, client_ip FROM `+table+` ORDER BY id DESC`)
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.Summary, &e.ClientIP); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
