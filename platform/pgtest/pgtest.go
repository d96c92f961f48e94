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
	// secondURLEnv is the application-role URL of a second, independent
	// server, for SecondURL when urlEnv is set.
	secondURLEnv = "SWITCHBOARD_TEST_SECOND_DATABASE_URL"
	// secondAdminURLEnv is the superuser URL that goes with secondURLEnv.
	secondAdminURLEnv = "SWITCHBOARD_TEST_SECOND_ADMIN_URL"
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

	// external is set when Run found urlEnv: the tests use existing servers.
	external bool
	// extSecondURL and extSecondAdmin are secondURLEnv and secondAdminURLEnv
	// as Run found them (external mode only).
	extSecondURL, extSecondAdmin string

	// second is the embedded second cluster, once SecondURL or
	// SecondAdminURL started it, in the folder secondDir; secondErr is why
	// starting it failed (it is not retried).
	second    *pgembed.Cluster
	secondDir string
	secondErr error
	// finished is set when Run has cleaned up; a second cluster started
	// after that would outlive the test binary.
	finished bool
)

// Run starts a throwaway cluster for one test package, runs the tests, stops and removes it (and the second cluster, if SecondURL or SecondAdminURL started one); use from TestMain: func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }
func Run(m *testing.M) int {
	if u := os.Getenv(urlEnv); u != "" {
		mu.Lock()
		external = true
		extSecondURL, extSecondAdmin = os.Getenv(secondURLEnv), os.Getenv(secondAdminURLEnv)
		mu.Unlock()
		set(u, os.Getenv(adminURLEnv))
		return m.Run()
	}

	// A test binary that panicked or timed out never reached its cleanup;
	// reclaim what such binaries left behind before adding our own.
	sweepStale()

	dir, err := makeDir()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)

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
	defer stopSecond()
	set(cluster.URL(), cluster.AdminURL())
	return m.Run()
}

// makeDir creates a cluster folder the server user can enter, marked with
// our pid so that sweepStale can reclaim it once this binary is gone.
func makeDir() (string, error) {
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return "", err
	}
	// 0755: when tests run as root the server runs as the postgres OS user,
	// which must be able to enter the folder.
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
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

// SecondURL returns the application-role URL (LOGIN, CREATEROLE, owner of
// its database) of a second PostgreSQL server, independent of the one URL
// names, for tests that place tenants on two database servers. The first
// call starts it (a second private cluster, which Run stops and removes
// with the first); later calls return the same URL. When
// SWITCHBOARD_TEST_DATABASE_URL is set, it returns
// SWITCHBOARD_TEST_SECOND_DATABASE_URL instead, and panics if that is not
// set. It panics if Run has not started the package's cluster, or if the
// second server cannot be started.
func SecondURL() string {
	app, _ := secondURLs("SecondURL")
	if app == "" {
		panic("pgtest: " + urlEnv + " is set but " + secondURLEnv + " (the application-role URL of a second, independent server) is not")
	}
	return app
}

// SecondAdminURL returns the superuser URL of the server SecondURL names,
// starting it on first use like SecondURL. When
// SWITCHBOARD_TEST_DATABASE_URL is set, it returns
// SWITCHBOARD_TEST_SECOND_ADMIN_URL instead, and panics if that is not set.
func SecondAdminURL() string {
	_, admin := secondURLs("SecondAdminURL")
	if admin == "" {
		panic("pgtest: " + urlEnv + " is set but " + secondAdminURLEnv + " (the superuser URL of the second server) is not")
	}
	return admin
}

// secondURLs returns the second server's URLs, starting its cluster on the
// first call; caller names the exported function for panic messages.
func secondURLs(caller string) (app, admin string) {
	mu.Lock()
	defer mu.Unlock()
	if !started {
		panic("pgtest: " + caller + " called before pgtest.Run; add func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }")
	}
	if external {
		return extSecondURL, extSecondAdmin
	}
	if second == nil && secondErr == nil {
		if finished {
			panic("pgtest: " + caller + " called after pgtest.Run returned")
		}
		second, secondDir, secondErr = startSecond()
	}
	if secondErr != nil {
		panic("pgtest: starting the second test database: " + secondErr.Error())
	}
	return second.URL(), second.AdminURL()
}

// startSecond starts the second cluster in a folder of its own; on failure
// it leaves nothing behind.
func startSecond() (*pgembed.Cluster, string, error) {
	dir, err := makeDir()
	if err != nil {
		return nil, "", err
	}
	cluster, err := start(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return cluster, dir, nil
}

// stopSecond stops and removes the second cluster, if one was started, and
// keeps a late SecondURL from starting another.
func stopSecond() {
	mu.Lock()
	defer mu.Unlock()
	finished = true
	if second == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := second.Stop(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: second cluster:", err)
	}
	os.RemoveAll(secondDir)
	second = nil
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
