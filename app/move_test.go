package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/modules/tenants"
	"switchboard/platform/failpoint"
	"switchboard/platform/tenancy"
)

// moveData is what the move tests compare of a client through Do.
type moveData struct {
	Probe, Fingerprints string
	Alerts              int
}

func readMoveData(t *testing.T, e *env, tn tenants.Tenant) moveData {
	t.Helper()
	var d moveData
	err := tenancy.Do(context.Background(), e.tenants.Scope(tn), func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT value FROM settings WHERE key = 'move.probe'`).Row().Scan(&d.Probe); err != nil {
			return err
		}
		return tx.Raw(`SELECT count(*), string_agg(fingerprint, ',' ORDER BY id) FROM alerts`).Row().Scan(&d.Alerts, &d.Fingerprints)
	})
	if err != nil {
		t.Fatalf("reading %s through Do (cell %s): %v", tn.Slug, tn.Cell, err)
	}
	return d
}

// TestMoveKilledAtEachStep kills `switchboard tenant move` with SIGKILL
// after each step of a move to a cell on the second server. Before the
// switch-over the client is still read from its old cell (`tenant show`,
// the console, Do) and, once the fence is up, no write commits there: the
// fence outlives the process. After it the client is read from the new
// cell. `tenant move --status` shows the move, and the same command run
// again finishes it with the data whole.
func TestMoveKilledAtEachStep(t *testing.T) {
	ctx := context.Background()
	rig := newKillRig(t, "move-owner@msp.example")
	e, owner, run := rig.e, rig.owner, rig.run
	far, err := e.cluster.Cell(ctx, "far")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		point, step string
		fenced      bool // the database fence was up when the process died
		flipped     bool
	}{
		{failpoint.MoveStarted, tenants.MoveStarted, false, false},
		{failpoint.MoveFenced, tenants.MoveFenced, true, false},
		{failpoint.MoveRestored, tenants.MoveFenced, true, false},
		{failpoint.MoveCopied, tenants.MoveCopied, true, false},
		{failpoint.MoveVerified, tenants.MoveVerified, true, false},
		{failpoint.MoveFlipped, tenants.MoveFlipped, false, true},
	}
	for i, tc := range cases {
		t.Run(tc.point, func(t *testing.T) {
			tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: fmt.Sprintf("move-kill-%d", i+1), Name: "Move Kill", Cell: tenancy.DefaultCell})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = e.tenants.Delete(ctx, tn.Slug, tn.Slug) })
			if err := tenancy.Do(ctx, e.tenants.Scope(tn), func(tx *gorm.DB) error {
				return tx.Exec(`INSERT INTO settings (key, value) VALUES ('move.probe', 'kept');
					INSERT INTO alerts (fingerprint, source, rule, severity, status) VALUES
						('fp-1', 'test', 'r', 'critical', 'firing'), ('fp-2', 'test', 'r', 'info', 'resolved')`).Error
			}); err != nil {
				t.Fatal(err)
			}
			before := readMoveData(t, e, tn)

			if cmd, out, err := run(tc.point, "tenant", "move", tn.Slug, "--to", "far"); !killed(cmd, err) {
				t.Fatalf("move was not killed at %s: %v\n%s", tc.point, err, out)
			}

			wantCell, wantStatus := tenancy.DefaultCell, tenancy.StatusMoving
			if tc.flipped {
				wantCell, wantStatus = "far", tenancy.StatusActive
			}
			cur, err := e.tenants.Get(ctx, tn.Slug)
			if err != nil || cur.Cell != wantCell || cur.Status != wantStatus {
				t.Fatalf("after the kill: cell %s, status %s (%v); want cell %s, %s", cur.Cell, cur.Status, err, wantCell, wantStatus)
			}
			if _, out, err := run("", "tenant", "show", tn.Slug); err != nil || !strings.Contains(out, "cell:") || !strings.Contains(out, wantCell) {
				t.Errorf("tenant show after the kill: %v\n%s", err, out)
			}
			if got := readMoveData(t, e, cur); got != before {
				t.Fatalf("read after the kill: %+v, want %+v", got, before)
			}
			if status, _ := owner.get("/t/" + tn.Slug + "/alerts"); status != http.StatusOK {
				t.Errorf("the console's alerts page after the kill: %d", status)
			}
			err = tenancy.Do(ctx, e.tenants.Scope(cur), func(tx *gorm.DB) error {
				return tx.Exec(`INSERT INTO settings (key, value) VALUES ('between.runs', 'x')`).Error
			})
			var pgErr *pgconn.PgError
			if fenced := errors.As(err, &pgErr) && pgErr.Code == "42501"; fenced != tc.fenced || (!tc.fenced && err != nil) {
				t.Errorf("a write through Do after the kill: %v; want refused by the fence: %v", err, tc.fenced)
			}
			if _, out, err := run("", "tenant", "move", tn.Slug, "--status"); err != nil || !strings.Contains(out, "last step:") || !strings.Contains(out, tc.step) {
				t.Errorf("move --status after the kill: %v\n%s", err, out)
			}

			if !tc.flipped {
				cmd, out, _ := run("", "tenant", "move", tn.Slug, "--to", tenancy.DefaultCell)
				if cmd.ProcessState.ExitCode() != 2 || !strings.Contains(out, "is being moved to cell far") {
					t.Errorf("another target while the move is fenced: exit %d\n%s", cmd.ProcessState.ExitCode(), out)
				}
			}

			_, out, err := run("", "tenant", "move", tn.Slug, "--to", "far")
			if err != nil || !strings.Contains(out, "moved "+tn.Slug+" from cell main to cell far") || !strings.Contains(out, "writes were refused for") {
				t.Fatalf("rerun: %v\n%s", err, out)
			}
			t.Logf("rerun:\n%s", out)
			done, err := e.tenants.Get(ctx, tn.Slug)
			if err != nil || done.Cell != "far" || done.Status != tenancy.StatusActive {
				t.Fatalf("after the rerun: cell %s, status %s (%v)", done.Cell, done.Status, err)
			}
			if got := readMoveData(t, e, done); got != before {
				t.Fatalf("read from the new server: %+v, want %+v", got, before)
			}
			var kept int
			if err := tenancy.Do(ctx, e.tenants.Scope(done), func(tx *gorm.DB) error {
				return tx.Raw(`SELECT count(*) FROM settings WHERE key = 'between.runs'`).Row().Scan(&kept)
			}); err != nil || kept != map[bool]int{true: 0, false: 1}[tc.fenced] {
				t.Errorf("the write made between the runs: %d on the new server (%v)", kept, err)
			}
			for name, admin := range map[string]*gorm.DB{"the control plane's server": e.cluster.ControlDB(), "the far server": far.Admin()} {
				var n int
				if err := admin.Raw(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = @n) + (SELECT count(*) FROM pg_roles WHERE rolname = @n)`,
					map[string]any{"n": tn.SchemaName}).Row().Scan(&n); err != nil {
					t.Fatal(err)
				}
				if want := map[bool]int{true: 2, false: 0}[admin == far.Admin()]; n != want {
					t.Errorf("%d of the schema and role on %s, want %d", n, name, want)
				}
			}
			if _, out, err := run("", "tenant", "move", tn.Slug, "--status"); err != nil || !strings.Contains(out, "no move in progress") {
				t.Errorf("move --status after the rerun: %v\n%s", err, out)
			}
		})
	}
}

// Bad input to `tenant move` is one line and exit status 2, and changes
// nothing.
func TestMoveCommandRefusals(t *testing.T) {
	ctx := context.Background()
	e, _, _ := testServerWith(t, withFarCell)
	if _, err := e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "move-refused", Name: "Move Refused", Cell: tenancy.DefaultCell})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.tenants.Delete(ctx, tn.Slug, tn.Slug) })
	cases := []struct {
		args []string
		text string
	}{
		{[]string{"tenant", "move", tn.Slug}, "--to CELL is required"},
		{[]string{"tenant", "move", "no-such-client", "--to", "far"}, "no-such-client"},
		{[]string{"tenant", "move", tn.Slug, "--to", "no-such-cell"}, `no cell named "no-such-cell"`},
		{[]string{"tenant", "move", tn.Slug, "--to", tenancy.DefaultCell}, "already in cell main"},
	}
	for _, tc := range cases {
		r := cli(t, tc.args...)
		expect(t, r, 2, tc.text)
		if strings.Contains(strings.TrimSpace(r.errMsg), "\n") {
			t.Errorf("%v: the message is more than one line: %q", tc.args, r.errMsg)
		}
	}
	expect(t, cli(t, "tenant", "move", tn.Slug, "--status"), 0, "no move in progress for move-refused")
	if got, err := e.tenants.Get(ctx, tn.Slug); err != nil || got.Cell != tenancy.DefaultCell || got.Status != tenancy.StatusActive {
		t.Fatalf("after the refusals: %+v, %v", got, err)
	}
}
