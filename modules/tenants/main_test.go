package tenants

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
	"switchboard/platform/pgembed"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openService connects to the package's test database, migrates the control
// plane and returns a service using the given tenant migrations.
func openService(t testing.TB, migrations db.Set) (*Service, *tenancy.Cluster) {
	t.Helper()
	return openServiceWith(t, migrations, nil)
}

// openServiceWith is openService with the cells of cellURLs on their servers.
func openServiceWith(t testing.TB, migrations db.Set, cellURLs map[string]string) (*Service, *tenancy.Cluster) {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{Pool: tenancy.PoolOptions{MaxOpen: 8}, CellURLs: cellURLs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	bin, _ := pgembed.FindBinaries()
	return NewService(c, Options{Migrations: migrations, Logger: quiet,
		Export: ExportConfig{BinDir: bin}}), c
}

var seq atomic.Int64

// uniqueSlug keeps tests independent inside the shared package database.
func uniqueSlug(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

// admin runs a query as the superuser, to look at the catalog from outside.
func admin(t testing.TB, query string, args ...any) pgx.Row {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn.QueryRow(ctx, query, args...)
}

// catalogCounts returns how many tenant rows, tenant_ schemas and tenant_ roles exist.
func catalogCounts(t testing.TB) (rows, schemas, roles int) {
	t.Helper()
	err := admin(t, `SELECT (SELECT count(*) FROM control.tenants),
		(SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\_%'),
		(SELECT count(*) FROM pg_roles WHERE rolname LIKE 'tenant\_%')`).Scan(&rows, &schemas, &roles)
	if err != nil {
		t.Fatal(err)
	}
	return rows, schemas, roles
}
