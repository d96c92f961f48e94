// Package pgembed runs a private PostgreSQL cluster from the server binaries
// already installed on the machine, so the app and its tests work with no
// database configured.
//
// The cluster lives in one folder (Options.Dir): data in Dir/data, the unix
// socket in Dir/run, the server log in Dir/postgres.log and the application
// role's password in Dir/app-password. A server already running on that
// folder is reused instead of started twice.
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
	// Logger receives the one start-up line; default slog.Default().
	Logger *slog.Logger

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

	mu      sync.Mutex
	started bool // this process started the server, so Stop may stop it
	stopped bool
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
	}

	// Parents 0755 so the server user can traverse them; Dir itself 0700
	// because it holds the app password.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
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
		if reused, err = c.startServer(ctx, noSync); err != nil {
			return nil, err
		}
	}
	if err := c.bootstrap(ctx); err != nil {
		if c.started {
			stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			_ = c.Stop(stopCtx)
			cancel()
		}
		return nil, err
	}
	mode := "started"
	if reused {
		mode = "reused"
	}
	c.logger.Info("embedded PostgreSQL ready", "data_dir", c.dataDir, "port", c.port,
		"mode", mode, "initialized", initialized, "took", time.Since(begin).Round(time.Millisecond))
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

// Stop shuts the server down (fast mode: open sessions are cut off) if this
// process started it; a reused server is left running. Safe to call more
// than once and from a shutdown path whose ctx is already canceled.
func (c *Cluster) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.started || c.stopped {
		return nil
	}
	if ctx.Err() != nil {
		// A canceled ctx (signal received) must not kill pg_ctl before it
		// has even asked the server to stop.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
	}
	out, err := c.run(ctx, "pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", c.dataDir)
	if err != nil {
		if running, _ := c.status(ctx); !running {
			c.stopped = true // someone else stopped it already
			return nil
		}
		return fmt.Errorf("pgembed: pg_ctl stop: %w: %s", err, strings.TrimSpace(out))
	}
	c.stopped = true
	return nil
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		pf, ok, err := c.readPidFile()
		if err != nil || !ok || !processAlive(pf.pid) {
			return false, err
		}
		switch pf.status {
		case "ready", "standby":
			running, err := c.status(ctx)
			if err != nil || !running {
				return false, err
			}
			if pf.port == 0 || pf.socketDir == "" {
				return false, fmt.Errorf("pgembed: a server is running on %s without a unix socket (postmaster.pid has port %d, socket folder %q); stop it first", c.dataDir, pf.port, pf.socketDir)
			}
			c.port, c.socketDir = pf.port, pf.socketDir
			return true, nil
		}
		// Starting up or shutting down: wait like pg_ctl -w would.
		if time.Now().After(deadline) {
			return false, fmt.Errorf("pgembed: server on %s stuck in state %q (pid %d)", c.dataDir, pf.status, pf.pid)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
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

// startServer runs pg_ctl start on a free loopback port. If another process
// started the same cluster meanwhile, that server is reused (reused=true).
func (c *Cluster) startServer(ctx context.Context, noSync bool) (reused bool, err error) {
	logPath := filepath.Join(c.dir, "postgres.log")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return false, err
		}
		o := []string{
			"-c listen_addresses=127.0.0.1",
			"-c port=" + strconv.Itoa(port),
			"-c " + shellQuote("unix_socket_directories="+c.socketDir),
			"-c max_connections=200",
			"-c shared_buffers=128MB",
		}
		if noSync {
			o = append(o, "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
		}
		out, err := c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-D", c.dataDir, "-l", logPath, "-o", strings.Join(o, " "))
		if err == nil {
			c.port = port
			c.mu.Lock()
			c.started = true
			c.mu.Unlock()
			return false, nil
		}
		if ok, _ := c.adoptRunning(ctx); ok {
			return true, nil
		}
		tail := logTail(logPath, 20)
		if attempt < 3 && strings.Contains(tail, "could not bind") {
			continue // the free port was taken between our probe and the server's bind
		}
		return false, fmt.Errorf("pgembed: pg_ctl start: %w: %s\n--- last lines of %s ---\n%s",
			err, strings.TrimSpace(out), logPath, tail)
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
func logTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return "(no server log: " + err.Error() + ")"
	}
	defer f.Close()
	const max = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > max {
		_, _ = f.Seek(st.Size()-max, 0)
	}
	b, _ := io.ReadAll(f)
	return lastLines(string(b), n)
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
