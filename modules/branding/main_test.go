package branding_test

import (
	"context"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/branding"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// fixture is the package's database, the tenants service and a branding
// service with its cache off (tests that need the cache build their own).
type fixture struct {
	tenants *tenants.Service
	svc     *branding.Service
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	_, ts := tenantstest.Open(t)
	return fixture{tenants: ts, svc: branding.NewService(branding.Options{CacheTTL: -1})}
}

// tenant provisions a fresh tenant and returns its control row and scoped handle.
func (f fixture) tenant(t *testing.T) (tenants.Tenant, tenancy.Tenant) {
	t.Helper()
	tn := tenantstest.Create(t, f.tenants, "br")
	return tn, f.tenants.Scope(tn)
}

// count runs a count query in a tenant's schema as the superuser, looking from outside.
func count(t *testing.T, tn tenants.Tenant, table string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+tn.SchemaName+`.`+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// adminExec runs a statement as the superuser (test set-up the app may not do).
func adminExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatal(err)
	}
}

// adminQuery reads one text column as the superuser.
func adminQuery(t *testing.T, sql string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}
