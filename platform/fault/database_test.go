package fault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", as GORM's postgres driver uses

	"switchboard/platform/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

// TestFromDatabaseClassifies: connection failures become Unavailable with a
// message for people that names no host; statement errors and errors that
// already have a kind are left alone.
func TestFromDatabaseClassifies(t *testing.T) {
	opErr := &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")}
	cases := []struct {
		name        string
		err         error
		unavailable bool
	}{
		{"nil", nil, false},
		{"network error on an open connection", fmt.Errorf("listing tenants: %w", opErr), true},
		{"SQLSTATE 08006 connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"SQLSTATE 57P01 admin shutdown", fmt.Errorf("reading: %w", &pgconn.PgError{Code: "57P01"}), true},
		{"SQLSTATE 57P02 crash shutdown", &pgconn.PgError{Code: "57P02"}, true},
		{"SQLSTATE 57P03 cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"SQLSTATE 53300 too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"driver: bad connection", fmt.Errorf("saving: %w", driver.ErrBadConn), true},
		{"sql.ErrConnDone", sql.ErrConnDone, true},
		{"connection cut mid-statement (server killed)", fmt.Errorf("recording alert: %w", io.ErrUnexpectedEOF), true},
		{"deadline while waiting", fmt.Errorf("reading: %w", context.DeadlineExceeded), true},
		{"unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"statement timeout is the statement's", &pgconn.PgError{Code: "57014"}, false},
		{"plain internal error", errors.New("boom"), false},
		{"already invalid input", New(Invalid, "bad"), false},
		{"canceled by the client", context.Canceled, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := FromDatabase(c.err)
			if isU := errors.Is(got, Unavailable); isU != c.unavailable {
				t.Fatalf("FromDatabase(%v) unavailable = %v, want %v", c.err, isU, c.unavailable)
			}
			if !c.unavailable {
				if got != c.err {
					t.Fatalf("FromDatabase changed an error it does not classify: %v → %v", c.err, got)
				}
				return
			}
			if !errors.Is(got, ErrDatabaseUnavailable) || !errors.Is(got, c.err) {
				t.Fatalf("%v does not wrap both ErrDatabaseUnavailable and its cause", got)
			}
			if Message(got) != databaseUnavailableMessage || !strings.Contains(got.Error(), c.err.Error()) {
				t.Fatalf("message %q, text %q: want the message for people and the cause in the text", Message(got), got.Error())
			}
		})
	}
}

// TestFromDatabaseRealFailures produces the failures with a real server and
// driver: a refused connection, a backend terminated under a session, and a
// pool with no free connection before the deadline.
func TestFromDatabaseRealFailures(t *testing.T) {
	ctx := context.Background()
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		db, err := sql.Open("pgx", "postgres://nobody@"+addr+"/none?sslmode=disable&connect_timeout=5")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		err = db.PingContext(ctx)
		if err == nil || !errors.Is(FromDatabase(err), Unavailable) {
			t.Fatalf("ping of a closed port: %v, classified %v; want Unavailable", err, FromDatabase(err))
		}
	})

	db, err := sql.Open("pgx", pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	admin, err := sql.Open("pgx", pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()

	t.Run("backend terminated", func(t *testing.T) {
		conn, err := db.Conn(ctx) // pinned, so database/sql cannot retry on a fresh one
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pid int
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.ExecContext(ctx, `SELECT pg_terminate_backend($1)`, pid); err != nil {
			t.Fatal(err)
		}
		_, err = conn.ExecContext(ctx, `SELECT 1`)
		if err == nil || !errors.Is(FromDatabase(err), Unavailable) {
			t.Fatalf("query on a terminated backend: %v; want it classified Unavailable", err)
		}
	})

	t.Run("no free connection before the deadline", func(t *testing.T) {
		db.SetMaxOpenConns(1)
		held, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		waitCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err = db.ExecContext(waitCtx, `SELECT 1`)
		if err == nil || !errors.Is(FromDatabase(err), Unavailable) {
			t.Fatalf("query with the pool exhausted: %v; want it classified Unavailable", err)
		}
	})

	t.Run("a statement error is not unavailability", func(t *testing.T) {
		_, err := db.ExecContext(ctx, `SELECT 1/0`)
		if err == nil || errors.Is(FromDatabase(err), Unavailable) {
			t.Fatalf("division by zero: %v; want an internal error", err)
		}
	})

	t.Run("backend killed in the middle of a statement", func(t *testing.T) {
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var pid int
		if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			// With an argument, as GORM sends statements (extended protocol):
			// the answer is cut off, not refused (io.ErrUnexpectedEOF).
			var x string
			done <- conn.QueryRowContext(ctx, `SELECT pg_sleep($1)::text`, 10).Scan(&x)
		}()
		time.Sleep(200 * time.Millisecond) // the statement is running
		// SIGKILL: no FATAL message, the socket just closes mid-answer (the
		// postmaster then restarts every backend, so this runs last).
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		select {
		case err = <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the statement on a killed backend did not fail")
		}
		if err == nil || !errors.Is(FromDatabase(err), Unavailable) {
			t.Fatalf("statement on a killed backend: %v; want it classified Unavailable", err)
		}
	})
}
