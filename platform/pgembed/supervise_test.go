package pgembed

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitFor polls cond every 10 ms until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
	}
}

func TestSuperviseRestartsAfterSIGKILL(t *testing.T) {
	dir := freshDir(t)
	var logs logBuffer
	c := start(t, Options{Dir: dir, Owner: OwnerServe, Logger: logs.logger(), noSync: true})
	c.every = 50 * time.Millisecond // notice the death quickly; serve uses 1 s

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Supervise(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	if err := c.Health(); err != nil {
		t.Fatalf("Health before the crash: %v", err)
	}
	// A session open across the crash: its backend outlives the postmaster
	// for a moment and holds the old shared memory, which the restart must
	// wait out.
	_ = dial(t, c.URL())
	pf, ok, err := c.readPidFile()
	if err != nil || !ok {
		t.Fatalf("postmaster.pid: %v (found %v)", err, ok)
	}
	// Only ever this test's postmaster: its command line names our data folder.
	if cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pf.pid), "cmdline")); err == nil && !bytes.Contains(cmdline, []byte(c.dataDir)) {
		t.Fatalf("pid %d is not the postmaster of %s: %q", pf.pid, c.dataDir, cmdline)
	}
	begin := time.Now()
	if err := syscall.Kill(pf.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	// Health reports the outage at once (the postmaster is gone), then the
	// restart in progress.
	var down error
	waitFor(t, 10*time.Second, "Health reports the outage", func() bool { return c.Health() != nil })
	waitFor(t, 10*time.Second, "Health reports the restart", func() bool {
		down = c.Health()
		return down != nil && strings.HasPrefix(down.Error(), "embedded database restarting (attempt ")
	})
	waitFor(t, 45*time.Second, "server back: Health nil, a new postmaster, a new connection works", func() bool {
		now, ok, _ := c.readPidFile()
		return c.Health() == nil && ok && now.pid != pf.pid && canConnect(c.URL()) == nil
	})
	t.Logf("back %v after SIGKILL; Health said while down: %v", time.Since(begin).Round(time.Millisecond), down)
	if now, _, _ := c.readPidFile(); now.port != pf.port || c.Port() != pf.port {
		t.Errorf("back on port %d (handle says %d), want %d", now.port, c.Port(), pf.port)
	}
	if rec, ok := c.readOwner(); !ok || !rec.names(c) {
		t.Errorf("owner record %+v (found %v), want this handle", rec, ok)
	}
	for _, want := range []string{"embedded PostgreSQL died; restarting it", "embedded PostgreSQL restarted"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}

	// Stop ends supervision: the server stays stopped and Supervise returns
	// although its ctx is still live.
	stopOK(t, c)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Supervise still running 10 s after Stop")
	}
	if serverRunning(dir) {
		t.Error("server running after Stop")
	}
	if err := c.Health(); err == nil {
		t.Error("Health nil after Stop")
	}
}

func TestHealthRestartingMessage(t *testing.T) {
	c := &Cluster{dataDir: t.TempDir()}
	if err := c.Health(); err == nil || err.Error() != "embedded database is not running" {
		t.Errorf("no server: Health = %v", err)
	}
	cause := syscall.ECONNREFUSED
	c.setHealth(healthState{attempt: 3, next: time.Now().Add(4 * time.Second), err: cause})
	err := c.Health()
	if err == nil || !strings.HasPrefix(err.Error(), "embedded database restarting (attempt 3 failed, next in 4s") {
		t.Errorf("Health = %v", err)
	}
	if !errors.Is(err, cause) {
		t.Errorf("Health = %v does not wrap %v", err, cause)
	}
}
