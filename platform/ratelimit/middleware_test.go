package ratelimit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/web"
)

// TestMiddleware drives a route limited per credential (one token a
// request) and per credential in units (Spend), through the web layer's
// real error handler.
func TestMiddleware(t *testing.T) {
	clk := newClock()
	perRequest := New(Spec{What: "alert requests", Per: "API key", Setting: "limits.ingest_per_key"}, Limit{Rate: 1, Burst: 2}, Options{Now: clk.now})
	perUnit := New(Spec{What: "alerts", Per: "API key", Setting: "limits.ingest_alerts_per_client"}, Limit{Rate: 1, Burst: 20}, Options{Now: clk.now})
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	handled := 0
	e.POST("/ingest", func(c echo.Context) error {
		var body struct{ Units int }
		if err := json.NewDecoder(c.Request().Body).Decode(&body); err != nil {
			return err
		}
		if err := Spend(c, body.Units); err != nil {
			return err
		}
		handled++
		return c.NoContent(http.StatusAccepted)
	}, Middleware(Rule{Buckets: perRequest, Key: ByCredential}, Rule{Buckets: perUnit, Key: ByCredential, PerUnit: true}))

	steps := []struct {
		name       string
		key        string
		units      int
		advance    time.Duration
		status     int
		retryAfter string
		fragment   string
		handled    bool
	}{
		{"first request", "alpha", 5, 0, 202, "", "", true},
		{"second request uses the burst", "alpha", 5, 0, 202, "", "", true},
		{"third request is refused before the handler", "alpha", 1, 0, 429, "1", "1 alert requests per second per API key (burst 2; limits.ingest_per_key)", false},
		{"another key is unaffected", "beta", 1, 0, 202, "", "", true},
		{"no key: no rule applies", "", 1, 0, 202, "", "", true},
		{"a second later one request is back, but the batch is over the 11 units left", "alpha", 15, time.Second, 429, "4", "1 alerts per second per API key (burst 20", false},
		{"the refused batch took no units: an empty one passes", "alpha", 0, time.Second, 202, "", "", true},
		{"units refill with time too", "alpha", 20, 8 * time.Second, 202, "", "", true},
		{"a long wait says so", "alpha", 20, time.Second, 429, "19", "alerts per second", false},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		before := handled
		req := httptest.NewRequest(http.MethodPost, "/ingest", strings.NewReader(`{"units":`+itoa(s.units)+`}`))
		req.Header.Set("Content-Type", "application/json")
		if s.key != "" {
			req.Header.Set("Authorization", "Bearer "+s.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, rec.Code, s.status, rec.Body)
		}
		if got := rec.Header().Get("Retry-After"); got != s.retryAfter {
			t.Errorf("%s: Retry-After %q, want %q", s.name, got, s.retryAfter)
		}
		if !strings.Contains(rec.Body.String(), s.fragment) {
			t.Errorf("%s: body %s, want %q", s.name, rec.Body, s.fragment)
		}
		if (handled > before) != s.handled {
			t.Errorf("%s: handled = %v, want %v", s.name, handled > before, s.handled)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestByCredential: the X-API-Key header wins, bearer tokens are read case-
// insensitively, and no secret appears in the key.
func TestByCredential(t *testing.T) {
	cases := []struct {
		name    string
		headers map[string]string
		same    string // the secret whose key this must equal; "" = no key
	}{
		{"bearer", map[string]string{"Authorization": "Bearer sb_secret"}, "sb_secret"},
		{"bearer, any case", map[string]string{"Authorization": "bEaReR  sb_secret "}, "sb_secret"},
		{"X-API-Key wins", map[string]string{"X-API-Key": "sb_other", "Authorization": "Bearer sb_secret"}, "sb_other"},
		{"basic is not a credential here", map[string]string{"Authorization": "Basic abc"}, ""},
		{"none", nil, ""},
	}
	e := echo.New()
	key := func(h map[string]string) string {
		req := httptest.NewRequest(http.MethodPost, "/", nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		return ByCredential(e.NewContext(req, httptest.NewRecorder()))
	}
	for _, c := range cases {
		got := key(c.headers)
		want := ""
		if c.same != "" {
			want = key(map[string]string{"X-API-Key": c.same})
		}
		if got != want {
			t.Errorf("%s: key %x, want %x", c.name, got, want)
		}
		if c.same != "" && strings.Contains(got, c.same) {
			t.Errorf("%s: the key holds the secret", c.name)
		}
	}
}

// TestEarly: a gated route's request is refused ahead of the chain once its
// credential's bucket is empty, without reaching the middleware that comes
// after (authentication, in the server); a credential never charged, other
// routes and other methods pass through; Early itself takes nothing.
func TestEarly(t *testing.T) {
	clk := newClock()
	perKey := New(Spec{What: "alert requests", Per: "API key", Setting: "limits.ingest_per_key"}, Limit{Rate: 1, Burst: 2}, Options{Now: clk.now})
	rule := Rule{Buckets: perKey, Key: ByCredential}
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	authenticated := 0 // what the server's later middleware would have done
	e.Use(Early(Gate{Method: http.MethodPost, Path: "/ingest/:source", Rule: rule}), func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { authenticated++; return next(c) }
	})
	accept := func(c echo.Context) error { return c.NoContent(http.StatusAccepted) }
	e.POST("/ingest/:source", accept, Middleware(rule))
	e.GET("/ingest/:source", accept)
	e.POST("/other", accept)

	steps := []struct {
		name          string
		method, path  string
		key           string
		advance       time.Duration
		status        int
		authenticated bool
	}{
		{"a new key passes to authentication", "POST", "/ingest/a", "alpha", 0, 202, true},
		{"the burst's second request", "POST", "/ingest/b", "alpha", 0, 202, true},
		{"the empty bucket is refused before authentication", "POST", "/ingest/a", "alpha", 0, 429, false},
		{"and again: Early took nothing, nothing refilled", "POST", "/ingest/a", "alpha", 0, 429, false},
		{"another key is not refused early", "POST", "/ingest/a", "beta", 0, 202, true},
		{"another method of the path is not gated", "GET", "/ingest/a", "alpha", 0, 202, true},
		{"another route is not gated", "POST", "/other", "alpha", 0, 202, true},
		{"a refilled token passes to authentication", "POST", "/ingest/a", "alpha", time.Second, 202, true},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		before := authenticated
		req := httptest.NewRequest(s.method, s.path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+s.key)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != s.status {
			t.Fatalf("%s: status %d, want %d: %s", s.name, rec.Code, s.status, rec.Body)
		}
		if (authenticated > before) != s.authenticated {
			t.Errorf("%s: reached the later middleware = %v, want %v", s.name, authenticated > before, s.authenticated)
		}
		if s.status == http.StatusTooManyRequests {
			if rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "limits.ingest_per_key") {
				t.Errorf("%s: Retry-After %q, body %s: want the route's own answer", s.name, rec.Header().Get("Retry-After"), rec.Body)
			}
		}
	}
}
