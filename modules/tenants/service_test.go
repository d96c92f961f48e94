package tenants

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

func TestCreateProvisionsEverything(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	slug := uniqueSlug("acme")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Acme Health", Domain: slug + ".Example.COM"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.Status != tenancy.StatusActive || tn.SchemaVersion != db.Tenant().Latest() || tn.SchemaName != tenancy.SchemaName(tn.ID) {
		t.Fatalf("unexpected tenant %+v", tn)
	}
	if len(tn.Domains) != 1 || tn.Domains[0].Hostname != slug+".example.com" || !tn.Domains[0].IsPrimary {
		t.Fatalf("domain not stored lower-cased and primary: %+v", tn.Domains)
	}
	var owner, login, inherit string
	if err := admin(t, `SELECT pg_get_userbyid(n.nspowner), r.rolcanlogin::text, r.rolinherit::text
		FROM pg_namespace n JOIN pg_roles r ON r.rolname = n.nspname WHERE n.nspname = $1`, tn.SchemaName).Scan(&owner, &login, &inherit); err != nil {
		t.Fatal(err)
	}
	if owner != tn.RoleName || login != "false" || inherit != "false" {
		t.Fatalf("schema owner %q, role login=%s inherit=%s", owner, login, inherit)
	}
	var name string
	var audits int
	err = tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT value FROM settings WHERE key = 'display_name'`).Scan(&name).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT count(*) FROM audit_log WHERE action = 'tenant.created'`).Scan(&audits).Error
	})
	if err != nil || name != "Acme Health" || audits != 1 {
		t.Fatalf("default rows: name=%q audits=%d err=%v", name, audits, err)
	}
}

func TestCreateRejectsBadInputWithoutWriting(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	taken := uniqueSlug("taken")
	if _, err := s.Create(ctx, CreateInput{Slug: taken, Name: "Taken", Domain: taken + ".example.com"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   CreateInput
		want error
	}{
		{"short slug", CreateInput{Slug: "ab", Name: "x"}, ErrInvalid},
		{"upper-case slug", CreateInput{Slug: "Acme", Name: "x"}, ErrInvalid},
		{"slug ends with hyphen", CreateInput{Slug: "acme-", Name: "x"}, ErrInvalid},
		{"slug with quote", CreateInput{Slug: `a"; drop`, Name: "x"}, ErrInvalid},
		{"empty name", CreateInput{Slug: uniqueSlug("n"), Name: ""}, ErrInvalid},
		{"name with newline", CreateInput{Slug: uniqueSlug("n"), Name: "a\nb"}, ErrInvalid},
		{"ip as domain", CreateInput{Slug: uniqueSlug("d"), Name: "x", Domain: "10.0.0.1"}, ErrInvalid},
		{"single-label domain", CreateInput{Slug: uniqueSlug("d"), Name: "x", Domain: "intranet"}, ErrInvalid},
		{"duplicate slug", CreateInput{Slug: taken, Name: "x"}, ErrConflict},
		// The domain clash is found only after role, schema and migrations were
		// created in the transaction: everything must roll back.
		{"duplicate domain", CreateInput{Slug: uniqueSlug("d"), Name: "x", Domain: taken + ".example.com"}, ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r0, s0, g0 := catalogCounts(t)
			_, err := s.Create(ctx, tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if r1, s1, g1 := catalogCounts(t); r1 != r0 || s1 != s0 || g1 != g0 {
				t.Fatalf("failed create left something: rows %d→%d schemas %d→%d roles %d→%d", r0, r1, s0, s1, g0, g1)
			}
		})
	}
}

func TestFailingMigrationLeavesNothingBehind(t *testing.T) {
	broken := db.Tenant().With(
		db.Migration{Name: "fine", SQL: "CREATE TABLE fine (id int)"},
		db.Migration{Name: "broken", SQL: "CREATE TABLE broken (id int REFERENCES no_such_table (id))"},
	)
	s, _ := openService(t, broken)
	r0, s0, g0 := catalogCounts(t)
	slug := uniqueSlug("broken")
	_, err := s.Create(context.Background(), CreateInput{Slug: slug, Name: "Broken", Domain: slug + ".example.com"})
	if err == nil || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("want the failing migration named in the error, got %v", err)
	}
	if r1, s1, g1 := catalogCounts(t); r1 != r0 || s1 != s0 || g1 != g0 {
		t.Fatalf("failed provisioning left something: rows %d→%d schemas %d→%d roles %d→%d", r0, r1, s0, s1, g0, g1)
	}
	var domains int
	if err := admin(t, `SELECT count(*) FROM control.tenant_domains WHERE hostname = $1`, slug+".example.com").Scan(&domains); err != nil || domains != 0 {
		t.Fatalf("domain row left behind: %d %v", domains, err)
	}
}

func TestStatusAndDelete(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	slug := uniqueSlug("gone")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Gone Soon", Domain: slug + ".example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.APIKeyCreate(ctx, slug); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		do   func(context.Context, string) (Tenant, error)
		want string
	}{{s.Suspend, "suspended"}, {s.Suspend, "suspended"}, {s.Resume, "active"}, {s.Resume, "active"}} {
		got, err := step.do(ctx, slug)
		if err != nil || got.Status != step.want {
			t.Fatalf("status: got %q, %v; want %q", got.Status, err, step.want)
		}
	}
	// A change the status does not allow is a conflict with the tenant's state.
	var id int64
	if err := admin(t, `UPDATE control.tenants SET status = 'deleting' WHERE id = $1 RETURNING id`, tn.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, slug); !errors.Is(err, ErrStatus) || !errors.Is(err, fault.Conflict) {
		t.Fatalf("resuming a deleting tenant: want ErrStatus (a conflict), got %v", err)
	}
	if err := admin(t, `UPDATE control.tenants SET status = 'active' WHERE id = $1 RETURNING id`, tn.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, slug, "wrong"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("delete without confirmation: want ErrInvalid, got %v", err)
	}
	if err := s.Delete(ctx, slug, slug); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, slug); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: want ErrNotFound, got %v", err)
	}
	var schemas, roles, domains, keys int
	err = admin(t, `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = $1), (SELECT count(*) FROM pg_roles WHERE rolname = $1),
		(SELECT count(*) FROM control.tenant_domains WHERE tenant_id = $2), (SELECT count(*) FROM control.api_keys WHERE tenant_id = $2)`,
		tn.SchemaName, tn.ID).Scan(&schemas, &roles, &domains, &keys)
	if err != nil || schemas+roles+domains+keys != 0 {
		t.Fatalf("left after delete: schema %d role %d domains %d keys %d (%v)", schemas, roles, domains, keys, err)
	}
	if err := s.Delete(ctx, slug, slug); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: want ErrNotFound, got %v", err)
	}
}

// APIKeyCreate is a test shorthand.
func (s *Service) APIKeyCreate(ctx context.Context, slug string) (string, error) {
	_, plain, err := s.CreateAPIKey(ctx, slug, "test")
	return plain, err
}

func TestExportRestores(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	if s.export.BinDir == "" {
		t.Fatal("pg_dump not found")
	}
	ctx := context.Background()
	slug := uniqueSlug("export")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Export Me"})
	if err != nil {
		t.Fatal(err)
	}
	scope := s.Scope(tn)
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (key, value) VALUES ('marker', 'before export')`).Error
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.dump")
	if _, err := s.Export(ctx, slug, out); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Export(ctx, slug, filepath.Join(t.TempDir(), "missing", "x.dump")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("export into a missing folder: want ErrInvalid, got %v", err)
	}

	// Lose the data, then restore the archive into the emptied schema.
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		// Empty the schema completely: every table and function in it.
		return tx.Exec(`DO $$ DECLARE r record; BEGIN
			FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
				EXECUTE format('DROP TABLE %I CASCADE', r.tablename);
			END LOOP;
			FOR r IN SELECT p.oid::regprocedure AS f FROM pg_proc p WHERE p.pronamespace = current_schema()::regnamespace LOOP
				EXECUTE format('DROP FUNCTION %s CASCADE', r.f);
			END LOOP;
		END $$`).Error
	}); err != nil {
		t.Fatal(err)
	}
	// The schema itself still exists (owned by the tenant role), so restore
	// everything but the CREATE SCHEMA entry, as the tenant role.
	pgRestore := filepath.Join(s.export.BinDir, "pg_restore")
	list, err := exec.Command(pgRestore, "--list", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(list), "\n") {
		if !strings.Contains(line, " SCHEMA - ") {
			kept = append(kept, line)
		}
	}
	listFile := filepath.Join(t.TempDir(), "restore.list")
	if err := os.WriteFile(listFile, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	// As the cell's login role: the only login that may act as the tenant.
	cell, err := s.cluster.Cell(ctx, tn.Cell)
	if err != nil {
		t.Fatal(err)
	}
	dsn, env := cell.Tool()
	restore := exec.Command(pgRestore, "--role", tn.RoleName, "--dbname", dsn,
		"--single-transaction", "--exit-on-error", "--use-list", listFile, out)
	restore.Env = append(os.Environ(), env...)
	if msg, err := restore.CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v: %s", err, msg)
	}
	var v string
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT value FROM settings WHERE key = 'marker'`).Scan(&v).Error
	}); err != nil || v != "before export" {
		t.Fatalf("after restore: marker=%q err=%v", v, err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal(err)
	}
}
