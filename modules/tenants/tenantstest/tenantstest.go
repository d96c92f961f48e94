// Package tenantstest gives other packages' tests what most of them start
// from: the package's test database (pgtest) with a migrated control plane,
// the tenants service, and fresh tenants to work in.
package tenantstest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"

	"switchboard/db"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// Quiet is a logger that discards everything, for services under test.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// Open connects to the test package's database (pgtest.Run must be running
// in TestMain), migrates the control plane and returns the cluster and the
// tenants service. Both are closed when the test ends.
func Open(t testing.TB) (*tenancy.Cluster, *tenants.Service) {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{Pool: tenancy.PoolOptions{MaxOpen: 12}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return c, tenants.NewService(c, tenants.Options{Logger: Quiet})
}

var seq atomic.Int64

// Create provisions a tenant whose slug starts with prefix and is unique in
// the package's database, so tests never depend on each other's tenants.
func Create(t testing.TB, s *tenants.Service, prefix string) tenants.Tenant {
	t.Helper()
	slug := fmt.Sprintf("%s-%d", prefix, seq.Add(1))
	tn, err := s.Create(context.Background(), tenants.CreateInput{Slug: slug, Name: "Test " + slug})
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
