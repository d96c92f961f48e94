// Package pgtest gives each test package its own throwaway PostgreSQL
// cluster (see pgembed), so database tests need no setup and never share
// state across packages. Use it only from _test.go files.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"switchboard/platform/pgembed"
)

const (
	// urlEnv points the tests at an existing database instead of a private cluster.
	urlEnv = "SWITCHBOARD_TEST_DATABASE_URL"
	// adminURLEnv is the superuser URL that goes with urlEnv.
	adminURLEnv = "SWITCHBOARD_TEST_ADMIN_URL"
	// noSyncEnv is pgembed's switch for fast, crash-unsafe settings.
	noSyncEnv = "SWITCHBOARD_PG_NOSYNC"
	// dirPrefix names the temporary cluster folders, so stale ones can be found.
	dirPrefix = "switchboard-pgtest-"
	// ownerFile holds the pid of the test binary that owns a cluster folder.
	ownerFile = "owner.pid"
)

var (
	mu       sync.Mutex
	appURL   string
	adminURL string
	started  bool
)

// Run starts a throwaway cluster for one test package, runs the tests, stops and removes it; use from TestMain: func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
func Run(m *testing.M) int {
	if u := os.Getenv(urlEnv); u != "" {
		set(u, os.Getenv(adminURLEnv))
		return m.Run()
	}

	// A test binary that panicked or timed out never reached its cleanup;
	// reclaim what such binaries left behind before adding our own.
	sweepStale()

	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// 0755: when tests run as root the server runs as the postgres OS user,
	// which must be able to enter the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}

	cluster, err := start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: starting the test database:", err)
		return 1
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := cluster.Stop(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest:", err)
		}
	}()
	set(cluster.URL(), cluster.AdminURL())
	return m.Run()
}

// URL returns the application-role URL of the package's cluster (panics if Run has not started it).
func URL() string {
	mu.Lock()
	defer mu.Unlock()
	if !started {
		panic("pgtest: URL called before pgtest.Run; add func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }")
	}
	return appURL
}

// AdminURL returns the superuser URL.
func AdminURL() string {
	mu.Lock()
	defer mu.Unlock()
	if !started {
		panic("pgtest: AdminURL called before pgtest.Run; add func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }")
	}
	if adminURL == "" {
		panic("pgtest: " + urlEnv + " is set but " + adminURLEnv + " is not")
	}
	return adminURL
}

// set records the URLs the tests will get.
func set(app, admin string) {
	mu.Lock()
	defer mu.Unlock()
	appURL, adminURL, started = app, admin, true
}

// start runs pgembed with fsync off: the data dies with the test binary anyway.
func start(dir string) (*pgembed.Cluster, error) {
	prev, had := os.LookupEnv(noSyncEnv)
	os.Setenv(noSyncEnv, "1")
	defer func() {
		if had {
			os.Setenv(noSyncEnv, prev)
		} else {
			os.Unsetenv(noSyncEnv)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return pgembed.Start(ctx, pgembed.Options{
		Dir:    dir,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
}

// sweepStale removes cluster folders whose test binary is gone, first
// asking their server for an immediate shutdown (a server whose folder is
// simply deleted would only notice within a minute).
func sweepStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		owner, err := readPid(filepath.Join(dir, ownerFile))
		if err != nil || alive(owner) {
			continue // being set up right now, not ours to judge, or still in use
		}
		dataDir := filepath.Join(dir, "data")
		if pid, err := readPid(filepath.Join(dataDir, "postmaster.pid")); err == nil && isPostmasterOf(pid, dataDir) {
			if p, err := os.FindProcess(pid); err == nil {
				_ = p.Signal(syscall.SIGQUIT) // immediate shutdown
				for i := 0; i < 50 && alive(pid); i++ {
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
		_ = os.RemoveAll(dir)
	}
}

// readPid reads the pid on the first line of path.
func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

// alive reports whether pid still exists.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// isPostmasterOf guards against signaling a process that merely reused the
// pid: only a process whose command line names dataDir is signaled (Linux;
// elsewhere the server stops by itself once its folder is gone).
func isPostmasterOf(pid int, dataDir string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(b, []byte(dataDir))
}
