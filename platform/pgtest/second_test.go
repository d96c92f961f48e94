package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// server is what tells one PostgreSQL server from another.
type server struct {
	systemID int64  // pg_control_system().system_identifier, set by initdb
	port     string // current_setting('port')
	dataDir  string // current_setting('data_directory')
}

func TestSecondServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	if os.Getenv(urlEnv) != "" && (os.Getenv(secondURLEnv) == "" || os.Getenv(secondAdminURLEnv) == "") {
		t.Skipf("%s is set but %s or %s is not: no second server to test", urlEnv, secondURLEnv, secondAdminURLEnv)
	}
	begin := time.Now()
	secondApp := SecondURL()
	t.Logf("SecondURL took %s (the first call starts the second cluster)", time.Since(begin).Round(time.Millisecond))
	secondAdmin := SecondAdminURL()
	if again := SecondURL(); again != secondApp {
		t.Errorf("SecondURL changed between calls: %s, then %s", secondApp, again)
	}
	if again := SecondAdminURL(); again != secondAdmin {
		t.Errorf("SecondAdminURL changed between calls: %s, then %s", secondAdmin, again)
	}

	first, second := connect(ctx, t, URL()), connect(ctx, t, secondApp)
	firstAdmin, secondAdminConn := connect(ctx, t, AdminURL()), connect(ctx, t, secondAdmin)

	for conn, wantUser := range map[*pgx.Conn]string{second: "switchboard", secondAdminConn: "postgres"} {
		var user, fsync string
		if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('fsync')").Scan(&user, &fsync); err != nil {
			t.Fatal(err)
		}
		if user != wantUser {
			t.Errorf("second server: current_user = %s, want %s", user, wantUser)
		}
		if os.Getenv(urlEnv) == "" && fsync != "off" {
			t.Errorf("second server: fsync = %s, want off for the throwaway cluster", fsync)
		}
	}

	a, b := identify(ctx, t, firstAdmin), identify(ctx, t, secondAdminConn)
	t.Logf("first server: %+v; second server: %+v", a, b)
	if a.systemID == b.systemID {
		t.Errorf("both URLs reach the same cluster (system_identifier %d)", a.systemID)
	}
	if os.Getenv(urlEnv) == "" && (a.port == b.port || a.dataDir == b.dataDir) {
		t.Errorf("the embedded clusters share a port or data folder: %+v and %+v", a, b)
	}

	// A table made on one server does not exist on the other, both ways.
	for _, c := range []struct {
		name       string
		made, seen *pgx.Conn
	}{{"first", first, second}, {"second", second, first}} {
		// The app role is NOINHERIT, so it cannot use public (owned by
		// pg_database_owner); it owns the database, so it may make a schema.
		schema := "pgtest_probe_" + suffix(t)
		table := schema + ".probe"
		if _, err := c.made.Exec(ctx, "CREATE SCHEMA "+schema+"; CREATE TABLE "+table+" (id int)"); err != nil {
			t.Fatalf("creating %s on the %s server as the app role: %v", table, c.name, err)
		}
		t.Cleanup(func() { _, _ = c.made.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
		var here, there bool
		if err := c.made.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&here); err != nil {
			t.Fatal(err)
		}
		if err := c.seen.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&there); err != nil {
			t.Fatal(err)
		}
		if !here || there {
			t.Errorf("table %s made on the %s server: exists there %v, on the other %v; want true, false", table, c.name, here, there)
		}
	}

	// The app role may create roles on the second server (tenant roles).
	role := "pgtest_role_" + suffix(t)
	if _, err := second.Exec(ctx, "CREATE ROLE "+role+" NOLOGIN"); err != nil {
		t.Fatalf("CREATE ROLE on the second server as the app role: %v", err)
	}
	t.Cleanup(func() { _, _ = second.Exec(context.Background(), "DROP ROLE IF EXISTS "+role) })
	var onSecond, onFirst bool
	if err := second.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&onSecond); err != nil {
		t.Fatal(err)
	}
	if err := first.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", role).Scan(&onFirst); err != nil {
		t.Fatal(err)
	}
	if !onSecond || onFirst {
		t.Errorf("role %s made on the second server: exists there %v, on the first %v; want true, false", role, onSecond, onFirst)
	}
}

// TestSecondExternalUnset checks the panics of external-database mode
// without its second-server variables.
func TestSecondExternalUnset(t *testing.T) {
	mu.Lock()
	saved := [3]any{external, extSecondURL, extSecondAdmin}
	external, extSecondURL, extSecondAdmin = true, "", ""
	mu.Unlock()
	defer func() {
		mu.Lock()
		external, extSecondURL, extSecondAdmin = saved[0].(bool), saved[1].(string), saved[2].(string)
		mu.Unlock()
	}()
	for name, call := range map[string]func() string{"SecondURL": SecondURL, "SecondAdminURL": SecondAdminURL} {
		want := map[string]string{"SecondURL": secondURLEnv, "SecondAdminURL": secondAdminURLEnv}[name]
		msg := func() (msg string) {
			defer func() { msg = fmt.Sprint(recover()) }()
			call()
			return ""
		}()
		if !strings.Contains(msg, want) {
			t.Errorf("%s with %s unset: panic %q, want one naming %s", name, want, msg, want)
		}
	}
}

// connect opens a connection closed when the test ends.
func connect(ctx context.Context, t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// identify reads what tells the server conn is on from others (as superuser).
func identify(ctx context.Context, t *testing.T, conn *pgx.Conn) server {
	t.Helper()
	var s server
	err := conn.QueryRow(ctx, `SELECT system_identifier, current_setting('port'), current_setting('data_directory')
		FROM pg_control_system()`).Scan(&s.systemID, &s.port, &s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// suffix makes object names unique, so a shared external server is safe.
func suffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
