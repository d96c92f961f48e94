package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"switchboard/config"
	"switchboard/db"
	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/platform/failpoint"
	"switchboard/platform/pgtest"
)

// withFarCell puts the cell "far" on the package's second PostgreSQL server.
func withFarCell(cfg *config.Config) {
	cfg.Database.Cells = map[string]config.Cell{"far": {URL: pgtest.SecondURL()}}
}

// TestCellOnASecondServer runs the whole path for a client whose cell is on
// another server: an alert ingested there marks the client's outbox on that
// server, the replica hears of it through that server's NOTIFY and delivers
// the webhook; the console's home merges the rollups of both servers.
func TestCellOnASecondServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, _, ts := testServerWith(t, func(cfg *config.Config) { cfg.Notify.AllowPrivateNetworks = true })
	if _, err := e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	if err := startBackground(ctx, e); err != nil {
		t.Fatal(err)
	}
	near, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "cells-near", Name: "Cells Near"})
	if err != nil {
		t.Fatal(err)
	}
	far, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "cells-far", Name: "Cells Far", Cell: "far"})
	if err != nil {
		t.Fatal(err)
	}
	if far.Cell != "far" || near.Cell == "far" {
		t.Fatalf("placement: near in %q, far in %q", near.Cell, far.Cell)
	}

	var hooks atomic.Int32
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		hooks.Add(1)
	}))
	t.Cleanup(receiver.Close)
	farScope := e.tenants.Scope(far)
	if _, err := e.notify.Create(ctx, farScope, notify.ChannelInput{Name: "oncall", Kind: "webhook", URL: receiver.URL}); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []tenants.Tenant{near, far} {
		if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(tn), []alerts.Signal{{Source: "t", Rule: "cells", Severity: alerts.SeverityCritical}}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(15 * time.Second); hooks.Load() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the far client's alert was never delivered: its outbox mark on the second server went unheard")
		}
	}

	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "cells-owner@msp.example", Role: "owner", Password: "cells-owner-password"}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login("cells-owner@msp.example", "cells-owner-password"); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	sums, err := e.tenants.Summaries(ctx, []int64{near.ID, far.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if s.OpenCritical != 1 {
			t.Errorf("%s: %d open critical in the merged rollups, want 1", s.Slug, s.OpenCritical)
		}
	}
	// The policy page counts overrides on both servers.
	before, err := e.policies.Globals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	off := false
	for _, tn := range []tenants.Tenant{near, far} {
		if err := e.policies.Override(ctx, e.tenants.Scope(tn), "cpu-high", &off, nil); err != nil {
			t.Fatal(err)
		}
	}
	after, err := e.policies.Globals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if overridden(after, "cpu-high")-overridden(before, "cpu-high") != 2 {
		t.Errorf("cpu-high overridden by %d clients after two overrides on two servers, was %d",
			overridden(after, "cpu-high"), overridden(before, "cpu-high"))
	}

	status, body := b.get("/")
	if status != http.StatusOK || !strings.Contains(body, "Cells Far") || !strings.Contains(body, "Cells Near") {
		t.Fatalf("console home: %d, both clients listed: far %v near %v", status,
			strings.Contains(body, "Cells Far"), strings.Contains(body, "Cells Near"))
	}
	if status, body := b.get("/t/cells-far/alerts"); status != http.StatusOK || !strings.Contains(body, "cells") {
		t.Fatalf("the far client's alerts page: %d", status)
	}
}

// TestServeRefusesACellServerBehind: serve does not start while a cell
// server's own tables are older than the binary, and says which server.
func TestServeRefusesACellServerBehind(t *testing.T) {
	ctx := context.Background()
	e, _, _ := testServer(t)
	if _, err := e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	far, err := e.cluster.Cell(ctx, "far")
	if err != nil {
		t.Fatal(err)
	}
	if err := far.Admin().Exec(`DELETE FROM control.server_migrations WHERE version = ?`, db.Server().Latest()).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.MigrateServer(context.Background(), far.Admin()); err != nil {
			t.Error(err)
		}
	})
	expect(t, cli(t, "serve", "--addr", freeAddr(t)), 1, "cell server", far.Host().Location(), "behind", "switchboard migrate")
}

// killRig is a test server whose package database has the cell "far" on
// the second server and a signed-in owner, and runs the built binary
// against the same two servers, with a failpoint armed when asked.
type killRig struct {
	e     *env
	owner *client
	bin   string
}

// newKillRig builds the rig; email names its owner.
func newKillRig(t *testing.T, email string) *killRig {
	t.Helper()
	ctx := context.Background()
	bin := switchboardBinary(t)
	e, _, ts := testServer(t)
	if _, err := e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	const password = "kill-rig-owner-password"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: email, Role: "owner", Password: password}); err != nil {
		t.Fatal(err)
	}
	owner := newClient(t, ts.URL)
	if status := owner.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	return &killRig{e: e, owner: owner, bin: bin}
}

// run runs the binary with args and, unless point is "", that failpoint armed.
func (r *killRig) run(point string, args ...string) (*exec.Cmd, string, error) {
	cmd := exec.Command(r.bin, append(args, "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL())...)
	cmd.Env = append(os.Environ(), failpoint.Env+"="+point)
	out, err := cmd.CombinedOutput()
	return cmd, string(out), err
}

// killed reports whether cmd ended by SIGKILL (a failpoint fired).
func killed(cmd *exec.Cmd, err error) bool {
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	return err != nil && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// overridden is how many clients override the baseline key.
func overridden(list []policies.Global, key string) int {
	for _, g := range list {
		if g.Key == key {
			return g.Overridden
		}
	}
	return -1
}
