package tenants

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/fault"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// withMoveHook returns ctx carrying a hook run at each point a move passes.
func withMoveHook(ctx context.Context, hook func(point string) error) context.Context {
	return context.WithValue(ctx, moveHookKey{}, hook)
}

// createForMove creates a tenant in cell and removes it when the test ends.
func createForMove(t *testing.T, s *Service, prefix, cell string) Tenant {
	t.Helper()
	ctx := context.Background()
	tn, err := s.Create(ctx, CreateInput{Slug: uniqueSlug(prefix), Name: "Mover", Cell: cell})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Delete(ctx, tn.Slug, tn.Slug) })
	return tn
}

// seedForMove writes what a move must carry: a setting, alerts (one
// firing, which the rollups count), and a row in each server table.
func seedForMove(t *testing.T, s *Service, tn Tenant) {
	t.Helper()
	err := tenancy.Do(context.Background(), s.Scope(tn), func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (key, value) VALUES ('move.probe', 'kept');
			INSERT INTO alerts (fingerprint, source, rule, severity, status, summary, labels) VALUES
				('fp-move-1', 'test', 'moved-rule', 'critical', 'firing', 'a firing alert', '{"host": "db-1"}'),
				('fp-move-2', 'test', 'moved-rule', 'info', 'resolved', 'a resolved one', '{}');
			SELECT control_api.sla_rollup_set('2026-01-01', 3, 2, 1, 2, 1);
			SELECT control_api.policy_override_mark('move-probe', true);
			SELECT control_api.outbox_mark_due()`).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tenantData is what the tests compare of a tenant before and after a move.
type tenantData struct {
	Probe, Fingerprints, Labels string
	Alerts, Firing              int
}

func readData(t *testing.T, s *Service, tn Tenant) tenantData {
	t.Helper()
	var d tenantData
	err := tenancy.Do(context.Background(), s.Scope(tn), func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT value FROM settings WHERE key = 'move.probe'`).Row().Scan(&d.Probe); err != nil {
			return err
		}
		return tx.Raw(`SELECT count(*), count(*) FILTER (WHERE status = 'firing'), string_agg(fingerprint, ',' ORDER BY id),
			string_agg(labels::text, ',' ORDER BY id) FROM alerts`).Row().Scan(&d.Alerts, &d.Firing, &d.Fingerprints, &d.Labels)
	})
	if err != nil {
		t.Fatalf("reading %s through Do (cell %s): %v", tn.Slug, tn.Cell, err)
	}
	return d
}

// serverRows counts the tenant's rows of each server table on one server.
func serverRows(t *testing.T, admin *gorm.DB, id int64) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, st := range serverTables {
		var n int
		if err := admin.Raw(`SELECT count(*) FROM `+st.name+` WHERE tenant_id = ?`, id).Row().Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[st.name] = n
	}
	return out
}

// objectsOn counts the tenant's schema and role on one server (0, 1 or 2).
func objectsOn(t *testing.T, admin *gorm.DB, tn Tenant) int {
	t.Helper()
	var n int
	if err := admin.Raw(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = @n) + (SELECT count(*) FROM pg_roles WHERE rolname = @n)`,
		map[string]any{"n": tn.SchemaName}).Row().Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// setRoleAs connects to the server of serverURL as a cell's login role
// and tries to become role, returning PostgreSQL's answer.
func setRoleAs(t *testing.T, c *tenancy.Cluster, serverURL, cell, role string) error {
	t.Helper()
	ctx := context.Background()
	u, err := url.Parse(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(tenancy.CellRole(cell), c.CellPassword(cell))
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL ROLE `+role)
	return err
}

// writeSetting writes one setting through Do.
func writeSetting(s *Service, tn Tenant, key string) error {
	return tenancy.Do(context.Background(), s.Scope(tn), func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO settings (key, value) VALUES (?, 'x')`, key).Error
	})
}

func hasSetting(t *testing.T, s *Service, tn Tenant, key string) bool {
	t.Helper()
	var n int
	if err := tenancy.Do(context.Background(), s.Scope(tn), func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM settings WHERE key = ?`, key).Row().Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func moveRow(t *testing.T, s *Service, tn Tenant) *MoveRecord {
	t.Helper()
	_, mv, err := s.MoveStatus(context.Background(), tn.Slug)
	if err != nil {
		t.Fatal(err)
	}
	return mv
}

// Within one server only the memberships change, in one transaction: the
// data is untouched, the old cell's login role can no longer become the
// tenant and the new one can.
func TestMoveWithinOneServer(t *testing.T) {
	s, c := openService(t, db.Tenant())
	ctx := context.Background()
	a, b := newCell(t, s, "mv-a", 10), newCell(t, s, "mv-b", 10)
	tn := createForMove(t, s, "mv-within", a.Name)
	seedForMove(t, s, tn)
	before := readData(t, s, tn)

	res, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: b.Name})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved within one server in %v", res.Took)
	if !res.SameServer || res.Fenced != 0 || res.Tenant.Cell != b.Name || res.Tenant.Status != tenancy.StatusActive {
		t.Fatalf("result %+v", res)
	}
	if after := readData(t, s, res.Tenant); after != before {
		t.Fatalf("data changed: %+v, was %+v", after, before)
	}
	if err := setRoleAs(t, c, pgtest.URL(), a.Name, tn.RoleName); sqlState(err) != "42501" {
		t.Errorf("the old cell's role becoming the tenant: %v, want SQLSTATE 42501", err)
	}
	if err := setRoleAs(t, c, pgtest.URL(), b.Name, tn.RoleName); err != nil {
		t.Errorf("the new cell's role becoming the tenant: %v", err)
	}
	if err := writeSetting(s, res.Tenant, "after.move"); err != nil {
		t.Errorf("writing through Do after the move: %v", err)
	}
	if mv := moveRow(t, s, tn); mv != nil {
		t.Errorf("a move record is left: %+v", mv)
	}
	var audited int
	if err := c.ControlDB().Raw(`SELECT count(*) FROM control.audit_log WHERE action = 'tenant.moved' AND target = ?`, tn.Slug).Row().Scan(&audited); err != nil || audited != 1 {
		t.Errorf("audit entries for the move: %d, %v", audited, err)
	}
}

// Within a server that is not the control plane's the memberships change
// in three recorded steps; a failure before the switch-over leaves the
// tenant where it was, one after it in the new cell, and a rerun finishes.
func TestMoveWithinAnotherServer(t *testing.T) {
	ctx := context.Background()
	near := uniqueSlug("mv-far")
	s, c := openTwoServers(t, near)
	if _, err := s.AddCell(ctx, AddCellInput{Name: near, Capacity: 10}); err != nil {
		t.Fatal(err)
	}
	injected := errors.New("injected failure")
	for _, point := range []string{"", MoveStarted, MoveFlipped} {
		name := "failure at " + point
		if point == "" {
			name = "no failure"
		}
		t.Run(name, func(t *testing.T) {
			tn := createForMove(t, s, "mv-within-far", farCell)
			seedForMove(t, s, tn)
			before := readData(t, s, tn)
			res, err := s.Move(withMoveHook(ctx, func(p string) error {
				if p == point {
					return injected
				}
				return nil
			}), MoveInput{Slug: tn.Slug, To: near})
			if point != "" {
				if !errors.Is(err, injected) {
					t.Fatalf("err = %v, want the injected failure", err)
				}
				cur, gerr := s.Get(ctx, tn.Slug)
				if gerr != nil {
					t.Fatal(gerr)
				}
				if want := map[string]string{MoveStarted: farCell, MoveFlipped: near}[point]; cur.Cell != want || cur.Status != tenancy.StatusActive {
					t.Fatalf("after the failure: cell %s, status %s; want %s, active", cur.Cell, cur.Status, want)
				}
				if readData(t, s, cur) != before {
					t.Fatal("the data changed")
				}
				if mv := moveRow(t, s, tn); mv == nil || mv.Error == nil {
					t.Fatalf("the failure is not recorded: %+v", mv)
				}
				res, err = s.Move(ctx, MoveInput{Slug: tn.Slug, To: near})
			}
			if err != nil {
				t.Fatal(err)
			}
			if !res.SameServer || res.Tenant.Cell != near || readData(t, s, res.Tenant) != before {
				t.Fatalf("result %+v", res)
			}
			if err := setRoleAs(t, c, pgtest.SecondURL(), farCell, tn.RoleName); sqlState(err) != "42501" {
				t.Errorf("the old cell's role becoming the tenant: %v, want SQLSTATE 42501", err)
			}
			if err := setRoleAs(t, c, pgtest.SecondURL(), near, tn.RoleName); err != nil {
				t.Errorf("the new cell's role becoming the tenant: %v", err)
			}
			if mv := moveRow(t, s, tn); mv != nil {
				t.Errorf("a move record is left: %+v", mv)
			}
		})
	}
}

// Between servers: the data arrives whole, rollup rows move with it, the
// old schema and role are gone from the source; while the copy runs the
// tenant is read from the source and no write commits there; a second move
// of the same tenant meanwhile is refused. Then back again, to the control
// plane's server.
func TestMoveAcrossServers(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	far, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	tn := createForMove(t, s, "mv-across", tenancy.DefaultCell)
	seedForMove(t, s, tn)
	before := readData(t, s, tn)
	rows := serverRows(t, c.ControlDB(), tn.ID)
	for table, n := range rows {
		if n == 0 {
			t.Fatalf("the seed wrote no row of %s", table)
		}
	}

	var steps []string
	hook := func(point string) error {
		if point != MoveFenced && point != MoveCopied && point != MoveVerified {
			return nil
		}
		cur, err := s.Get(ctx, tn.Slug)
		if err != nil {
			return err
		}
		if cur.Status != tenancy.StatusMoving || cur.Cell != tenancy.DefaultCell {
			t.Errorf("at %s: status %s, cell %s", point, cur.Status, cur.Cell)
		}
		if got := readData(t, s, cur); got != before {
			t.Errorf("at %s: read %+v from the source, want %+v", point, got, before)
		}
		if err := writeSetting(s, cur, "fenced.write"); sqlState(err) != "42501" {
			t.Errorf("at %s: a write through Do on the source: %v, want SQLSTATE 42501", point, err)
		}
		if point == MoveFenced {
			_, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: farCell})
			if !errors.Is(err, fault.Conflict) || !strings.Contains(err.Error(), "is running") {
				t.Errorf("a second move meanwhile: %v, want a conflict", err)
			}
		}
		return nil
	}
	res, err := s.Move(withMoveHook(ctx, hook), MoveInput{Slug: tn.Slug, To: farCell,
		Progress: func(p MoveProgress) { steps = append(steps, p.Step) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("moved across servers in %v, writes fenced %v", res.Took, res.Fenced)
	if res.SameServer || res.Fenced <= 0 || res.Tenant.Cell != farCell || res.Tenant.Status != tenancy.StatusActive {
		t.Fatalf("result %+v", res)
	}
	if got, want := strings.Join(steps, ","), "started,fenced,copied,verified,flipped,cleaned"; got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if after := readData(t, s, res.Tenant); after != before {
		t.Fatalf("data on the new server: %+v, want %+v", after, before)
	}
	if hasSetting(t, s, res.Tenant, "fenced.write") {
		t.Error("a write refused by the fence is in the copy")
	}
	if err := writeSetting(s, res.Tenant, "after.move"); err != nil {
		t.Fatalf("writing through Do on the new server: %v", err)
	}
	if got := serverRows(t, far.Admin(), tn.ID); !equalCounts(got, rows) {
		t.Errorf("rollup rows on the new server %v, want %v", got, rows)
	}
	for table, n := range serverRows(t, c.ControlDB(), tn.ID) {
		if n != 0 {
			t.Errorf("%d rows of %s left on the old server", n, table)
		}
	}
	if n := objectsOn(t, c.ControlDB(), tn); n != 0 {
		t.Errorf("the old schema and role: %d of them left on the old server", n)
	}
	if n := objectsOn(t, far.Admin(), tn); n != 2 {
		t.Errorf("the schema and role on the new server: %d of 2", n)
	}
	if mv := moveRow(t, s, tn); mv != nil {
		t.Errorf("a move record is left: %+v", mv)
	}

	back, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: tenancy.DefaultCell})
	if err != nil {
		t.Fatal(err)
	}
	if back.Tenant.Cell != tenancy.DefaultCell || !hasSetting(t, s, back.Tenant, "after.move") || readData(t, s, back.Tenant) != before {
		t.Fatalf("moved back: %+v", back.Tenant)
	}
	if n := objectsOn(t, far.Admin(), tn); n != 0 {
		t.Errorf("moving back left %d of the schema and role on the far server", n)
	}
	if got := serverRows(t, c.ControlDB(), tn.ID); !equalCounts(got, rows) {
		t.Errorf("rollup rows after moving back %v, want %v", got, rows)
	}
	var held int
	if err := c.ControlDB().Raw(`SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
		WHERE r.rolname = ? AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)`, tn.RoleName).Row().Scan(&held); err != nil || held != 0 {
		t.Errorf("the control plane's login role kept a membership of the restored tenant: %d, %v", held, err)
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// Every refusal is one clear message of a user-error kind, and leaves
// nothing behind; a suspended tenant moves and stays suspended.
func TestMoveRefusals(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	far, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	small := newCell(t, s, "mv-small", 1)
	createForMove(t, s, "mv-filler", small.Name)
	draining := newCell(t, s, "mv-drain", 10)
	if _, err := s.DrainCell(ctx, draining.Name); err != nil {
		t.Fatal(err)
	}
	// A cell on the second server that this service has no URL for.
	gone := uniqueSlug("gone")
	other, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{CellURLs: map[string]string{gone: pgtest.SecondURL()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = other.Close() })
	if _, err := NewService(other, Options{Logger: quiet}).AddCell(ctx, AddCellInput{Name: gone}); err != nil {
		t.Fatal(err)
	}

	tn := createForMove(t, s, "mv-refused", tenancy.DefaultCell)
	deleting := createForMove(t, s, "mv-deleting", tenancy.DefaultCell)
	provisioning := createForMove(t, s, "mv-prov", tenancy.DefaultCell)
	for _, x := range []struct {
		tn     Tenant
		status string
	}{{deleting, tenancy.StatusDeleting}, {provisioning, tenancy.StatusProvisioning}} {
		if err := c.ControlDB().Exec(`UPDATE control.tenants SET status = ? WHERE id = ?`, x.status, x.tn.ID).Error; err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.ControlDB().Exec(`UPDATE control.tenants SET status = 'active' WHERE id = ?`, x.tn.ID).Error
		})
	}

	cases := []struct {
		name, slug, to string
		kind           error
		text           string
	}{
		{"unknown tenant", "no-such-tenant", farCell, fault.NotFound, `"no-such-tenant"`},
		{"no target", tn.Slug, "", fault.Invalid, "--to CELL"},
		{"unknown cell", tn.Slug, "no-such-cell", fault.NotFound, `no cell named "no-such-cell"`},
		{"full cell", tn.Slug, small.Name, fault.Conflict, "is full (1 of 1 tenants"},
		{"draining cell", tn.Slug, draining.Name, fault.Conflict, "is draining"},
		{"the cell it is in", tn.Slug, tenancy.DefaultCell, fault.Conflict, "already in cell main"},
		{"unreachable server", tn.Slug, gone, fault.Invalid, gone},
		{"deleting tenant", deleting.Slug, farCell, fault.Conflict, "is deleting"},
		{"provisioning tenant", provisioning.Slug, farCell, fault.Conflict, "is provisioning"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := s.Get(ctx, tc.slug)
			_, err := s.Move(ctx, MoveInput{Slug: tc.slug, To: tc.to})
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("err = %v, want %v containing %q", err, tc.kind, tc.text)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the message is more than one line: %q", err)
			}
			if before.ID == 0 {
				return
			}
			after, err := s.Get(ctx, tc.slug)
			if err != nil || after.Status != before.Status || after.Cell != before.Cell {
				t.Errorf("the refusal changed the tenant: %+v, was %+v (%v)", after, before, err)
			}
			if mv := moveRow(t, s, before); mv != nil {
				t.Errorf("the refusal recorded a move: %+v", mv)
			}
			if n := objectsOn(t, far.Admin(), before); n != 0 {
				t.Errorf("the refusal made %d objects on the far server", n)
			}
		})
	}

	t.Run("suspended tenant", func(t *testing.T) {
		sus := createForMove(t, s, "mv-suspended", tenancy.DefaultCell)
		if _, err := s.Suspend(ctx, sus.Slug); err != nil {
			t.Fatal(err)
		}
		res, err := s.Move(ctx, MoveInput{Slug: sus.Slug, To: farCell})
		if err != nil {
			t.Fatal(err)
		}
		if res.Tenant.Status != tenancy.StatusSuspended || res.Tenant.Cell != farCell {
			t.Fatalf("after the move: status %s, cell %s; want suspended in %s", res.Tenant.Status, res.Tenant.Cell, farCell)
		}
	})
}

// A failure injected after each step: before the switch-over the tenant
// stays where it was, is read and takes writes again, the error is kept
// for --status, and nothing is left on the target; after it the tenant is
// served from the target. Either way a rerun completes the move, with the
// writes made in between.
func TestMoveFailureAtEachStep(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	far, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		point, recorded string
		flipped         bool
	}{
		{MoveStarted, MoveStarted, false},
		{MoveFenced, MoveFenced, false},
		{moveRestored, MoveFenced, false},
		{MoveCopied, MoveCopied, false},
		{MoveVerified, MoveVerified, false},
		{MoveFlipped, MoveFlipped, true},
	}
	for _, tc := range cases {
		t.Run(tc.point, func(t *testing.T) {
			tn := createForMove(t, s, "mv-fail", tenancy.DefaultCell)
			seedForMove(t, s, tn)
			before := readData(t, s, tn)
			injected := errors.New("injected failure")
			hook := func(point string) error {
				if point == tc.point {
					return injected
				}
				return nil
			}
			_, err := s.Move(withMoveHook(ctx, hook), MoveInput{Slug: tn.Slug, To: farCell})
			if !errors.Is(err, injected) {
				t.Fatalf("err = %v, want the injected failure", err)
			}
			cur, err := s.Get(ctx, tn.Slug)
			if err != nil {
				t.Fatal(err)
			}
			wantCell := tenancy.DefaultCell
			if tc.flipped {
				wantCell = farCell
			}
			if cur.Cell != wantCell || cur.Status != tenancy.StatusActive {
				t.Fatalf("after the failure: cell %s, status %s; want cell %s, active", cur.Cell, cur.Status, wantCell)
			}
			if got := readData(t, s, cur); got != before {
				t.Fatalf("after the failure: read %+v, want %+v", got, before)
			}
			if err := writeSetting(s, cur, "between.runs"); err != nil {
				t.Fatalf("a write after the failure: %v", err)
			}
			mv := moveRow(t, s, tn)
			if mv == nil || mv.Step != tc.recorded || mv.Error == nil || !strings.Contains(*mv.Error, "injected failure") {
				t.Fatalf("the move's record: %+v, want step %s with the error", mv, tc.recorded)
			}
			if !tc.flipped && objectsOn(t, far.Admin(), tn) != 0 {
				t.Error("the failed copy was left on the target")
			}
			if tc.flipped && objectsOn(t, c.ControlDB(), tn) != 2 {
				t.Error("the old copy is gone though its cleanup failed")
			}

			res, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: farCell})
			if err != nil {
				t.Fatalf("rerun: %v", err)
			}
			if !res.Resumed || res.Tenant.Cell != farCell || res.Tenant.Status != tenancy.StatusActive || res.Fenced <= 0 {
				t.Fatalf("rerun: %+v", res)
			}
			if got := readData(t, s, res.Tenant); got != before || !hasSetting(t, s, res.Tenant, "between.runs") {
				t.Fatalf("after the rerun: %+v (the write between runs kept: %v), want %+v", got, hasSetting(t, s, res.Tenant, "between.runs"), before)
			}
			if n := objectsOn(t, c.ControlDB(), tn); n != 0 {
				t.Errorf("after the rerun %d of the old schema and role are left", n)
			}
			if mv := moveRow(t, s, tn); mv != nil {
				t.Errorf("after the rerun a move record is left: %+v", mv)
			}
		})
	}
}

// After a failed move the tenant can be moved elsewhere instead: the failed
// move's record is replaced, nothing of it is left.
func TestMoveElsewhereAfterAFailure(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	far, err := c.Cell(ctx, farCell)
	if err != nil {
		t.Fatal(err)
	}
	near := newCell(t, s, "mv-near", 10)
	tn := createForMove(t, s, "mv-retarget", tenancy.DefaultCell)
	seedForMove(t, s, tn)
	before := readData(t, s, tn)
	injected := errors.New("injected failure")
	_, err = s.Move(withMoveHook(ctx, func(point string) error {
		if point == MoveVerified {
			return injected
		}
		return nil
	}), MoveInput{Slug: tn.Slug, To: farCell})
	if !errors.Is(err, injected) {
		t.Fatalf("err = %v, want the injected failure", err)
	}
	res, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: near.Name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tenant.Cell != near.Name || !res.SameServer || readData(t, s, res.Tenant) != before {
		t.Fatalf("moved elsewhere: %+v", res)
	}
	if mv := moveRow(t, s, tn); mv != nil {
		t.Errorf("the failed move's record is left: %+v", mv)
	}
	if n := objectsOn(t, far.Admin(), tn); n != 0 {
		t.Errorf("%d of the failed copy's schema and role are left on the far server", n)
	}
}

// The write-fenced time of a move between servers of a tenant holding
// 100,000 alerts.
func TestMoveFencedTime100kAlerts(t *testing.T) {
	s, _ := openTwoServers(t)
	ctx := context.Background()
	tn := createForMove(t, s, "mv-100k", tenancy.DefaultCell)
	begin := time.Now()
	err := tenancy.Do(ctx, s.Scope(tn), func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO alerts (fingerprint, source, rule, severity, status, summary, description, labels, endpoint,
				occurrences, first_seen_at, last_seen_at, resolved_at)
			SELECT 'fp-' || g, 'bench', 'rule-' || (g % 100), (ARRAY['info', 'warning', 'critical'])[1 + g % 3], 'resolved',
				'summary of alert ' || g, 'a description long enough to look like a real one, alert ' || g,
				jsonb_build_object('host', 'host-' || (g % 50), 'job', 'node'), 'endpoint-' || (g % 200),
				1 + g % 7, now() - make_interval(secs => g), now() - make_interval(secs => g / 2), now()
			FROM generate_series(1, 100000) g`).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("filled 100,000 alerts in %v", time.Since(begin).Round(time.Millisecond))
	var lines []string
	res, err := s.Move(ctx, MoveInput{Slug: tn.Slug, To: farCell, Progress: func(p MoveProgress) {
		lines = append(lines, p.Step+" "+p.Took.Round(time.Millisecond).String()+" ("+p.Detail+")")
	}})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tenancy.Do(ctx, s.Scope(res.Tenant), func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM alerts`).Row().Scan(&n)
	}); err != nil || n != 100000 {
		t.Fatalf("alerts on the new server: %d, %v", n, err)
	}
	t.Logf("moved a tenant of 100,000 alerts across servers in %v; writes fenced %v\n  %s",
		res.Took.Round(time.Millisecond), res.Fenced.Round(time.Millisecond), strings.Join(lines, "\n  "))
}
