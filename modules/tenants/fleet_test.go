package tenants

import (
	"context"
	"strings"
	"testing"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/tenancy"
)

// addColumn is a new migration as a release would bring it.
var addColumn = db.Migration{Name: "settings_note", SQL: "ALTER TABLE settings ADD COLUMN note text; CREATE INDEX settings_note_idx ON settings (note)"}

func TestMigrateFleet(t *testing.T) {
	ctx := context.Background()
	v1, cluster := openService(t, db.Tenant())
	var slugs []string
	for i := 0; i < 6; i++ {
		slug := uniqueSlug("fleet")
		if _, err := v1.Create(ctx, CreateInput{Slug: slug, Name: "Fleet " + slug}); err != nil {
			t.Fatal(err)
		}
		slugs = append(slugs, slug)
	}

	// One tenant has a table in the way of the new index: it must fail alone.
	bad, err := v1.Get(ctx, slugs[2])
	if err != nil {
		t.Fatal(err)
	}
	if err := tenancy.Do(ctx, v1.Scope(bad), func(tx *gorm.DB) error {
		return tx.Exec(`CREATE TABLE settings_note_idx (id int)`).Error
	}); err != nil {
		t.Fatal(err)
	}

	v2 := NewService(cluster, Options{Migrations: db.Tenant().With(addColumn), Logger: quiet})
	behindBefore, err := v2.Behind(ctx)
	if err != nil {
		t.Fatal(err)
	}
	report, err := v2.MigrateFleet(ctx, MigrateOptions{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if report.Failed != 1 || report.Migrated != len(behindBefore)-1 || len(report.Failures) != 1 || report.Failures[0].Slug != bad.Slug {
		t.Fatalf("first run: %+v (behind before: %d)", report, len(behindBefore))
	}
	got, _ := v2.Get(ctx, bad.Slug)
	if got.SchemaVersion != db.Tenant().Latest() || got.MigrationError == nil || !strings.Contains(*got.MigrationError, "settings_note_idx") {
		t.Fatalf("failed tenant must keep its version and record the error: %+v", got)
	}
	for _, slug := range []string{slugs[0], slugs[5]} {
		ok, _ := v2.Get(ctx, slug)
		if ok.SchemaVersion != v2.TargetVersion() || ok.MigrationError != nil {
			t.Fatalf("%s: %+v", slug, ok)
		}
		var n int
		if err := tenancy.Do(ctx, v2.Scope(ok), func(tx *gorm.DB) error {
			return tx.Raw(`SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'settings' AND column_name = 'note'`).Scan(&n).Error
		}); err != nil || n != 1 {
			t.Fatalf("%s: new column missing (%d, %v)", slug, n, err)
		}
	}
	if behind, _ := v2.Behind(ctx); len(behind) != 1 || behind[0].Slug != bad.Slug {
		t.Fatalf("status after first run: %+v", behind)
	}

	// Fix the cause; a rerun resumes with just that tenant.
	if err := tenancy.Do(ctx, v1.Scope(bad), func(tx *gorm.DB) error { return tx.Exec(`DROP TABLE settings_note_idx`).Error }); err != nil {
		t.Fatal(err)
	}
	report, err = v2.MigrateFleet(ctx, MigrateOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if report.Migrated != 1 || report.Failed != 0 || report.Slowest[0].Slug != bad.Slug {
		t.Fatalf("rerun: %+v", report)
	}
	if got, _ := v2.Get(ctx, bad.Slug); got.MigrationError != nil || got.SchemaVersion != v2.TargetVersion() {
		t.Fatalf("after rerun: %+v", got)
	}
}

// A tenant recorded at the target version must be skipped without its schema
// being opened: sabotage one schema's version table so that opening it would
// fail, and check a no-op run does not notice.
func TestMigrateSkipsCurrentTenantsWithoutOpeningThem(t *testing.T) {
	ctx := context.Background()
	s, _ := openService(t, db.Tenant())
	slug := uniqueSlug("skip")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Skip"})
	if err != nil {
		t.Fatal(err)
	}
	if err := tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error { return tx.Exec(`DROP TABLE schema_migrations`).Error }); err != nil {
		t.Fatal(err)
	}
	report, err := s.MigrateFleet(ctx, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if report.Migrated != 0 || report.Failed != 0 || report.Skipped == 0 {
		t.Fatalf("nothing-pending run touched tenants: %+v", report)
	}
	// The sabotage is real: a tenant forced to be looked at does fail.
	if err := s.root(ctx).Exec(`UPDATE control.tenants SET schema_version = 0 WHERE id = ?`, tn.ID).Error; err != nil {
		t.Fatal(err)
	}
	report, err = s.MigrateFleet(ctx, MigrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if report.Failed != 1 {
		t.Fatalf("want the sabotaged tenant to fail when opened: %+v", report)
	}
}
