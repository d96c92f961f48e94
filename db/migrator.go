package db

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// controlLockID serialises control-plane migrations across replicas.
const controlLockID = 0x5377_6974_6368 // "Switch"

// ErrControlBehind means the binary expects a newer control plane than the database has.
var ErrControlBehind = errors.New("control plane is behind this binary; run `switchboard migrate`")

// ControlVersion returns the control plane's schema version (0 when it was never migrated).
func ControlVersion(ctx context.Context, root *gorm.DB) (int, error) {
	return readVersion(root.WithContext(ctx), "control.schema_migrations")
}

// ErrServerBehind means a cell server's own tables are older than the binary.
var ErrServerBehind = errors.New("a cell server is behind this binary; run `switchboard migrate`")

// ServerVersion returns the version of a server's cell tables (0 when never migrated).
func ServerVersion(ctx context.Context, admin *gorm.DB) (int, error) {
	return readVersion(admin.WithContext(ctx), "control.server_migrations")
}

// MigrateControl applies pending control-plane migrations, then the cell
// server migrations (the control plane's server holds cells too), in one
// transaction under an advisory lock, so replicas starting together do not
// race. It returns the migrations applied.
func MigrateControl(ctx context.Context, root *gorm.DB, set Set) ([]Migration, error) {
	var applied []Migration
	err := root.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, controlLockID).Error; err != nil {
			return fmt.Errorf("locking control plane: %w", err)
		}
		done, err := applyPlane(tx, "control.schema_migrations", set)
		applied = append(applied, done...)
		if err != nil {
			return err
		}
		done, err = applyPlane(tx, "control.server_migrations", Server())
		applied = append(applied, done...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// MigrateServer applies pending cell server migrations to another server
// (as its administering login role), in one transaction under the same
// advisory lock. It returns the migrations applied.
func MigrateServer(ctx context.Context, admin *gorm.DB) ([]Migration, error) {
	var applied []Migration
	err := admin.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(?)`, controlLockID).Error; err != nil {
			return fmt.Errorf("locking cell server: %w", err)
		}
		var err error
		applied, err = applyPlane(tx, "control.server_migrations", Server())
		return err
	})
	return applied, err
}

// applyPlane applies set's pending migrations, recording each in table.
func applyPlane(tx *gorm.DB, table string, set Set) ([]Migration, error) {
	if err := tx.Exec(`CREATE SCHEMA IF NOT EXISTS control;
		CREATE TABLE IF NOT EXISTS ` + table + ` (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`).Error; err != nil {
		return nil, fmt.Errorf("creating %s: %w", table, err)
	}
	var current int
	if err := tx.Raw(`SELECT coalesce(max(version), 0) FROM ` + table).Scan(&current).Error; err != nil {
		return nil, fmt.Errorf("reading %s version: %w", set.Plane, err)
	}
	if current > set.Latest() {
		return nil, fmt.Errorf("%s is at version %d, newer than this binary's %d", set.Plane, current, set.Latest())
	}
	var applied []Migration
	for _, m := range set.Pending(current) {
		if err := tx.Exec(m.SQL).Error; err != nil {
			return applied, fmt.Errorf("%s migration %04d_%s: %w", set.Plane, m.Version, m.Name, err)
		}
		if err := tx.Exec(`INSERT INTO `+table+` (version, name) VALUES (?, ?)`, m.Version, m.Name).Error; err != nil {
			return applied, fmt.Errorf("recording %s migration %04d: %w", set.Plane, m.Version, err)
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// CheckControl returns ErrControlBehind unless the control plane (and its
// server's cell tables) are at the binary's latest versions.
func CheckControl(ctx context.Context, root *gorm.DB, set Set) error {
	v, err := ControlVersion(ctx, root)
	if err != nil {
		return err
	}
	if v < set.Latest() {
		return fmt.Errorf("%w (database at %d, binary needs %d)", ErrControlBehind, v, set.Latest())
	}
	if v > set.Latest() {
		return fmt.Errorf("control plane is at version %d, newer than this binary's %d; upgrade the binary", v, set.Latest())
	}
	return CheckServer(ctx, root, "the control plane's server")
}

// CheckServer returns ErrServerBehind unless the server's cell tables are
// at the binary's version; name says which server, for the message.
func CheckServer(ctx context.Context, admin *gorm.DB, name string) error {
	v, err := ServerVersion(ctx, admin)
	if err != nil {
		return err
	}
	latest := Server().Latest()
	if v < latest {
		return fmt.Errorf("%w (%s at %d, binary needs %d)", ErrServerBehind, name, v, latest)
	}
	if v > latest {
		return fmt.Errorf("%s has cell tables at version %d, newer than this binary's %d; upgrade the binary", name, v, latest)
	}
	return nil
}

// TenantVersion reads the version of the schema tx is scoped to.
func TenantVersion(tx *gorm.DB) (int, error) {
	return readVersion(tx, "schema_migrations")
}

// ApplyTenant brings the schema that tx is scoped to (search_path and role
// already set by the caller) up to the set's latest version, inside the
// caller's transaction. It trusts the schema's own version table, not the
// control plane's record, and returns the version it found and the one it left.
func ApplyTenant(tx *gorm.DB, set Set) (from, to int, err error) {
	from, err = TenantVersion(tx)
	if err != nil {
		return 0, 0, err
	}
	if from > set.Latest() {
		return from, from, fmt.Errorf("tenant schema is at version %d, newer than this binary's %d", from, set.Latest())
	}
	pending := set.Pending(from)
	if len(pending) == 0 {
		return from, from, nil
	}
	if from == 0 {
		if err := tx.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`).Error; err != nil {
			return from, from, fmt.Errorf("creating schema_migrations: %w", err)
		}
	}
	for _, m := range pending {
		// The file and its bookkeeping go in one round trip; the name matched
		// fileName, so it is safe inside the literal.
		stmt := m.SQL + fmt.Sprintf(";\nINSERT INTO schema_migrations (version, name) VALUES (%d, '%s')", m.Version, m.Name)
		if err := tx.Exec(stmt).Error; err != nil {
			return from, from, fmt.Errorf("tenant migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return from, set.Latest(), nil
}

// readVersion returns the highest version in table, or 0 when the table does
// not exist yet (a fresh database or schema).
func readVersion(tx *gorm.DB, table string) (int, error) {
	var exists bool
	if err := tx.Raw(`SELECT to_regclass(?) IS NOT NULL`, table).Scan(&exists).Error; err != nil {
		return 0, fmt.Errorf("looking for %s: %w", table, err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := tx.Raw(`SELECT coalesce(max(version), 0) FROM ` + table).Scan(&v).Error; err != nil {
		return 0, fmt.Errorf("reading %s: %w", table, err)
	}
	return v, nil
}
