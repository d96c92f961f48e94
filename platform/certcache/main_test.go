package certcache

import (
	"os"
	"testing"

	"switchboard/db/dbtest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// openCache connects to the package's database as the application role,
// migrates the control plane (which creates control.acme_cache) and returns
// a cache over it.
func openCache(t *testing.T) (*Cache, *tenancy.Cluster) {
	t.Helper()
	c := dbtest.Open(t, 4)
	return New(c.ControlDB()), c
}
