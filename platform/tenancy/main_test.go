package tenancy

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// openCluster connects to the package's test database with a pool of size
// maxOpen and makes sure the control plane exists.
func openCluster(t testing.TB, maxOpen int) *Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := Open(ctx, pgtest.URL(), Options{Pool: PoolOptions{MaxOpen: maxOpen}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return c
}

var nextID atomic.Int64

func init() { nextID.Store(int64(os.Getpid()) * 1000) }

// newTenant provisions a schema and role the way production does (without a
// control-plane row, which this package does not own) and returns it bound.
func newTenant(t testing.TB, c *Cluster) Tenant {
	t.Helper()
	id := nextID.Add(1)
	cell, err := c.Cell(context.Background(), DefaultCell)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := CreateSchema(tx, id); err != nil {
			return err
		}
		if _, _, err := db.ApplyTenant(tx, db.Tenant()); err != nil {
			return err
		}
		return Seal(tx, id, cell.Role)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.ControlDB().Transaction(func(tx *gorm.DB) error { return DropSchema(tx, id) })
	})
	return c.Bind(Tenant{ID: id, Slug: SchemaName(id), Status: StatusActive})
}
