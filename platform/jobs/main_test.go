package jobs

import (
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"switchboard/db/dbtest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openCluster connects to the package's database and migrates the control
// plane, which brings River's tables with it.
func openCluster(t *testing.T) *tenancy.Cluster { return dbtest.Open(t, 4) }

var nextID atomic.Int64

func init() { nextID.Store(int64(os.Getpid()) * 1000) }

// newTenant provisions a bare tenant schema (role, schema, one table) the
// way production does, without the tenants module this package may not know.
func newTenant(t *testing.T, c *tenancy.Cluster) tenancy.Tenant {
	t.Helper()
	id := nextID.Add(1)
	err := c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := tenancy.CreateSchema(tx, id); err != nil {
			return err
		}
		return tx.Exec(`CREATE TABLE marks (job_id bigint PRIMARY KEY, note text NOT NULL)`).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.ControlDB().Transaction(func(tx *gorm.DB) error { return tenancy.DropSchema(tx, id) })
	})
	return c.Bind(tenancy.Tenant{ID: id, Slug: tenancy.SchemaName(id), Status: tenancy.StatusActive})
}

// lookup is a TenantLookup over a fixed set of tenants.
type lookup = dbtest.Lookup
