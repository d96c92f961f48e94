// Package db holds the versioned SQL migrations of both planes and the
// migrator that applies them. Files are plain SQL named NNNN_what.sql; each
// file is one version and runs as one multi-statement exec.
//
// goose was the first choice, but its Provider runs each migration in a
// transaction of its own on a *sql.DB; here a tenant's whole upgrade (and a
// new tenant's whole provisioning) must be one transaction that the caller
// owns, scoped with transaction-local role and search_path. So the runner is
// ours, and small.
package db

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
)

//go:embed migrations/control/*.sql migrations/tenant/*.sql migrations/server/*.sql
var embedded embed.FS

// Migration is one versioned SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Set is the ordered list of migrations of one plane.
type Set struct {
	Plane      string
	Migrations []Migration
}

var fileName = regexp.MustCompile(`^([0-9]{4})_([a-z0-9_]+)\.sql$`)

// Control returns the embedded control-plane migrations.
func Control() Set { return mustLoad(embedded, "migrations/control", "control") }

// Server returns the embedded migrations of what every server holding
// cells keeps outside the tenant schemas (rollups, outbox marks).
func Server() Set { return mustLoad(embedded, "migrations/server", "server") }

// Tenant returns the embedded tenant-plane migrations.
func Tenant() Set { return mustLoad(embedded, "migrations/tenant", "tenant") }

func mustLoad(fsys fs.FS, dir, plane string) Set {
	s, err := Load(fsys, dir, plane)
	if err != nil {
		panic(err) // embedded files are checked by tests; a bad name is a build mistake
	}
	return s
}

// Load reads NNNN_name.sql files from dir. Versions must run 1, 2, 3… without gaps.
func Load(fsys fs.FS, dir, plane string) (Set, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return Set{}, fmt.Errorf("reading %s migrations: %w", plane, err)
	}
	set := Set{Plane: plane}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return Set{}, fmt.Errorf("%s migration %q: name must look like 0001_what.sql", plane, e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		body, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return Set{}, fmt.Errorf("reading %s migration %s: %w", plane, e.Name(), err)
		}
		set.Migrations = append(set.Migrations, Migration{Version: v, Name: m[2], SQL: string(body)})
	}
	sort.Slice(set.Migrations, func(i, j int) bool { return set.Migrations[i].Version < set.Migrations[j].Version })
	for i, m := range set.Migrations {
		if m.Version != i+1 {
			return Set{}, fmt.Errorf("%s migrations: expected version %d, found %04d_%s", plane, i+1, m.Version, m.Name)
		}
	}
	return set, nil
}

// Latest is the version a schema has after every migration of the set.
func (s Set) Latest() int { return len(s.Migrations) }

// Pending returns the migrations after version current.
func (s Set) Pending(current int) []Migration {
	if current >= len(s.Migrations) {
		return nil
	}
	if current < 0 {
		current = 0
	}
	return s.Migrations[current:]
}

// With returns a copy of the set with extra migrations appended; tests and
// benchmarks use it to add a migration (or a failing one) to the real set.
func (s Set) With(extra ...Migration) Set {
	out := Set{Plane: s.Plane, Migrations: append([]Migration(nil), s.Migrations...)}
	for i, m := range extra {
		m.Version = len(s.Migrations) + i + 1
		out.Migrations = append(out.Migrations, m)
	}
	return out
}
