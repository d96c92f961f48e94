package outbox

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openCluster connects to the package's database with the control plane migrated.
func openCluster(t *testing.T) *tenancy.Cluster {
	t.Helper()
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.PoolOptions{MaxOpen: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, err := db.MigrateControl(ctx, c.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	seqMu sync.Mutex
	seq   int
)

// newTenant provisions a tenant the way production does (a control-plane
// row, role, schema, every tenant migration), without the tenants module
// this package may not import.
func newTenant(t *testing.T, c *tenancy.Cluster) tenancy.Tenant {
	t.Helper()
	seqMu.Lock()
	seq++
	slug := fmt.Sprintf("ob%d-%d", os.Getpid(), seq)
	seqMu.Unlock()
	var id int64
	err := c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT nextval(pg_get_serial_sequence('control.tenants', 'id'))`).Scan(&id).Error; err != nil {
			return err
		}
		name := tenancy.SchemaName(id)
		if err := tx.Exec(`INSERT INTO control.tenants (id, slug, name, schema_name, role_name) OVERRIDING SYSTEM VALUE VALUES (?, ?, ?, ?, ?)`,
			id, slug, slug, name, name).Error; err != nil {
			return err
		}
		if err := tenancy.CreateSchema(tx, id); err != nil {
			return err
		}
		if _, _, err := db.ApplyTenant(tx, db.Tenant()); err != nil {
			return err
		}
		return tenancy.Leave(tx)
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

// lookup is a TenantLookup over a fixed set of tenants.
type lookup map[int64]tenancy.Tenant

func (l lookup) ByID(_ context.Context, id int64) (tenancy.Tenant, error) {
	t, ok := l[id]
	if !ok {
		return tenancy.Tenant{}, tenancy.ErrUnknownTenant
	}
	return t, nil
}

// pinged and ponged are test events of two kinds.
type pinged struct {
	N int `json:"n"`
}

func (pinged) EventKind() string { return "test.pinged" }

type ponged struct {
	N int `json:"n"`
}

func (ponged) EventKind() string { return "test.ponged" }

// seen collects what handlers received, in order.
type seen struct {
	mu  sync.Mutex
	got []string
}

func (s *seen) add(v string) {
	s.mu.Lock()
	s.got = append(s.got, v)
	s.mu.Unlock()
}

func (s *seen) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}
