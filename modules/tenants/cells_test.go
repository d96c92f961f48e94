package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/fault"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// farCell is the name of the cell on the package's second server.
const farCell = "far"

// openTwoServers returns a service whose cell "far" lives on a second,
// independent PostgreSQL server (added once per package database), and
// whose other cells in extra live there too.
func openTwoServers(t testing.TB, extra ...string) (*Service, *tenancy.Cluster) {
	t.Helper()
	urls := map[string]string{farCell: pgtest.SecondURL()}
	for _, name := range extra {
		urls[name] = pgtest.SecondURL()
	}
	s, c := openServiceWith(t, db.Tenant(), urls)
	if _, err := s.AddCell(context.Background(), AddCellInput{Name: farCell, Capacity: 100}); err != nil && !errors.Is(err, ErrConflict) {
		t.Fatal(err)
	}
	return s, c
}

// newCell adds a cell with a name unique in the package's database.
func newCell(t testing.TB, s *Service, prefix string, capacity int) Cell {
	t.Helper()
	c, err := s.AddCell(context.Background(), AddCellInput{Name: uniqueSlug(prefix), Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// escape is the statement Do's filter cannot see through: a role switch
// inside EXECUTE, which PostgreSQL checks against the session user.
func escape(role string) string {
	return `DO $$ BEGIN EXECUTE 'SET LOCAL ROLE ` + role + `'; END $$`
}

// (a) A statement smuggled past Do's filter, aimed at a tenant of another
// cell, is refused by PostgreSQL itself: the cell's login role is not a
// member of that tenant's role. Within one cell it would succeed (and the
// commit guard roll it back): the blast radius is the cell.
func TestSmuggledRoleSwitchStopsAtTheCell(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	cellA, cellB := newCell(t, s, "iso-a", 10), newCell(t, s, "iso-b", 10)
	a, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("iso-a"), Name: "A", Cell: cellA.Name})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("iso-b"), Name: "B", Cell: cellB.Name})
	if err != nil {
		t.Fatal(err)
	}
	neighbour, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("iso-a2"), Name: "A2", Cell: cellA.Name})
	if err != nil {
		t.Fatal(err)
	}

	var count int
	err = tenancy.Do(ctx, s.Scope(a), func(tx *gorm.DB) error {
		if err := tx.Exec(escape(b.RoleName)).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT count(*) FROM ` + b.SchemaName + `.settings`).Scan(&count).Error
	})
	if sqlState(err) != "42501" {
		t.Fatalf("switching to a tenant of another cell: err = %v (SQLSTATE %q), want 42501 from PostgreSQL", err, sqlState(err))
	}

	// The same cell: PostgreSQL allows it, Do's guard refuses the commit.
	err = tenancy.Do(ctx, s.Scope(a), func(tx *gorm.DB) error {
		return tx.Exec(escape(neighbour.RoleName)).Error
	})
	if !errors.Is(err, tenancy.ErrScopeEscaped) {
		t.Fatalf("switching within the cell: err = %v, want ErrScopeEscaped at commit", err)
	}
}

// (b) Inside a dedicated tenant's Do, no statement reaches any other tenant,
// nor the control plane, nor another login role.
func TestDedicatedTenantReachesNoOtherTenant(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	for range 2 { // neighbours in the shared cell
		if _, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("shared"), Name: "Shared"}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("ded"), Name: "Dedicated", Dedicated: true})
	if err != nil {
		t.Fatal(err)
	}
	if d.Cell != "d-"+d.Slug {
		t.Fatalf("dedicated tenant in cell %q", d.Cell)
	}
	var others []string
	if err := s.root(ctx).Raw(`SELECT role_name FROM control.tenants WHERE id <> ? ORDER BY id`, d.ID).Scan(&others).Error; err != nil {
		t.Fatal(err)
	}
	if len(others) < 2 {
		t.Fatalf("want other tenants to aim at, have %d", len(others))
	}
	var attempts []string
	for _, role := range others {
		attempts = append(attempts, escape(role), `SET ROLE `+role, `SELECT count(*) FROM `+role+`.settings`)
	}
	attempts = append(attempts,
		escape("sb_cell_main"), escape("switchboard"),
		`SELECT count(*) FROM control.tenants`, `SELECT count(*) FROM control.staff_users`,
		`SELECT count(*) FROM control.tenant_rollups`)
	for _, stmt := range attempts {
		err := tenancy.Do(ctx, s.Scope(d), func(tx *gorm.DB) error { return tx.Exec(stmt).Error })
		if err == nil {
			t.Errorf("inside the dedicated tenant, %q succeeded", stmt)
			continue
		}
		if sqlState(err) != "42501" && !errors.Is(err, tenancy.ErrScopeChange) {
			t.Errorf("%q: err = %v, want a refusal (42501 or Do's filter)", stmt, err)
		}
	}
}

// (c) After provisioning, the control plane's login role is a member of no
// tenant role and cannot become any tenant.
func TestControlRoleBecomesNoTenant(t *testing.T) {
	s, c := openService(t, db.Tenant())
	ctx := context.Background()
	if _, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("ctl"), Name: "Ctl"}); err != nil {
		t.Fatal(err)
	}
	var held int
	if err := c.ControlDB().Raw(`SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user) AND r.rolname LIKE 'tenant\_%'`).Scan(&held).Error; err != nil {
		t.Fatal(err)
	}
	if held != 0 {
		t.Errorf("the control plane's login role is a member of %d tenant roles, want 0", held)
	}
	var roles []string
	if err := c.ControlDB().Raw(`SELECT rolname FROM pg_roles WHERE rolname LIKE 'tenant\_%' ORDER BY rolname`).Scan(&roles).Error; err != nil {
		t.Fatal(err)
	}
	if len(roles) == 0 {
		t.Fatal("no tenant roles to try")
	}
	for _, role := range roles {
		err := c.ControlDB().Transaction(func(tx *gorm.DB) error { return tx.Exec(`SET LOCAL ROLE ` + role).Error })
		if sqlState(err) != "42501" {
			t.Errorf("control role SET ROLE %s: err = %v, want 42501", role, err)
		}
	}
}

// Placement: the open shared cell with the most room, never a draining or
// full one, never a dedicated one; and every refusal is one clear message.
func TestPlacementAndRefusals(t *testing.T) {
	s, _ := openService(t, db.Tenant())
	ctx := context.Background()
	roomy := newCell(t, s, "roomy", 100000) // more room than any other cell in the package
	got, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("placed"), Name: "Placed"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Cell != roomy.Name {
		t.Errorf("placed in %q, want the roomiest open cell %q", got.Cell, roomy.Name)
	}
	if _, err := s.DrainCell(ctx, roomy.Name); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("placed"), Name: "Placed"}); err != nil || got.Cell == roomy.Name {
		t.Errorf("after draining %s: placed in %q (err %v)", roomy.Name, got.Cell, err)
	}
	small := newCell(t, s, "small", 1)
	if _, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("one"), Name: "One", Cell: small.Name}); err != nil {
		t.Fatal(err)
	}
	before, _, _ := catalogCounts(t)
	cases := []struct {
		name string
		in   CreateInput
		kind error
		text string
	}{
		{"full cell", CreateInput{Cell: small.Name}, fault.Conflict, "is full (1 of 1 tenants)"},
		{"draining cell", CreateInput{Cell: roomy.Name}, fault.Conflict, "is draining"},
		{"unknown cell", CreateInput{Cell: "no-such-cell"}, fault.NotFound, `no cell named "no-such-cell"`},
		{"both cell and dedicated", CreateInput{Cell: small.Name, Dedicated: true}, fault.Invalid, "not both"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.Slug, tc.in.Name = uniqueSlug("refused"), "Refused"
			_, err := s.Create(ctx, tc.in)
			if !errors.Is(err, tc.kind) || !strings.Contains(fault.Message(err), tc.text) {
				t.Fatalf("err = %v (message %q), want %v containing %q", err, fault.Message(err), tc.kind, tc.text)
			}
		})
	}
	if after, _, _ := catalogCounts(t); after != before {
		t.Errorf("refused creations left %d tenant rows", after-before)
	}
	if _, err := s.OpenCell(ctx, roomy.Name); err != nil {
		t.Fatal(err)
	}

	addCases := []struct {
		name string
		in   AddCellInput
		kind error
		text string
	}{
		{"bad name", AddCellInput{Name: "Bad Name"}, fault.Invalid, "cell name"},
		{"bad capacity", AddCellInput{Name: uniqueSlug("cap"), Capacity: -3}, fault.Invalid, "capacity"},
		{"existing", AddCellInput{Name: tenancy.DefaultCell}, fault.Conflict, "exists"},
	}
	for _, tc := range addCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.AddCell(ctx, tc.in)
			if !errors.Is(err, tc.kind) || !strings.Contains(fault.Message(err), tc.text) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.kind, tc.text)
			}
		})
	}
}

// A cell whose configured server does not answer is refused before
// anything is written.
func TestUnreachableCellServerIsRefused(t *testing.T) {
	ctx := context.Background()
	c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{
		CellURLs: map[string]string{"nowhere": "postgres://switchboard:x@127.0.0.1:1/switchboard?connect_timeout=2"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := NewService(c, Options{Logger: quiet})
	_, err = s.AddCell(ctx, AddCellInput{Name: "nowhere"})
	if !errors.Is(err, fault.Invalid) || !errors.Is(err, ErrCellUnreachable) {
		t.Fatalf("err = %v, want the cell server unreachable (invalid input)", err)
	}
	if _, err := s.GetCell(ctx, "nowhere"); !errors.Is(err, ErrNoCell) {
		t.Fatalf("an unreachable cell was recorded: %v", err)
	}
}

// Tenants on two servers: placed and provisioned on the far server (its
// schema and role there, not on the control plane's), isolated from the
// near cell, and counted in the cross-client views, which read one summary
// per server; deletion removes them from the far server.
func TestTwoServers(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	near, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("near"), Name: "Near"})
	if err != nil {
		t.Fatal(err)
	}
	far, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("far"), Name: "Far", Cell: farCell})
	if err != nil {
		t.Fatal(err)
	}
	if far.Status != tenancy.StatusActive || far.SchemaVersion != s.TargetVersion() {
		t.Fatalf("far tenant: %+v", far)
	}
	farCellRec, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	var onFar, onNear bool
	if err := farCellRec.Admin().Raw(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)`, far.SchemaName).Scan(&onFar).Error; err != nil {
		t.Fatal(err)
	}
	if err := c.ControlDB().Raw(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)`, far.SchemaName).Scan(&onNear).Error; err != nil {
		t.Fatal(err)
	}
	if !onFar || onNear {
		t.Fatalf("far tenant's schema: on far server %v, on control server %v", onFar, onNear)
	}

	// Writes that keep rollups, on each server, through Do.
	for _, tn := range []Tenant{near, far} {
		err := tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error {
			return tx.Exec(`SELECT control_api.rollup_set('open_critical', ?)`, 3).Error
		})
		if err != nil {
			t.Fatalf("%s: %v", tn.Slug, err)
		}
	}
	sums, err := s.Summaries(ctx, []int64{near.ID, far.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 2 || sums[0].OpenCritical != 3 || sums[1].OpenCritical != 3 {
		t.Fatalf("summaries over two servers: %+v", sums)
	}
	open, err := s.WithOpenAlerts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !containsAll(open, near.ID, far.ID) {
		t.Fatalf("tenants with open alerts %v, want %d and %d among them", open, near.ID, far.ID)
	}
	// Offline detection reads each server's deadlines the same way.
	for _, tn := range []Tenant{near, far} {
		if err := tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error {
			return tx.Exec(`SELECT control_api.set_next_offline(now() - interval '1 minute')`).Error
		}); err != nil {
			t.Fatal(err)
		}
	}
	due, err := s.OfflineDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !containsAll(due, near.ID, far.ID) {
		t.Fatalf("tenants with endpoints due offline %v, want %d and %d among them", due, near.ID, far.ID)
	}

	// Isolation across servers: the far tenant's Do cannot see near's schema.
	err = tenancy.Do(ctx, s.Scope(far), func(tx *gorm.DB) error {
		return tx.Exec(escape(near.RoleName)).Error
	})
	if err == nil {
		t.Fatal("the far tenant became a tenant of the control plane's server")
	}

	if err := s.Delete(ctx, far.Slug, far.Slug); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := farCellRec.Admin().Raw(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = @n) + (SELECT count(*) FROM pg_roles WHERE rolname = @n)
		+ (SELECT count(*) FROM control.tenant_rollups WHERE tenant_id = @id)`,
		map[string]any{"n": far.SchemaName, "id": far.ID}).Scan(&left).Error; err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("deleting the far tenant left %d things on its server", left)
	}
}

// A fleet migration reaches tenants on both servers, through their cells.
func TestFleetMigrationAcrossServers(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	var made []Tenant
	for _, cell := range []string{"", farCell} {
		tn, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("fleet2"), Name: "Fleet", Cell: cell})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, tn)
	}
	extra := db.Tenant().With(db.Migration{Version: db.Tenant().Latest() + 1, Name: "cells_probe",
		SQL: `CREATE TABLE cells_probe (id int PRIMARY KEY)`})
	next := NewService(c, Options{Migrations: extra, Logger: quiet})
	report, err := next.MigrateFleet(ctx, MigrateOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if report.Failed != 0 {
		t.Fatalf("fleet migration failures: %+v", report.Failures)
	}
	for _, tn := range made {
		got, err := next.Get(ctx, tn.Slug)
		if err != nil {
			t.Fatal(err)
		}
		if got.SchemaVersion != extra.Latest() {
			t.Errorf("%s (cell %s) at version %d, want %d", tn.Slug, tn.Cell, got.SchemaVersion, extra.Latest())
		}
		if err := tenancy.Do(ctx, next.Scope(got), func(tx *gorm.DB) error { return tx.Exec(`SELECT count(*) FROM cells_probe`).Error }); err != nil {
			t.Errorf("%s: the migrated table is not there: %v", tn.Slug, err)
		}
	}
	for _, tn := range made { // deletion reaches both servers at the new version too
		if err := next.Delete(ctx, tn.Slug, tn.Slug); err != nil {
			t.Fatal(err)
		}
	}
}

func containsAll(ids []int64, want ...int64) bool {
	set := map[int64]bool{}
	for _, id := range ids {
		set[id] = true
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// A cell server whose own tables are behind the binary is refused until
// `migrate` brings it up, which it does for every server.
func TestCellServerBehindIsRefused(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	far, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckCellServers(ctx); err != nil {
		t.Fatalf("a current fleet: %v", err)
	}
	if err := far.Admin().Exec(`DELETE FROM control.server_migrations WHERE version = ?`, db.Server().Latest()).Error; err != nil {
		t.Fatal(err)
	}
	err = s.CheckCellServers(ctx)
	if !errors.Is(err, db.ErrServerBehind) || !strings.Contains(err.Error(), far.Host().Location()) {
		t.Fatalf("far server behind: err = %v, want ErrServerBehind naming %s", err, far.Host().Location())
	}
	changed, err := s.MigrateCellServers(ctx)
	if err != nil || len(changed) != 1 {
		t.Fatalf("migrating cell servers: %v, changed %v", err, changed)
	}
	if err := s.CheckCellServers(ctx); err != nil {
		t.Fatalf("after migrate: %v", err)
	}
}

// An installation from before cells has its tenant roles held by the
// control plane's login role; `migrate` hands them to their cell.
func TestAdoptMembershipsFromBeforeCells(t *testing.T) {
	s, c := openService(t, db.Tenant())
	ctx := context.Background()
	slug := uniqueSlug("old-style")
	var id int64
	err := c.ControlDB().Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`INSERT INTO control.tenants (id, slug, name, schema_name, role_name, cell) OVERRIDING SYSTEM VALUE
			SELECT n, ?, 'Old', 'tenant_' || n, 'tenant_' || n, 'main' FROM (SELECT nextval(pg_get_serial_sequence('control.tenants', 'id')) AS n) q
			RETURNING id`, slug).Scan(&id).Error; err != nil {
			return err
		}
		if err := tenancy.CreateSchema(tx, id); err != nil { // as provisioning did before cells: the membership stays
			return err
		}
		if _, _, err := db.ApplyTenant(tx, db.Tenant()); err != nil {
			return err
		}
		if err := tenancy.Leave(tx); err != nil {
			return err
		}
		return tx.Exec(`UPDATE control.tenants SET schema_version = ? WHERE id = ?`, db.Tenant().Latest(), id).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if err := tenancy.Do(ctx, s.Scope(old), func(tx *gorm.DB) error { return tx.Exec(`SELECT 1`).Error }); !errors.Is(err, tenancy.ErrMoved) {
		t.Fatalf("before adoption the cell cannot enter the tenant: err = %v, want ErrMoved", err)
	}
	n, err := s.AdoptMemberships(ctx)
	if err != nil || n < 1 {
		t.Fatalf("adopted %d, err %v", n, err)
	}
	if err := tenancy.Do(ctx, s.Scope(old), func(tx *gorm.DB) error { return tx.Exec(`SELECT count(*) FROM settings`).Error }); err != nil {
		t.Fatalf("after adoption: %v", err)
	}
	err = c.ControlDB().Transaction(func(tx *gorm.DB) error { return tx.Exec(`SET LOCAL ROLE ` + old.RoleName).Error })
	if sqlState(err) != "42501" {
		t.Fatalf("the control role still becomes the adopted tenant: %v", err)
	}
	if n, err := s.AdoptMemberships(ctx); err != nil || n != 0 {
		t.Fatalf("a second adoption found %d (err %v), want 0", n, err)
	}
}
