package jobs

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"switchboard/platform/pgtest"
)

// River's schema is checked in as a control-plane migration, so it is
// applied with the rest of the control plane: one flow, one transaction
// under the migration lock, one version number that serve checks. The
// file is generated from River's own migrations, never edited by hand:
//
//	go test ./platform/jobs -run TestRiverMigrationFile -update
var update = flag.Bool("update", false, "rewrite the checked-in River migration from River's own SQL")

// riverFile is the control-plane migration that holds River's versions 1..riverFileTo.
const (
	riverFile   = "../../db/migrations/control/0006_jobs.sql"
	riverFileTo = 8
)

// riverSQL renders River's up migrations from+1..to for schema control,
// followed by the rows River's own migrator would have written, so that
// rivermigrate sees the schema as migrated and a later River version only
// needs its new steps.
func riverSQL(t *testing.T, from, to int) string {
	t.Helper()
	m, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Schema: Schema})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `-- River's tables in the control plane: River migrations %03d-%03d (main line),
-- generated from github.com/riverqueue/river's own SQL for schema %s. Do not edit:
-- regenerate with `+"`go test ./platform/jobs -run TestRiverMigrationFile -update`"+`.
-- The last statement records the versions the way rivermigrate does, so River's
-- migrator and validator agree that these are applied.
--
-- One change to River's SQL: the job state 'pending' is created with the enum
-- in 002 instead of being added by 004, because our control-plane migrations
-- run in one transaction and PostgreSQL refuses to use an enum value in the
-- transaction that added it (006 does). 004's ADD VALUE IF NOT EXISTS is then a
-- no-op. TestRiverSchemaMatchesRiversOwn checks that the result is the schema
-- River's own migrator builds.
`, from+1, to, Schema)
	var versions []string
	for _, v := range m.AllVersions() {
		if v.Version <= from || v.Version > to {
			continue
		}
		sql := v.SQLUp
		if v.Version == 2 {
			sql = foldPending(t, sql)
		}
		fmt.Fprintf(&b, "\n-- River %03d: %s\n\n", v.Version, v.Name)
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(sql, "/* TEMPLATE: schema */", Schema+".")))
		b.WriteString("\n")
		versions = append(versions, fmt.Sprintf("('main', %d)", v.Version))
	}
	if len(versions) != to-from {
		t.Fatalf("River has %d of the migrations %d..%d", len(versions), from+1, to)
	}
	fmt.Fprintf(&b, "\nINSERT INTO %s.river_migration (line, version) VALUES %s;\n", Schema, strings.Join(versions, ", "))
	return b.String()
}

// foldPending adds 'pending' to river_job_state where 002 creates it, in the
// place 004's "ADD VALUE 'pending' AFTER 'discarded'" would put it.
func foldPending(t *testing.T, sql string) string {
	t.Helper()
	const discarded = "  'discarded',\n"
	if strings.Count(sql, discarded) != 1 || strings.Contains(sql, "'pending'") {
		t.Fatal("River's 002 no longer creates river_job_state as expected; revisit foldPending")
	}
	return strings.Replace(sql, discarded, discarded+"  'pending',\n", 1)
}

func TestRiverMigrationFile(t *testing.T) {
	want := riverSQL(t, 0, riverFileTo)
	path := filepath.FromSlash(riverFile)
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s differs from River's SQL; regenerate it with -update (and review the diff)", riverFile)
	}
}

// TestRiverSchemaMatchesRiversOwn builds River's schema with River's own
// migrator (one transaction per version) in a scratch schema and compares
// it, catalog by catalog, with what our control-plane migration built.
func TestRiverSchemaMatchesRiversOwn(t *testing.T) {
	c := openCluster(t)
	ctx := context.Background()
	const ref = "river_reference"
	root := c.ControlDB().WithContext(ctx)
	if err := root.Exec(`DROP SCHEMA IF EXISTS ` + ref + ` CASCADE; CREATE SCHEMA ` + ref).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ControlDB().Exec(`DROP SCHEMA IF EXISTS ` + ref + ` CASCADE`).Error })
	pool, err := pgxpool.New(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Schema: ref, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, &rivermigrate.MigrateOpts{TargetVersion: riverFileTo}); err != nil {
		t.Fatal(err)
	}

	// Each query describes one kind of object in schema $1, with the schema's
	// name replaced by "S" so the two can be compared.
	queries := map[string]string{
		"columns": `SELECT table_name || '.' || column_name || ' ' || udt_name || ' ' || is_nullable || ' ' ||
				coalesce(replace(column_default, $1 || '.', 'S.'), '')
			FROM information_schema.columns WHERE table_schema = $1 AND table_name LIKE 'river%' ORDER BY 1`,
		"enum": `SELECT t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
			FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid JOIN pg_namespace n ON n.oid = t.typnamespace
			WHERE n.nspname = $1 AND t.typname LIKE 'river%' GROUP BY t.typname ORDER BY 1`,
		"indexes": `SELECT replace(indexdef, $1 || '.', 'S.') FROM pg_indexes
			WHERE schemaname = $1 AND tablename LIKE 'river%' ORDER BY 1`,
		"constraints": `SELECT cl.relname || ' ' || co.conname || ' ' || replace(pg_get_constraintdef(co.oid), $1 || '.', 'S.')
			FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
			WHERE n.nspname = $1 AND cl.relname LIKE 'river%' ORDER BY 1`,
		"functions": `SELECT p.proname || ' ' || replace(pg_get_functiondef(p.oid), $1 || '.', 'S.')
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 AND p.proname LIKE 'river%' ORDER BY 1`,
		"triggers": `SELECT tgname || ' ' || replace(pg_get_triggerdef(tg.oid), $1 || '.', 'S.')
			FROM pg_trigger tg JOIN pg_class cl ON cl.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = cl.relnamespace
			WHERE n.nspname = $1 AND cl.relname LIKE 'river%' AND NOT tg.tgisinternal ORDER BY 1`,
		// Both names are constants of this file, safe to splice.
		"versions": `SELECT line || ' ' || version FROM ` + Schema + `.river_migration WHERE $1 = '` + Schema + `'
			UNION ALL SELECT line || ' ' || version FROM ` + ref + `.river_migration WHERE $1 = '` + ref + `' ORDER BY 1`,
	}
	for name, q := range queries {
		describe := func(schema string) []string {
			var rows []string
			if err := root.Raw(q, schema).Scan(&rows).Error; err != nil {
				t.Fatalf("%s of %s: %v", name, schema, err)
			}
			return rows
		}
		ours, theirs := describe(Schema), describe(ref)
		if len(theirs) == 0 && name != "triggers" { // River 004 dropped its only trigger
			t.Fatalf("%s: River's own migration produced nothing to compare", name)
		}
		if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
			t.Errorf("%s differ:\nours:   %q\nRiver's: %q", name, ours, theirs)
		}
	}
}
