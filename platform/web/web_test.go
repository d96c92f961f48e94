package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/labstack/echo/v4"

	"switchboard/platform/fault"
)

var errBadNote = fault.Kind(fault.Invalid, "invalid note")

// TestErrorHandler: each kind answers its status with the message for
// people, on the console (a plain page) and the API (JSON); a database
// that is down answers 503 with Retry-After; internal errors say nothing.
func TestErrorHandler(t *testing.T) {
	cases := []struct {
		name       string
		err        error
		status     int
		message    string // shown
		notShown   string // must not leak
		retryAfter bool
	}{
		{"invalid", fmt.Errorf("adding a note: %w", fault.Newf(errBadNote, "a note is at most %d characters", 8000)), 400, "a note is at most 8000 characters", "invalid note", false},
		{"not found", fault.New(fault.NotFound, "No such alert."), 404, "No such alert.", "", false},
		{"conflict from a sentinel wrapped by fmt", fmt.Errorf("%w: tenant slug taken", fault.Kind(fault.Conflict, "already exists")), 409, "already exists: tenant slug taken", "", false},
		{"too large", fault.New(fault.TooLarge, "the logo is 600 KiB; the limit is 512 KiB"), 413, "the limit is 512 KiB", "", false},
		{"unauthorized", fault.New(fault.Unauthorized, "bad token"), 401, "bad token", "", false},
		{"forbidden", fault.New(fault.Forbidden, "account suspended"), 403, "account suspended", "", false},
		{"unsupported", fault.New(fault.Unsupported, "not a PNG"), 415, "not a PNG", "", false},
		{"unavailable", fault.New(fault.Unavailable, "being upgraded"), 503, "being upgraded", "", true},
		{"database down", fmt.Errorf("listing tenants: %w", &pgconn.PgError{Code: "57P01", Message: "terminating connection"}), 503, "try again in a few seconds", "terminating", true},
		{"database wait ran out", fmt.Errorf("reading: %w", context.DeadlineExceeded), 503, "try again", "deadline", true},
		{"HTTPError", echo.NewHTTPError(http.StatusForbidden, "This form has expired."), 403, "This form has expired.", "", false},
		{"internal", errors.New("pq: secret table exploded"), 500, "Something went wrong", "secret", false},
	}
	for _, c := range cases {
		for _, api := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s api=%v", c.name, api), func(t *testing.T) {
				var logs bytes.Buffer
				e := New(slog.New(slog.NewTextHandler(&logs, nil)))
				e.Any("/*", func(echo.Context) error { return c.err })
				path := "/t/acme/alerts"
				if api {
					path = "/api/v1/alerts"
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
				body := rec.Body.String()
				if rec.Code != c.status || !strings.Contains(body, htmlEscape(c.message)) && !strings.Contains(body, c.message) {
					t.Fatalf("status %d, body %.300s; want %d with %q", rec.Code, body, c.status, c.message)
				}
				if c.notShown != "" && strings.Contains(body, c.notShown) {
					t.Fatalf("the answer shows %q: %s", c.notShown, body)
				}
				if got := rec.Header().Get("Retry-After"); (got == RetryAfterSeconds) != c.retryAfter {
					t.Fatalf("Retry-After %q", got)
				}
				wantType := "text/html"
				if api {
					wantType = "application/json"
				}
				if !strings.HasPrefix(rec.Header().Get("Content-Type"), wantType) {
					t.Fatalf("Content-Type %q, want %s", rec.Header().Get("Content-Type"), wantType)
				}
				if logged := strings.Contains(logs.String(), "request failed"); logged != (c.status >= 500) {
					t.Fatalf("logged %v for status %d", logged, c.status)
				}
			})
		}
	}
}

func TestRefusal(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		msg    string
		ok     bool
	}{
		{"invalid", fault.Newf(errBadNote, "name must not be empty"), 400, "Name must not be empty", true},
		{"conflict", fmt.Errorf("%w: a channel named %q", fault.Kind(fault.Conflict, "notification channel already exists"), "ops"), 409, `Notification channel already exists: a channel named "ops"`, true},
		{"database down is not the form's", &pgconn.PgError{Code: "08006"}, 0, "", false},
		{"internal", errors.New("boom"), 0, "", false},
		{"nil", nil, 0, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, msg, ok := Refusal(c.err)
			if status != c.status || msg != c.msg || ok != c.ok {
				t.Fatalf("Refusal = %d %q %v; want %d %q %v", status, msg, ok, c.status, c.msg, c.ok)
			}
		})
	}
}

// TestServeError: outside Echo (a session store that cannot reach the
// database) the answer is the error handler's: 503, Retry-After, the plain
// page or JSON, nothing of the cause.
func TestServeError(t *testing.T) {
	down := fmt.Errorf("loading session: %w", &pgconn.PgError{Code: "57P03", Message: "the database system is starting up"})
	cases := []struct {
		name, path, accept string
		err                error
		status             int
		ctype, want        string
	}{
		{"console page, database down", "/t/acme/alerts", "text/html", down, 503, "text/html", "try again in a few seconds"},
		{"API, database down", "/api/v1/alerts", "", down, 503, "application/json", `"error":"The database cannot be reached`},
		{"internal", "/", "text/html", errors.New("store exploded"), 500, "text/html", "Something went wrong"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, c.path, nil)
			req.Header.Set("Accept", c.accept)
			rec := httptest.NewRecorder()
			ServeError(rec, req, c.err)
			body := rec.Body.String()
			if rec.Code != c.status || !strings.HasPrefix(rec.Header().Get("Content-Type"), c.ctype) || !strings.Contains(body, c.want) {
				t.Fatalf("%d %q %.300s; want %d %s with %q", rec.Code, rec.Header().Get("Content-Type"), body, c.status, c.ctype, c.want)
			}
			if (rec.Header().Get("Retry-After") == RetryAfterSeconds) != (c.status == 503) || strings.Contains(body, "starting up") || strings.Contains(body, "exploded") {
				t.Fatalf("Retry-After %q or the cause shown: %s", rec.Header().Get("Retry-After"), body)
			}
		})
	}
}
