package certcache

import (
	"context"
	"os"
	"testing"

	"switchboard/db"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// openCache connects to the package's database as the application role,
// migrates the control plane (which creates control.acme_cache) and returns
// a cache over it.
func openCache(t *testing.T) (*Cache, *tenancy.Cluster) {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.PoolOptions{MaxOpen: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return New(c.ControlDB()), c
}
