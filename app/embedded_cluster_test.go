package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/platform/pgembed"
)

// TestConcurrentCommandsColdDataDir runs eight `switchboard migrate --status`
// processes at once on a data folder that does not exist yet: one initdb,
// one server, every command succeeds, and the last one to finish stops the
// server.
func TestConcurrentCommandsColdDataDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a real cluster")
	}
	if _, err := pgembed.FindBinaries(); err != nil {
		t.Skip(err)
	}
	bin := switchboardBinary(t)

	// 0755 so the postgres OS user (the server's, when we are root) can enter it.
	root, err := os.MkdirTemp("", "switchboard-embedded-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(root, "pg")
	t.Cleanup(func() { stopEmbedded(t, dataDir) })

	const n = 8
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	outputs := make([]string, n)
	errs := make([]error, n)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, bin, "migrate", "--status", "--data-dir", dataDir)
			cmd.Dir = root // no config file or .data folder of the repository
			cmd.Env = commandEnv()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			errs[i] = cmd.Run()
			outputs[i] = out.String()
		})
	}
	wg.Wait()
	t.Logf("%d concurrent `migrate --status` on a cold data folder: %v", n, time.Since(begin).Round(time.Millisecond))
	for i, err := range errs {
		if err != nil {
			t.Errorf("command %d: %v\n%s", i, err, outputs[i])
		}
	}
	if pid, alive := postmasterAlive(dataDir); alive {
		t.Errorf("postgres (pid %d) still running on %s after every command finished", pid, dataDir)
	}
}

// commandEnv is the test's environment without settings that would point
// the commands elsewhere (SWITCHBOARD_*, libpq's PG*), and with fsync off:
// the cluster is thrown away.
func commandEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SWITCHBOARD_") && !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return append(env, "SWITCHBOARD_PG_NOSYNC=1")
}

// postmasterAlive reports the server recorded in dataDir's postmaster.pid,
// if it runs (a cleanly stopped server removes the file).
func postmasterAlive(dataDir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dataDir, "data", "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}

// stopEmbedded stops a server the commands left running on dataDir: a serve
// handle takes it over, so its Stop stops it.
func stopEmbedded(t *testing.T, dataDir string) {
	t.Helper()
	if _, alive := postmasterAlive(dataDir); !alive {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgembed.Start(ctx, pgembed.Options{Dir: dataDir, Owner: pgembed.OwnerServe,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil {
		err = c.Stop(ctx)
	}
	if err != nil {
		t.Errorf("stopping the server left on %s: %v", dataDir, err)
	}
	if pid, alive := postmasterAlive(dataDir); alive {
		t.Errorf("postgres (pid %d) still running on %s after cleanup", pid, dataDir)
	}
}
