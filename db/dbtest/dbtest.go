// Package dbtest gives platform packages' tests a connected cluster on
// the package's test database (pgtest) with the control plane migrated, and
// tenants provisioned the way production does, without the tenants module
// that platform code may not import.
package dbtest

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// Open connects to the test database with a pool of maxOpen connections and
// migrates the control plane (River's tables included).
func Open(t testing.TB, maxOpen int) *tenancy.Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{Pool: tenancy.PoolOptions{MaxOpen: maxOpen}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return c
}

var seq atomic.Int64

// NewTenant provisions an active tenant: its control-plane row, role and
// schema, and every tenant migration. The test's cleanup drops them.
func NewTenant(t testing.TB, c *tenancy.Cluster) tenancy.Tenant {
	t.Helper()
	slug := fmt.Sprintf("tt%d-%d", os.Getpid(), seq.Add(1))
	var id int64
	cell, err := c.Cell(context.Background(), tenancy.DefaultCell)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT nextval(pg_get_serial_sequence('control.tenants', 'id'))`).Scan(&id).Error; err != nil {
			return err
		}
		name := tenancy.SchemaName(id)
		if err := tx.Exec(`INSERT INTO control.tenants (id, slug, name, schema_name, role_name, cell) OVERRIDING SYSTEM VALUE VALUES (?, ?, ?, ?, ?, ?)`,
			id, slug, slug, name, name, tenancy.DefaultCell).Error; err != nil {
			return err
		}
		if err := tenancy.CreateSchema(tx, id); err != nil {
			return err
		}
		if _, _, err := db.ApplyTenant(tx, db.Tenant()); err != nil {
			return err
		}
		return tenancy.Seal(tx, id, cell.Role)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.ControlDB().Transaction(func(tx *gorm.DB) error {
			if err := tenancy.DropSchema(tx, id); err != nil {
				return err
			}
			return tx.Exec(`DELETE FROM control.tenants WHERE id = ?`, id).Error
		})
	})
	return c.Bind(tenancy.Tenant{ID: id, Slug: slug, Status: tenancy.StatusActive})
}

// Lookup finds tenants by id from a fixed set, as the tenants module does in
// production (jobs.TenantLookup and its kin).
type Lookup map[int64]tenancy.Tenant

// ByID returns the tenant, or an error wrapping tenancy.ErrUnknownTenant.
func (l Lookup) ByID(_ context.Context, id int64) (tenancy.Tenant, error) {
	t, ok := l[id]
	if !ok {
		return tenancy.Tenant{}, fmt.Errorf("tenant %d: %w", id, tenancy.ErrUnknownTenant)
	}
	return t, nil
}

var schemaSeq atomic.Int64

func init() { schemaSeq.Store(int64(os.Getpid()) * 1000) }

// NewSchema provisions a bare tenant schema with no control-plane row: its
// role, the schema, whatever setup creates inside it (run as the tenant),
// handed to the default cell as production does. The test's cleanup drops it.
func NewSchema(t testing.TB, c *tenancy.Cluster, setup func(tx *gorm.DB) error) tenancy.Tenant {
	t.Helper()
	id := schemaSeq.Add(1)
	cell, err := c.Cell(context.Background(), tenancy.DefaultCell)
	if err != nil {
		t.Fatal(err)
	}
	err = c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := tenancy.CreateSchema(tx, id); err != nil {
			return err
		}
		if setup != nil {
			if err := setup(tx); err != nil {
				return err
			}
		}
		return tenancy.Seal(tx, id, cell.Role)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = c.ControlDB().Transaction(func(tx *gorm.DB) error { return tenancy.DropSchema(tx, id) })
	})
	return c.Bind(tenancy.Tenant{ID: id, Slug: tenancy.SchemaName(id), Status: tenancy.StatusActive})
}
