package jobs

import (
	"io"
	"log/slog"
	"os"
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

// newTenant provisions a bare tenant schema (role, schema, one table) the
// way production does, without the tenants module this package may not know.
func newTenant(t *testing.T, c *tenancy.Cluster) tenancy.Tenant {
	t.Helper()
	return dbtest.NewSchema(t, c, func(tx *gorm.DB) error {
		return tx.Exec(`CREATE TABLE marks (job_id bigint PRIMARY KEY, note text NOT NULL)`).Error
	})
}

// lookup is a TenantLookup over a fixed set of tenants.
type lookup = dbtest.Lookup
