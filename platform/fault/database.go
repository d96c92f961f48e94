package fault

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// ErrDatabaseUnavailable is the sentinel of FromDatabase's errors: the
// database could not be reached or dropped the connection.
var ErrDatabaseUnavailable = Kind(Unavailable, "database unavailable")

// databaseUnavailableMessage is what people read: nothing about hosts,
// ports or users, and what to do.
const databaseUnavailableMessage = "The database cannot be reached at the moment. Please try again in a few seconds."

// FromDatabase classifies an error that came from PostgreSQL. When the
// database could not be reached or lost the connection, it returns an error
// of kind Unavailable (sentinel ErrDatabaseUnavailable) whose message asks
// people to try again and whose cause, kept for the logs, is err. Any other
// error, one that already has a kind and nil are returned unchanged.
//
// Counted as unavailable:
//   - a failed connection attempt (*pgconn.ConnectError: refused, DNS,
//     TLS, authentication while the server starts up);
//   - a network failure on an open connection (*net.OpError: reset,
//     broken pipe, timeout);
//   - SQLSTATE class 08 (connection exception), 57P01 admin_shutdown,
//     57P02 crash_shutdown, 57P03 cannot_connect_now and 53300
//     too_many_connections (the server is up but takes no more sessions);
//   - database/sql's driver.ErrBadConn ("driver: bad connection") and
//     sql.ErrConnDone, and pgconn.ErrConnClosed;
//   - io.ErrUnexpectedEOF: the server went away in the middle of an answer
//     (a killed server sends no goodbye; pgx reports the closed socket so).
//     Code that reads other streams answers their errors itself, as the web
//     layer does with request bodies before handlers run;
//   - context.DeadlineExceeded: a deadline that ran out while waiting for a
//     pooled connection or the server (request contexts carry no deadline
//     of their own, so one that expires is a database wait).
//
// Statement errors (constraint violations, syntax, permissions) stay
// internal errors: retrying would not help.
//
// The web error handler calls it for every error a handler returns, so
// handlers need not; code that reports errors elsewhere (the CLI, jobs)
// calls it where it wants the distinction.
func FromDatabase(err error) error {
	if err == nil || KindOf(err) != nil || !databaseDown(err) {
		return err
	}
	return &Error{kind: ErrDatabaseUnavailable, msg: databaseUnavailableMessage, cause: err}
}

// databaseDown reports whether err says the database is out of reach rather
// than that a statement failed.
func databaseDown(err error) bool {
	var connect *pgconn.ConnectError
	var netErr *net.OpError
	if errors.As(err, &connect) || errors.As(err, &netErr) {
		return true
	}
	// PostgreSQL's SQLSTATE, from pgconn.PgError or any driver that exposes it.
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		switch code := coded.SQLState(); {
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03", code == "53300":
			return true
		}
	}
	// A server killed mid-statement cuts the connection: the read ends early.
	for _, target := range []error{driver.ErrBadConn, sql.ErrConnDone, pgconn.ErrConnClosed, context.DeadlineExceeded, io.ErrUnexpectedEOF} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
