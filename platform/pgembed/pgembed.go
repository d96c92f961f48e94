// Package pgembed runs a private PostgreSQL cluster from the server binaries
// already installed on the machine, so the app and its tests work with no
// database configured.
//
// The cluster lives in one folder (Options.Dir): data in Dir/data, the unix
// socket in Dir/run, the server log in Dir/postgres.log and the application
// role's password in Dir/app-password. A server already running on that
// folder is reused instead of started twice.
//
// Several processes may use one folder at once (serve and any number of CLI
// commands), so:
//
//   - Start holds a file lock (Dir/start.lock) from before initdb until the
//     server is up and bootstrapped: concurrent Starts on a cold folder make
//     one initdb and one server, and the others reuse it.
//   - The port is kept in Dir/port and reused on the next start, so a URL
//     printed earlier stays valid; only when another program holds it is a
//     new one chosen (with a warning).
//   - Dir/owner.json records who owns the server (pid, role "serve" or
//     "cli", started_at). The process that starts the server owns it, except
//     that serve takes over a server a CLI command started. A record naming
//     a dead process means no owner.
//
// Who stops the server: Stop stops it only if this handle owns it and no
// other switchboard process (each open handle holds a shared lock on
// Dir/in-use.lock) and no other client session (pg_stat_activity) uses it.
// An owner that finds others still using it leaves it running and marks the
// record shared; then the last switchboard process to leave stops it. So of
// eight concurrent commands on one folder, the last to finish stops the
// server, and a command never stops a server serve owns. A handle that does
// not own the server leaves it running. Stop logs (at info) what it leaves
// running and why, and LeftRunning returns the same. A server with no live
// owner (started by `switchboard db url`, whose process has exited) is left
// running by commands until serve adopts it.
//
// serve runs Supervise, which restarts its server on the same port (with
// backoff) when it dies; Health reports the state for a readiness probe.
package pgembed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// superuser is the bootstrap superuser initdb creates (-U), whatever the OS user.
const superuser = "postgres"

// noSyncEnv turns on the fast, crash-unsafe settings; meant for throwaway
// test clusters (pgtest sets it).
const noSyncEnv = "SWITCHBOARD_PG_NOSYNC"

// Options configures Start; only Dir is required.
type Options struct {
	// Dir is the cluster root folder, e.g. ./.data/postgres; data in Dir/data,
	// unix socket in Dir/run, server log in Dir/postgres.log.
	Dir string
	// Database is the application database, owned by AppUser; default "switchboard".
	Database string
	// AppUser is the application's login role (not a superuser); default "switchboard".
	AppUser string
	// Logger receives the start-up line, ownership changes, what Stop
	// leaves running and Supervise's restarts; default slog.Default().
	Logger *slog.Logger
	// Owner is who is starting: OwnerServe or OwnerCLI (the default).
	Owner Owner

	// noSync skips fsync in initdb and the server, like SWITCHBOARD_PG_NOSYNC=1:
	// much faster, and fine for data nobody needs after a crash.
	noSync bool
}

// Cluster is a running (started or reused) private PostgreSQL server.
type Cluster struct {
	dir       string
	dataDir   string
	socketDir string
	bindir    string
	port      int
	database  string
	appUser   string
	password  string
	user      *runAs
	logger    *slog.Logger
	role      Owner
	handle    string // tells this handle's owner record apart from others'
	noSync    bool
	every     time.Duration // how often Supervise looks at the postmaster
	inUse     *os.File      // holds the shared in-use lock while open

	// mu serializes Stop and Supervise's restarts within the process.
	mu      sync.Mutex
	started bool   // this handle started the server (rather than reusing it)
	left    string // why Stop left the server running, if it did
	stopped atomic.Bool

	healthMu sync.Mutex
	health   healthState
}

// identRE keeps role and database names plain, so they never need quoting
// surprises in URLs or SQL.
var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Start initializes the cluster if needed, starts it (or reuses the server
// already running on Dir) and makes sure the application role and database
// exist with the right attributes.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	begin := time.Now()
	if opts.Dir == "" {
		return nil, errors.New("pgembed: Options.Dir is required")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if opts.Database == "" {
		opts.Database = "switchboard"
	}
	if opts.AppUser == "" {
		opts.AppUser = "switchboard"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	for _, name := range []string{opts.Database, opts.AppUser} {
		if !identRE.MatchString(name) {
			return nil, fmt.Errorf("pgembed: invalid name %q: use lower-case letters, digits and _ (at most 63, not starting with a digit)", name)
		}
	}
	if opts.AppUser == superuser {
		return nil, fmt.Errorf("pgembed: AppUser must not be the superuser %q", superuser)
	}
	switch opts.Owner {
	case "":
		opts.Owner = OwnerCLI
	case OwnerCLI, OwnerServe:
	default:
		return nil, fmt.Errorf("pgembed: invalid Owner %q: use OwnerServe or OwnerCLI", opts.Owner)
	}
	noSync := opts.noSync || os.Getenv(noSyncEnv) == "1"

	bindir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	user, err := serverUser()
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		dir:       dir,
		dataDir:   filepath.Join(dir, "data"),
		socketDir: filepath.Join(dir, "run"),
		bindir:    bindir,
		database:  opts.Database,
		appUser:   opts.AppUser,
		user:      user,
		logger:    opts.Logger,
		role:      opts.Owner,
		handle:    newHandle(),
		noSync:    noSync,
		every:     time.Second,
	}

	// Parents 0755 so the server user can traverse them; Dir itself 0700
	// because it holds the app password.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}

	// Everything from here to a bootstrapped server happens under the lock:
	// concurrent initdb, password files or role DDL (which fails with "tuple
	// concurrently updated") would break the other starters.
	unlock, err := c.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if c.password, err = c.appPassword(); err != nil {
		return nil, err
	}
	reused, err := c.adoptRunning(ctx)
	if err != nil {
		return nil, err
	}
	initialized := false
	if !reused {
		if initialized, err = c.prepare(ctx, noSync); err != nil {
			return nil, err
		}
		if reused, err = c.startServer(ctx); err != nil {
			return nil, err
		}
	}
	err = c.bootstrap(ctx)
	if err == nil {
		err = c.claim()
	}
	if err == nil {
		err = c.register(ctx)
	}
	if err != nil {
		if c.started {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			if _, serr := c.pgCtlStop(stopCtx); serr == nil {
				c.removeOwner()
			}
			cancel()
		}
		return nil, err
	}
	c.recordPort(c.port)
	mode := "started"
	if reused {
		mode = "reused"
	}
	owner := "none"
	if rec, ok := c.readOwner(); ok && rec.names(c) {
		owner = "this process"
	} else if ok {
		owner = rec.String()
	}
	c.logger.Info("embedded PostgreSQL ready", "data_dir", c.dataDir, "port", c.port,
		"mode", mode, "initialized", initialized, "role", c.role, "owner", owner,
		"took", time.Since(begin).Round(time.Millisecond))
	return c, nil
}

// URL is the connection URL for the application login role, over the unix socket.
func (c *Cluster) URL() string { return c.url(c.appUser, c.password, c.database) }

// AdminURL is the superuser URL over the unix socket, for tests and benchmarks
// that need to create or drop things the app role may not.
func (c *Cluster) AdminURL() string { return c.url(superuser, "", c.database) }

// Port is the server's TCP port on 127.0.0.1 (also part of the socket name).
func (c *Cluster) Port() int { return c.port }

// Dir is the absolute cluster root folder.
func (c *Cluster) Dir() string { return c.dir }

// Stop releases this handle and shuts the server down (fast mode) if this
// handle owns it and nobody else uses it; otherwise it leaves the server
// running, logs at info what it leaves and why, and returns nil. Close the
// handle's own connections first: they count as other sessions. Stop also
// ends Supervise's restarts. Safe to call more than once and from a
// shutdown path whose ctx is already canceled.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped.Swap(true) {
		return nil
	}
	if ctx.Err() != nil {
		// A canceled ctx (signal received) must not kill pg_ctl before it
		// has even asked the server to stop.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		c.unregister()
		return err
	}
	defer unlock()
	c.unregister()

	running, err := c.status(ctx)
	if err != nil {
		return err
	}
	if !running {
		if rec, ok := c.readOwner(); ok && (rec.names(c) || rec.Shared) {
			c.removeOwner()
		}
		return nil
	}
	stop, reason := c.stopDecision(ctx)
	if !stop {
		c.left = reason
		c.logger.Info("embedded PostgreSQL left running", "reason", reason, "port", c.port, "data_dir", c.dataDir)
		return nil
	}
	out, err := c.pgCtlStop(ctx)
	if err != nil {
		if running, _ := c.status(ctx); running {
			return fmt.Errorf("pgembed: pg_ctl stop: %w: %s", err, strings.TrimSpace(out))
		}
	}
	c.removeOwner()
	c.logger.Info("embedded PostgreSQL stopped", "port", c.port, "data_dir", c.dataDir)
	return nil
}

// LeftRunning says why Stop left the server running ("owned by pid 123
// (serve)", "in use by other switchboard processes; ..."), or "" when it
// stopped it, found it stopped, or has not been called.
func (c *Cluster) LeftRunning() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.left
}

// pgCtlStop shuts the server down in fast mode and waits for it.
func (c *Cluster) pgCtlStop(ctx context.Context) (string, error) {
	return c.run(ctx, "pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", c.dataDir)
}

// url builds a libpq-style URL whose host is the socket folder.
func (c *Cluster) url(user, password, database string) string {
	u := url.URL{Scheme: "postgres", Path: "/" + database}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	u.RawQuery = "host=" + url.QueryEscape(c.socketDir) + "&port=" + strconv.Itoa(c.port) + "&sslmode=disable"
	return u.String()
}

// appPassword reads Dir/app-password, creating it on first use.
func (c *Cluster) appPassword() (string, error) {
	path := filepath.Join(c.dir, "app-password")
	b, err := os.ReadFile(path)
	if err == nil && len(bytes.TrimSpace(b)) > 0 {
		return string(bytes.TrimSpace(b)), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	pw := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("pgembed: %w", err)
	}
	return pw, nil
}

// pidFile is what postmaster.pid tells about a running server.
type pidFile struct {
	pid       int
	port      int
	socketDir string
	status    string
}

// readPidFile parses Dir/data/postmaster.pid; ok is false when there is none.
func (c *Cluster) readPidFile() (pf pidFile, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(c.dataDir, "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return pf, false, nil
	}
	if err != nil {
		return pf, false, fmt.Errorf("pgembed: %w", err)
	}
	lines := strings.Split(string(b), "\n")
	line := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	pf.pid, _ = strconv.Atoi(line(0))
	pf.port, _ = strconv.Atoi(line(3))
	pf.socketDir = line(4)
	pf.status = line(7)
	return pf, true, nil
}

// adoptRunning reuses a server already running on the data folder; a stale
// postmaster.pid (dead pid) is left for pg_ctl start to deal with.
func (c *Cluster) adoptRunning(ctx context.Context) (bool, error) {
	pf, ok, err := c.findRunning(ctx)
	if ok {
		c.port, c.socketDir = pf.port, pf.socketDir
	}
	return ok, err
}

// findRunning reports the server running on the data folder, if any,
// waiting (like pg_ctl -w) while one is starting up or shutting down.
func (c *Cluster) findRunning(ctx context.Context) (pidFile, bool, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		pf, ok, err := c.readPidFile()
		if err != nil || !ok || !processAlive(pf.pid) {
			return pf, false, err
		}
		switch pf.status {
		case "ready", "standby":
			running, err := c.status(ctx)
			if err != nil || !running {
				return pf, false, err
			}
			if pf.port == 0 || pf.socketDir == "" {
				return pf, false, fmt.Errorf("pgembed: a server is running on %s without a unix socket (postmaster.pid has port %d, socket folder %q); stop it first", c.dataDir, pf.port, pf.socketDir)
			}
			return pf, true, nil
		}
		if time.Now().After(deadline) {
			return pf, false, fmt.Errorf("pgembed: server on %s stuck in state %q (pid %d)", c.dataDir, pf.status, pf.pid)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return pf, false, err
		}
	}
}

// status asks pg_ctl whether a server runs on the data folder (exit 3 = no).
func (c *Cluster) status(ctx context.Context) (bool, error) {
	out, err := c.run(ctx, "pg_ctl", "status", "-D", c.dataDir)
	if err == nil {
		return true, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 3 || ee.ExitCode() == 4) {
		return false, nil
	}
	return false, fmt.Errorf("pgembed: pg_ctl status: %w: %s", err, strings.TrimSpace(out))
}

// prepare hands Dir to the server user, runs initdb when there is no cluster
// yet and creates the socket folder. It reports whether it ran initdb.
func (c *Cluster) prepare(ctx context.Context, noSync bool) (bool, error) {
	if err := c.checkSocketPath(); err != nil {
		return false, err
	}
	if err := os.Mkdir(c.socketDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Chmod(c.socketDir, 0o700); err != nil {
		return false, fmt.Errorf("pgembed: %w", err)
	}
	if err := chownTree(c.dir, c.user); err != nil {
		return false, fmt.Errorf("pgembed: handing %s to the %s OS user: %w", c.dir, c.user.name, err)
	}
	if err := checkTraversable(c.dir, c.user); err != nil {
		return false, err
	}
	if _, err := os.Stat(filepath.Join(c.dataDir, "PG_VERSION")); err == nil {
		return false, nil
	}
	// initdb goes to a side folder renamed into place when complete, so an
	// interrupted initdb never leaves a half-made cluster in Dir/data.
	if entries, err := os.ReadDir(c.dataDir); err == nil {
		if len(entries) > 0 {
			return false, fmt.Errorf("pgembed: %s is not empty but has no PG_VERSION, so it is not a PostgreSQL data folder; move it away", c.dataDir)
		}
		if err := os.Remove(c.dataDir); err != nil {
			return false, fmt.Errorf("pgembed: %w", err)
		}
	}
	tmp := c.dataDir + ".initdb"
	if err := os.RemoveAll(tmp); err != nil {
		return false, fmt.Errorf("pgembed: %w", err)
	}
	args := []string{"-D", tmp, "-U", superuser, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"}
	if noSync {
		args = append(args, "--no-sync")
	}
	out, err := c.run(ctx, "initdb", append(args, "--locale=C.UTF-8")...)
	if err != nil && strings.Contains(out, "locale") {
		// Systems without a C.UTF-8 locale (some macOS and minimal images).
		_ = os.RemoveAll(tmp)
		out, err = c.run(ctx, "initdb", append(args, "--no-locale")...)
	}
	if err != nil {
		_ = os.RemoveAll(tmp)
		return false, fmt.Errorf("pgembed: initdb: %w: %s", err, lastLines(out, 20))
	}
	if err := os.Rename(tmp, c.dataDir); err != nil {
		return false, fmt.Errorf("pgembed: %w", err)
	}
	return true, nil
}

// checkSocketPath fails early and clearly when Dir is so deep that the
// socket path exceeds the kernel limit (postgres' own error is obscure).
func (c *Cluster) checkSocketPath() error {
	limit := 107 // sizeof(sun_path) - 1 on Linux
	if runtime.GOOS != "linux" {
		limit = 103
	}
	if p := filepath.Join(c.socketDir, ".s.PGSQL.65535"); len(p) > limit {
		return fmt.Errorf("pgembed: socket path %s is %d bytes, over the %d-byte limit for unix sockets; choose a shorter database folder", p, len(p), limit)
	}
	return nil
}

// startServer runs pg_ctl start on the recorded port, or on a free loopback
// port when that is taken. If another server came up on the folder
// meanwhile, it is reused (reused=true).
func (c *Cluster) startServer(ctx context.Context) (reused bool, err error) {
	// After a crash the dead postmaster may still be a zombie, which the
	// server's own lock-file check takes for a running server.
	if err := c.waitReaped(ctx, 10*time.Second); err != nil {
		return false, err
	}
	port := c.recordedPort()
	if port > 0 && !portFree(port) {
		c.logger.Warn("embedded PostgreSQL: its recorded port is taken by another program; choosing a new one (URLs printed before no longer work)",
			"port", port, "data_dir", c.dataDir)
		port = 0
	}
	for attempt := 1; ; attempt++ {
		if port == 0 {
			if port, err = freePort(); err != nil {
				return false, err
			}
		}
		logFrom := logSize(c.logPath())
		out, err := c.pgCtlStart(ctx, port)
		if err == nil {
			c.port = port
			c.started = true
			return false, nil
		}
		if ok, _ := c.adoptRunning(ctx); ok {
			return true, nil
		}
		tail := logTailSince(c.logPath(), logFrom, 20)
		switch {
		case attempt < 3 && strings.Contains(tail, "could not bind"):
			port = 0 // the port was taken between our probe and the server's bind
			continue
		case attempt < 20 && strings.Contains(tail, "pre-existing shared memory block"):
			// Backends of a killed postmaster still hold its shared
			// memory; they exit as soon as they notice it is gone.
			if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
				return false, err
			}
			continue
		}
		if strings.TrimSpace(tail) == "" {
			tail = logTail(c.logPath(), 20)
		}
		return false, fmt.Errorf("pgembed: pg_ctl start: %w: %s\n--- last lines of %s ---\n%s",
			err, strings.TrimSpace(out), c.logPath(), tail)
	}
}

// logPath is the server log.
func (c *Cluster) logPath() string { return filepath.Join(c.dir, "postgres.log") }

// pgCtlStart starts the server on port and waits until it accepts connections.
func (c *Cluster) pgCtlStart(ctx context.Context, port int) (string, error) {
	o := []string{
		"-c listen_addresses=127.0.0.1",
		"-c port=" + strconv.Itoa(port),
		"-c " + shellQuote("unix_socket_directories="+c.socketDir),
		"-c max_connections=200",
		// Not PostgreSQL's 128 MB: with thousands of client schemas the
		// catalogs alone outgrow it (some 20 tables, their indexes and
		// columns per client), and every new backend reads them. At 10,000
		// clients on two servers, ingest over 1,000 of them went from 0.66×
		// to 0.82× of its rate over 20 (bench, one run each). Memory is
		// taken as it is used.
		"-c shared_buffers=512MB",
	}
	if c.noSync {
		o = append(o, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
	}
	return c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir, "-l", c.logPath(), "-o", strings.Join(o, " "))
}

// waitReaped waits up to max for a dead postmaster named in postmaster.pid
// to be gone entirely (not even a zombie).
func (c *Cluster) waitReaped(ctx context.Context, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		pf, ok, err := c.readPidFile()
		if err != nil || !ok || processAlive(pf.pid) || !pidExists(pf.pid) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("pgembed: the dead postmaster (pid %d) of %s has not been reaped yet", pf.pid, c.dataDir)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// sleepCtx waits d unless ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// bootstrap makes sure the app role and database exist with the right
// attributes; idempotent and tolerant of another process doing the same.
func (c *Cluster) bootstrap(ctx context.Context) error {
	conn, err := connect(ctx, c.url(superuser, "", "postgres"))
	if err != nil {
		return fmt.Errorf("pgembed: connecting as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	role := pgx.Identifier{c.appUser}.Sanitize()
	db := pgx.Identifier{c.database}.Sanitize()
	attrs := " LOGIN NOSUPERUSER NOINHERIT CREATEROLE NOCREATEDB PASSWORD " + quoteLiteral(c.password)

	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", c.appUser).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE ROLE "+role+attrs)
		switch {
		case sqlState(err) == "42710": // duplicate_object: created concurrently
			exists = true
		case err != nil:
			return fmt.Errorf("pgembed: creating role %s: %w", c.appUser, err)
		}
	}
	if exists {
		if _, err := conn.Exec(ctx, "ALTER ROLE "+role+" WITH"+attrs); err != nil {
			return fmt.Errorf("pgembed: altering role %s: %w", c.appUser, err)
		}
	}

	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.database).Scan(&exists); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE DATABASE "+db+" OWNER "+role)
		switch {
		case sqlState(err) == "42P04": // duplicate_database: created concurrently
			exists = true
		case err != nil:
			return fmt.Errorf("pgembed: creating database %s: %w", c.database, err)
		}
	}
	if exists {
		if _, err := conn.Exec(ctx, "ALTER DATABASE "+db+" OWNER TO "+role); err != nil {
			return fmt.Errorf("pgembed: %w", err)
		}
	}

	dbConn, err := connect(ctx, c.url(superuser, "", c.database))
	if err != nil {
		return fmt.Errorf("pgembed: connecting to %s as superuser: %w", c.database, err)
	}
	defer dbConn.Close(context.WithoutCancel(ctx))
	if _, err := dbConn.Exec(ctx, "REVOKE ALL ON SCHEMA public FROM PUBLIC"); err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	return nil
}

// connect retries briefly, since a reused server may still be finishing
// crash recovery or a start-up by another process.
func connect(ctx context.Context, connURL string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connURL)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// run executes one of the server binaries as the server user, returning its
// combined output.
func (c *Cluster) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bindir, name), args...)
	cmd.Dir = c.dir // the server user may not be able to read our cwd
	cmd.Env = serverEnv()
	cmd.WaitDelay = 5 * time.Second // never hang on a pipe held by the daemonized server
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	c.user.apply(cmd)
	err := cmd.Run()
	return buf.String(), err
}

// serverEnv is our environment minus libpq/server variables (PGDATA, PGPORT,
// ...) that could override what we pass explicitly.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return env
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgembed: finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last n lines of the server log for error messages.
func logTail(path string, n int) string { return logTailSince(path, 0, n) }

// logTailSince is logTail limited to what was written after offset from
// (see logSize), so that lines of earlier runs are not taken for this one's.
func logTailSince(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	const window = 64 << 10
	if st, err := f.Stat(); err == nil {
		from = max(from, st.Size()-window)
	}
	_, _ = f.Seek(max(from, 0), io.SeekStart)
	b, _ := io.ReadAll(f)
	return lastLines(string(b), n)
}

// logSize is the current size of the server log (0 if there is none).
func logSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// shellQuote quotes s for the /bin/sh command line pg_ctl builds from -o.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// quoteLiteral quotes s as an SQL string literal (DDL takes no parameters).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// sqlState returns the SQLSTATE of err, or "".
func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
