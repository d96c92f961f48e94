package pgembed

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// clusterDir makes a folder the postgres OS user can reach when we are root
// (t.TempDir is 0700 and would be refused).
func clusterDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgembed-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func start(t *testing.T, opts Options) *Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	c, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return c
}

func dial(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func canConnect(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

func TestFindBinaries(t *testing.T) {
	dir, err := FindBinaries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range requiredBinaries {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestFindBinariesMissing(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	old := searchGlobs
	searchGlobs = []string{filepath.Join(empty, "*", "bin")}
	t.Cleanup(func() { searchGlobs = old })

	_, err := FindBinaries()
	if !errors.Is(err, ErrNoBinaries) {
		t.Fatalf("err = %v, want ErrNoBinaries", err)
	}
	for _, want := range []string{"apt-get install postgresql", "database.url"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, err := Start(context.Background(), Options{Dir: t.TempDir()}); !errors.Is(err, ErrNoBinaries) {
		t.Errorf("Start err = %v, want ErrNoBinaries", err)
	}
}

func TestDirVersionOrder(t *testing.T) {
	if compareVersions(dirVersion("/usr/lib/postgresql/10/bin"), dirVersion("/usr/lib/postgresql/9.6/bin")) <= 0 {
		t.Error("10 should sort above 9.6")
	}
	if got := dirVersion("/opt/homebrew/opt/postgresql@16/bin"); len(got) != 1 || got[0] != 16 {
		t.Errorf("homebrew version = %v", got)
	}
}

func TestInvalidNames(t *testing.T) {
	for _, opts := range []Options{
		{Dir: t.TempDir(), Database: "Bad-Name"},
		{Dir: t.TempDir(), AppUser: `x"; DROP ROLE postgres; --`},
		{Dir: t.TempDir(), AppUser: "postgres"},
		{},
	} {
		if _, err := Start(context.Background(), opts); err == nil {
			t.Errorf("Start(%+v) succeeded, want error", opts)
		}
	}
}

func TestUntraversableParentAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres OS user")
	}
	parent := t.TempDir() // 0700, owned by root
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := Start(context.Background(), Options{Dir: filepath.Join(parent, "pg"), Logger: quietLogger()})
	if err == nil || !strings.Contains(err.Error(), parent) {
		t.Fatalf("err = %v, want one naming %s", err, parent)
	}
}

func TestLifecycle(t *testing.T) {
	dir := filepath.Join(clusterDir(t), "cluster") // Start creates it
	ctx := context.Background()

	begin := time.Now()
	c1 := start(t, Options{Dir: dir})
	t.Logf("cold Start (initdb + start, fsync on): %v", time.Since(begin))

	if c1.Dir() != dir {
		t.Errorf("Dir() = %q, want %q", c1.Dir(), dir)
	}
	if st, err := os.Stat(filepath.Join(dir, "app-password")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("app-password: %v, mode %v", err, st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(dir, "run")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("run dir: %v", err)
	}

	// The application role: a plain login role over the unix socket.
	app := dial(t, c1.URL())
	var user string
	var super, inherit, createRole, createDB bool
	var serverAddr *string
	err := app.QueryRow(ctx, `SELECT current_user, rolsuper, rolinherit, rolcreaterole, rolcreatedb, inet_server_addr()::text
		FROM pg_roles WHERE rolname = current_user`).Scan(&user, &super, &inherit, &createRole, &createDB, &serverAddr)
	if err != nil {
		t.Fatal(err)
	}
	if user != "switchboard" || super || inherit || !createRole || createDB {
		t.Errorf("role = %s super=%v inherit=%v createrole=%v createdb=%v", user, super, inherit, createRole, createDB)
	}
	if serverAddr != nil {
		t.Errorf("connected over TCP (%s), want the unix socket", *serverAddr)
	}
	var dbName, owner string
	if err := app.QueryRow(ctx, `SELECT current_database(), pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()`).Scan(&dbName, &owner); err != nil {
		t.Fatal(err)
	}
	if dbName != "switchboard" || owner != "switchboard" {
		t.Errorf("database %s owned by %s", dbName, owner)
	}
	if _, err := app.Exec(ctx, "ALTER SYSTEM SET work_mem = '64MB'"); err == nil {
		t.Error("ALTER SYSTEM succeeded for the app role")
	}
	// Nothing lives in public (PUBLIC lost its rights there and the NOINHERIT
	// app role does not use pg_database_owner's); the app makes its own schemas.
	if _, err := app.Exec(ctx, "CREATE TABLE public.nope (v text)"); err == nil {
		t.Error("the app role created a table in schema public")
	}
	if _, err := app.Exec(ctx, "CREATE SCHEMA kept; CREATE TABLE kept.kept (v text); INSERT INTO kept.kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}

	// The superuser URL.
	admin := dial(t, c1.AdminURL())
	if err := admin.QueryRow(ctx, "SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&user, &super); err != nil {
		t.Fatal(err)
	}
	if user != "postgres" || !super {
		t.Errorf("admin = %s super=%v", user, super)
	}
	var publicUsage bool
	if err := admin.QueryRow(ctx, "SELECT has_schema_privilege('public', 'public', 'USAGE')").Scan(&publicUsage); err != nil {
		t.Fatal(err)
	}
	if publicUsage {
		t.Error("PUBLIC still has USAGE on schema public")
	}
	_ = admin.Close(ctx)
	_ = app.Close(ctx)

	// A second Start on the running cluster reuses it, and its Stop leaves it running.
	begin = time.Now()
	c2 := start(t, Options{Dir: dir})
	t.Logf("Start reusing a running server: %v", time.Since(begin))
	if c2.Port() != c1.Port() {
		t.Errorf("reused port %d, want %d", c2.Port(), c1.Port())
	}
	if c2.URL() != c1.URL() {
		t.Errorf("reused URL %s, want %s", c2.URL(), c1.URL())
	}
	if err := c2.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := canConnect(c1.URL()); err != nil {
		t.Fatalf("server gone after Stop on the reusing handle: %v", err)
	}

	// Stop on the starting handle stops it; Stop is idempotent.
	if err := c1.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := canConnect(c1.URL()); err == nil {
		t.Fatal("still connecting after Stop")
	}

	// A stale postmaster.pid (its process is gone) must not be taken for a
	// running server.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := strconv.Itoa(dead.Process.Pid) + "\n" + filepath.Join(dir, "data") + "\n0\n" +
		strconv.Itoa(c1.Port()) + "\n" + filepath.Join(dir, "run") + "\n127.0.0.1\n0 0\nready\n"
	if err := os.WriteFile(filepath.Join(dir, "data", "postmaster.pid"), []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}

	// Warm start: the data survives.
	begin = time.Now()
	c3 := start(t, Options{Dir: dir})
	t.Logf("warm Start (existing data, fsync on): %v", time.Since(begin))
	if !c3.started {
		t.Error("warm Start reused a server, want started")
	}
	var v string
	if err := dial(t, c3.URL()).QueryRow(ctx, "SELECT v FROM kept.kept").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("kept row = %q, %v", v, err)
	}
}

func TestNoSyncStart(t *testing.T) {
	dir := clusterDir(t)
	begin := time.Now()
	c := start(t, Options{Dir: dir, Database: "other_db", AppUser: "other_user", noSync: true})
	t.Logf("cold Start (no fsync): %v", time.Since(begin))
	var user, db, fsync string
	if err := dial(t, c.URL()).QueryRow(context.Background(), "SELECT current_user, current_database(), current_setting('fsync')").Scan(&user, &db, &fsync); err != nil {
		t.Fatal(err)
	}
	if user != "other_user" || db != "other_db" || fsync != "off" {
		t.Errorf("user=%s db=%s fsync=%s", user, db, fsync)
	}
}
