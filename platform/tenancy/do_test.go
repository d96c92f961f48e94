package tenancy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

func TestDoScopesToTheTenant(t *testing.T) {
	c := openCluster(t, 4)
	a := newTenant(t, c)
	var schema, user, path string
	err := Do(context.Background(), a, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT current_schema(), current_user, current_setting('search_path')`).Row().Scan(&schema, &user, &path)
	})
	if err != nil {
		t.Fatal(err)
	}
	if schema != a.Schema() || user != a.Role() || path != a.Schema() {
		t.Fatalf("inside Do: schema=%q user=%q search_path=%q, want %q", schema, user, path, a.Schema())
	}
}

// assertPoolClean holds every open connection of the cell's pools at once
// and checks that none of them carries a tenant's search_path or role.
func assertPoolClean(t *testing.T, c *Cluster) {
	t.Helper()
	ctx := context.Background()
	cell, err := c.Cell(ctx, DefaultCell)
	if err != nil {
		t.Fatal(err)
	}
	inspected := 0
	for _, shard := range cell.pools {
		pool := shard.sql
		open := pool.Stats().OpenConnections
		var conns []interface{ Close() error }
		for i := 0; i < open; i++ {
			conn, err := pool.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			var path, user string
			if err := conn.QueryRowContext(ctx, `SELECT current_setting('search_path'), current_user`).Scan(&path, &user); err != nil {
				t.Fatal(err)
			}
			if path != `"$user", public` || user != cell.Role {
				t.Errorf("pooled connection %d carries state: search_path=%q current_user=%q", i, path, user)
			}
		}
		if got := pool.Stats().OpenConnections; got != open {
			t.Fatalf("inspected %d connections but the pool now has %d", open, got)
		}
		for _, conn := range conns {
			_ = conn.Close()
		}
		inspected += open
	}
	if inspected == 0 {
		t.Fatal("the cell's pools have no connections to inspect")
	}
}

func TestPoolCarriesNoTenantAfterDo(t *testing.T) {
	c := openCluster(t, 6)
	tenants := []Tenant{newTenant(t, c), newTenant(t, c), newTenant(t, c)}
	var wg sync.WaitGroup
	for g := 0; g < 12; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				_ = Do(context.Background(), tenants[(g+i)%3], func(tx *gorm.DB) error {
					return tx.Exec(`SELECT count(*) FROM settings`).Error
				})
			}
		}(g)
	}
	wg.Wait()
	assertPoolClean(t, c)
}

func TestOtherTenantsAndControlPlaneAreRefused(t *testing.T) {
	c := openCluster(t, 4)
	a, b := newTenant(t, c), newTenant(t, c)
	ctx := context.Background()
	queries := map[string]string{
		"other tenant's table":  `SELECT count(*) FROM ` + b.Schema() + `.settings`,
		"other tenant's schema": `CREATE TABLE ` + b.Schema() + `.intruder (id int)`,
		"control plane":         `SELECT count(*) FROM control.tenants`,
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			err := Do(ctx, a, func(tx *gorm.DB) error { return tx.Exec(q).Error })
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
				t.Fatalf("%s: want permission denied (42501), got %v", q, err)
			}
		})
	}
	t.Run("app role outside Do", func(t *testing.T) {
		err := c.ControlDB().Exec(`SELECT count(*) FROM ` + a.Schema() + `.settings`).Error
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("the NOINHERIT app role must not read tenant data directly, got %v", err)
		}
	})
	assertPoolClean(t, c)
}

// SET ROLE is checked against the session user, so PostgreSQL itself lets
// code inside Do switch to another tenant's role. Do refuses such statements
// before they are sent, and its commit guard catches what slips past the
// pattern (here, a role name computed in SQL).
func TestScopeEscapeIsRefused(t *testing.T) {
	c := openCluster(t, 2)
	a, b := newTenant(t, c), newTenant(t, c)
	ctx := context.Background()
	if err := Do(ctx, b, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (key, value) VALUES ('secret', 'b-only')`).Error
	}); err != nil {
		t.Fatal(err)
	}
	refused := []string{
		`SET LOCAL ROLE ` + b.Role(),
		`set role ` + b.Role(),
		`SET search_path = ` + b.Schema(),
		`SET SESSION AUTHORIZATION DEFAULT`,
		`RESET ROLE`,
		`reset all`,
		`DISCARD ALL`,
		`SELECT set_config('role', '` + b.Role() + `', true)`,
		`SELECT  SET_CONFIG( 'search_path', '` + b.Schema() + `', false)`,
		`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only`,
		`alter table ` + a.Schema() + `.audit_log rename to x`,
		`ALTER TABLE settings DISABLE TRIGGER ALL`,
	}
	for _, q := range refused {
		t.Run(q, func(t *testing.T) {
			var leaked string
			err := Do(ctx, a, func(tx *gorm.DB) error {
				if err := tx.Exec(q).Error; err != nil {
					return err
				}
				return tx.Raw(`SELECT value FROM ` + b.Schema() + `.settings WHERE key = 'secret'`).Scan(&leaked).Error
			})
			if !errors.Is(err, ErrScopeChange) || leaked != "" {
				t.Fatalf("want ErrScopeChange and nothing read, got %v (read %q)", err, leaked)
			}
			var n int
			err = Do(ctx, a, func(tx *gorm.DB) error { return tx.Raw(q).Row().Scan(&n) })
			if err == nil || !strings.Contains(err.Error(), ErrScopeChange.Error()) {
				t.Fatalf("Row(): want the scope error, got %v", err)
			}
		})
	}
	t.Run("computed role name reaches the commit guard", func(t *testing.T) {
		err := Do(ctx, a, func(tx *gorm.DB) error {
			if err := tx.Exec(`SELECT set_config(lower('ROLE'), ?, true)`, b.Role()).Error; err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO ` + b.Schema() + `.settings (key, value) VALUES ('escaped', 'x')`).Error
		})
		if !errors.Is(err, ErrScopeEscaped) {
			t.Fatalf("want ErrScopeEscaped, got %v", err)
		}
		var n int64
		if err := Do(ctx, b, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT count(*) FROM settings WHERE key = 'escaped'`).Scan(&n).Error
		}); err != nil || n != 0 {
			t.Fatalf("escaped write was committed: n=%d err=%v", n, err)
		}
	})
	assertPoolClean(t, c)
}

func TestErrorAndPanicRollBackAndLeaveConnectionClean(t *testing.T) {
	c := openCluster(t, 1) // one connection: whatever Do leaves behind, the next user gets
	a := newTenant(t, c)
	ctx := context.Background()
	boom := errors.New("boom")

	err := Do(ctx, a, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('rolled.back.error', 'x')`).Error; err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Do must return fn's error, got %v", err)
	}

	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("Do must re-panic with fn's value, got %v", p)
			}
		}()
		_ = Do(ctx, a, func(tx *gorm.DB) error {
			tx.Exec(`INSERT INTO settings (key, value) VALUES ('rolled.back.panic', 'x')`)
			panic("kaboom")
		})
	}()

	// A statement error aborts the transaction; Do must still roll back cleanly.
	err = Do(ctx, a, func(tx *gorm.DB) error { return tx.Exec(`SELECT * FROM no_such_table`).Error })
	if err == nil {
		t.Fatal("want an error for a missing table")
	}

	var n int64
	if err := Do(ctx, a, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM settings WHERE key LIKE 'rolled.back.%'`).Scan(&n).Error
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d rows survived a failed Do", n)
	}
	assertPoolClean(t, c)
}

func TestNestedTransactionUsesSavepoint(t *testing.T) {
	c := openCluster(t, 2)
	a := newTenant(t, c)
	ctx := context.Background()
	err := Do(ctx, a, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('outer.kept', '1')`).Error; err != nil {
			return err
		}
		inner := tx.Transaction(func(tx2 *gorm.DB) error {
			if err := tx2.Exec(`INSERT INTO settings (key, value) VALUES ('inner.dropped', '1')`).Error; err != nil {
				return err
			}
			return errors.New("undo inner")
		})
		if inner == nil {
			return errors.New("inner transaction should have failed")
		}
		if err := tx.Commit().Error; err == nil {
			return errors.New("fn must not be able to commit Do's transaction")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := Do(ctx, a, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT key FROM settings WHERE key IN ('outer.kept', 'inner.dropped') ORDER BY key`).Scan(&keys).Error
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[outer.kept]" {
		t.Fatalf("after savepoint rollback got %v, want [outer.kept]", keys)
	}
}

func TestUnboundTenantIsRefused(t *testing.T) {
	err := Do(context.Background(), Tenant{ID: 1}, func(*gorm.DB) error { return nil })
	if !errors.Is(err, ErrUnboundTenant) {
		t.Fatalf("want ErrUnboundTenant, got %v", err)
	}
}
