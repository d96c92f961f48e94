package pgembed

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// logBuffer collects log lines from several goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

// freshDir is a cluster folder not created yet (cold), whose server is
// stopped when the test ends whatever happened; registered first, so it
// runs after every handle's own Stop.
func freshDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(clusterDir(t), "cluster")
	t.Cleanup(func() { forceStop(t, dir) })
	return dir
}

// forceStop shuts down (immediate mode) a server still running on dir.
func forceStop(t *testing.T, dir string) {
	t.Helper()
	if !serverRunning(dir) {
		return
	}
	bindir, err := FindBinaries()
	if err != nil {
		t.Error(err)
		return
	}
	user, err := serverUser()
	if err != nil {
		t.Error(err)
		return
	}
	c := &Cluster{dir: dir, dataDir: filepath.Join(dir, "data"), bindir: bindir, user: user}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := c.run(ctx, "pg_ctl", "stop", "-m", "immediate", "-w", "-D", c.dataDir); err != nil {
		t.Errorf("pg_ctl stop: %v: %s", err, out)
	}
}

// serverRunning reports whether a live postmaster is recorded in dir.
func serverRunning(dir string) bool {
	c := &Cluster{dataDir: filepath.Join(dir, "data")}
	_, up := c.postmasterUp()
	pf, ok, _ := c.readPidFile()
	return up && ok && pf.pid > 0
}

// deadPid returns the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// startErr is Start with a bounded context.
func startErr(opts Options) (*Cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return Start(ctx, opts)
}

func stopOK(t *testing.T, c *Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestConcurrentColdStart(t *testing.T) {
	dir := freshDir(t)
	var logs logBuffer
	const n = 8
	clusters := make([]*Cluster, n)
	errs := make([]error, n)
	begin := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			clusters[i], errs[i] = startErr(Options{Dir: dir, Owner: OwnerCLI, Logger: logs.logger(), noSync: true})
		})
	}
	wg.Wait()
	t.Logf("%d concurrent cold Starts: %v", n, time.Since(begin))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Start %d: %v", i, err)
		}
		t.Cleanup(func() { _ = clusters[i].Stop(context.Background()) })
	}
	if got := strings.Count(logs.String(), "initialized=true"); got != 1 {
		t.Errorf("%d Starts ran initdb, want 1\n%s", got, logs.String())
	}

	// Every handle works; exactly one started the server and owns it.
	owner := -1
	for i, c := range clusters {
		if c.Port() != clusters[0].Port() || c.URL() != clusters[0].URL() {
			t.Errorf("handle %d: %s, want %s", i, c.URL(), clusters[0].URL())
		}
		if err := canConnect(c.URL()); err != nil {
			t.Errorf("handle %d: %v", i, err)
		}
		if c.started {
			if owner >= 0 {
				t.Errorf("handles %d and %d both started the server", owner, i)
			}
			owner = i
		}
	}
	if owner < 0 {
		t.Fatal("no handle started the server")
	}
	if rec, ok := clusters[owner].readOwner(); !ok || !rec.names(clusters[owner]) || rec.Role != OwnerCLI {
		t.Errorf("owner record %+v (found %v), want handle %d as cli", rec, ok, owner)
	}

	// The owner leaves first, while the others still use the server: it
	// hands it over; each later one leaves it running, and the last stops it.
	order := append([]*Cluster{clusters[owner]}, append(clusters[:owner:owner], clusters[owner+1:]...)...)
	for i, c := range order {
		stopOK(t, c)
		last := i == len(order)-1
		if running := serverRunning(dir); running == last {
			t.Fatalf("after Stop %d of %d: running = %v\n%s", i+1, n, running, logs.String())
		}
		if i == 0 {
			if rec, ok := c.readOwner(); !ok || !rec.Shared {
				t.Errorf("owner record after the owner left: %+v (found %v), want shared", rec, ok)
			}
		}
		if !last {
			if err := canConnect(c.URL()); err != nil {
				t.Fatalf("after Stop %d of %d: %v", i+1, n, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ownerFileName)); !os.IsNotExist(err) {
		t.Errorf("owner record left after the server stopped: %v", err)
	}
	for _, want := range []string{"in use by other switchboard processes", "embedded PostgreSQL stopped"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
}

// TestWhoStops plays start/stop sequences of CLI and serve handles on one
// folder and checks after each Stop whether the server still runs.
func TestWhoStops(t *testing.T) {
	old := sessionGrace
	sessionGrace = 200 * time.Millisecond // the session case would wait it out in full
	t.Cleanup(func() { sessionGrace = old })

	type step struct {
		op   string // "cli", "serve": Start such a handle; "stop"; "connect", "disconnect": a foreign session; "orphan": the handle's process "exits" without Stop
		name string // the handle
		// After a stop: whether the server still runs, and what the log says.
		running bool
		log     string // %d is replaced by this process's pid
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"a command stops what it started", []step{
			{op: "cli", name: "a"},
			{op: "stop", name: "a", running: false, log: "embedded PostgreSQL stopped"},
		}},
		{"a command that reused it leaves it to the one that started it", []step{
			{op: "cli", name: "a"},
			{op: "cli", name: "b"},
			{op: "stop", name: "b", running: true, log: "owned by pid %d (cli)"},
			{op: "stop", name: "a", running: false},
		}},
		{"serve takes it over; the command that started it leaves it", []step{
			{op: "cli", name: "a"},
			{op: "serve", name: "s"},
			{op: "stop", name: "a", running: true, log: "owned by pid %d (serve)"},
			{op: "stop", name: "s", running: false, log: "embedded PostgreSQL stopped"},
		}},
		{"serve leaves it to a command still using it", []step{
			{op: "serve", name: "s"},
			{op: "cli", name: "a"},
			{op: "stop", name: "s", running: true, log: "in use by other switchboard processes"},
			{op: "stop", name: "a", running: false},
		}},
		{"a client session keeps it running until the next command leaves", []step{
			{op: "cli", name: "a"},
			{op: "connect"},
			{op: "stop", name: "a", running: true, log: "1 other client session(s) connected: postgres@switchboard"},
			{op: "disconnect"},
			{op: "cli", name: "b"},
			{op: "stop", name: "b", running: false},
		}},
		{"no live owner: commands leave it, serve adopts and stops it", []step{
			{op: "cli", name: "a"},
			{op: "orphan", name: "a"},
			{op: "cli", name: "b"},
			{op: "stop", name: "b", running: true, log: "no live owner"},
			{op: "serve", name: "s"},
			{op: "stop", name: "s", running: false},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := freshDir(t)
			handles := map[string]*Cluster{}
			var session *pgx.Conn
			for i, s := range tc.steps {
				var logs logBuffer
				switch s.op {
				case "cli", "serve":
					c, err := startErr(Options{Dir: dir, Owner: Owner(s.op), Logger: logs.logger(), noSync: true})
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					t.Cleanup(func() { _ = c.Stop(context.Background()) })
					handles[s.name] = c
				case "connect":
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					var err error
					session, err = pgx.Connect(ctx, handles["a"].AdminURL())
					cancel()
					if err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
				case "disconnect":
					_ = session.Close(context.Background())
				case "orphan":
					// As if its process had exited: the kernel drops its lock,
					// and the record names a dead pid.
					c := handles[s.name]
					c.unregister()
					c.stopped.Store(true)
					b := fmt.Appendf(nil, `{"pid":%d,"role":"cli","started_at":"2025-01-01T00:00:00Z"}`, deadPid(t))
					if err := os.WriteFile(filepath.Join(dir, ownerFileName), b, 0o644); err != nil {
						t.Fatal(err)
					}
				case "stop":
					c := handles[s.name]
					c.logger = logs.logger()
					stopOK(t, c)
					if got := serverRunning(dir); got != s.running {
						t.Fatalf("step %d (stop %s): running = %v, want %v\n%s", i, s.name, got, s.running, logs.String())
					}
					if want := strings.ReplaceAll(s.log, "%d", strconv.Itoa(os.Getpid())); !strings.Contains(logs.String(), want) {
						t.Errorf("step %d (stop %s): log lacks %q:\n%s", i, s.name, want, logs.String())
					}
					if left := c.LeftRunning(); (left != "") != s.running {
						t.Errorf("step %d (stop %s): LeftRunning() = %q, server running: %v", i, s.name, left, s.running)
					}
				}
			}
		})
	}
}

func TestPortKept(t *testing.T) {
	for _, tc := range []struct {
		name   string
		occupy bool // another program listens on the recorded port meanwhile
	}{
		{"free port is reused", false},
		{"taken port is replaced", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := freshDir(t)
			c1, err := startErr(Options{Dir: dir, Logger: quietLogger(), noSync: true})
			if err != nil {
				t.Fatal(err)
			}
			port := c1.Port()
			stopOK(t, c1)
			if serverRunning(dir) {
				t.Fatal("still running after Stop")
			}
			if tc.occupy {
				l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = l.Close() })
			}
			var logs logBuffer
			c2 := start(t, Options{Dir: dir, Logger: logs.logger(), noSync: true})
			if err := canConnect(c2.URL()); err != nil {
				t.Fatal(err)
			}
			if got := c2.Port() == port; got == tc.occupy {
				t.Errorf("port %d after restart, was %d (occupied: %v)", c2.Port(), port, tc.occupy)
			}
			if got := c2.recordedPort(); got != c2.Port() {
				t.Errorf("recorded port %d, running on %d", got, c2.Port())
			}
			if warned := strings.Contains(logs.String(), "recorded port is taken"); warned != tc.occupy {
				t.Errorf("warning about the taken port: %v, want %v\n%s", warned, tc.occupy, logs.String())
			}
		})
	}
}
