package identity

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// env is everything a test of this package works with.
type env struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	svc     *Service
	audit   *audit.Service
}

// openEnv connects to the package's test database, migrates the control
// plane and builds the services under test.
func openEnv(t testing.TB) env {
	t.Helper()
	c, ts := tenantstest.Open(t)
	return env{cluster: c, tenants: ts, svc: NewService(c, ts, quiet), audit: audit.NewService(c)}
}

var seq atomic.Int64

// uniqueSlug, uniqueEmail and uniqueIP keep tests independent inside the
// shared package database (the throttle and the platform log are global).
func uniqueSlug(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

func uniqueEmail(prefix string) string { return fmt.Sprintf("%s-%d@example.com", prefix, seq.Add(1)) }

func uniqueIP() string {
	n := seq.Add(1)
	return fmt.Sprintf("198.51.%d.%d", (n/250)%250, n%250+1)
}

// newTenant provisions a tenant and returns its control row and scoped handle.
func (e env) newTenant(t testing.TB, prefix string) (tenants.Tenant, tenancy.Tenant) {
	t.Helper()
	tn := tenantstest.Create(t, e.tenants, prefix)
	return tn, e.tenants.Scope(tn)
}

// newStaff creates a staff user and returns it with its password.
func (e env) newStaff(t testing.TB, in StaffInput) (StaffUser, string) {
	t.Helper()
	u, pw, err := e.svc.CreateStaff(context.Background(), in)
	if err != nil {
		t.Fatalf("creating staff %s: %v", in.Email, err)
	}
	return u, pw
}

// superuser connects as the cluster's superuser, to look from outside.
func superuser(t testing.TB) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn
}

// admin runs a query as the superuser.
func admin(t testing.TB, query string, args ...any) pgx.Row {
	t.Helper()
	return superuser(t).QueryRow(context.Background(), query, args...)
}

// adminExec runs a statement as the superuser.
func adminExec(t testing.TB, query string, args ...any) {
	t.Helper()
	if _, err := superuser(t).Exec(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}
