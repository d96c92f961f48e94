package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
)

// stepClock advances by one second each time it is read, so each request
// observed takes exactly one second.
type stepClock struct{ t time.Time }

func (c *stepClock) now() time.Time { c.t = c.t.Add(time.Second); return c.t }

// The middleware labels by route template, never by URL, and by status
// class, including errors, refusals, unmatched paths and panics.
func TestMiddleware(t *testing.T) {
	m := New(Options{Logger: quiet, Now: (&stepClock{}).now})
	e := echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc { // as web.New's recovery does
		return func(c echo.Context) (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = c.String(http.StatusInternalServerError, "panic")
				}
			}()
			return next(c)
		}
	})
	e.Use(m.Middleware(Console))
	e.GET("/t/:slug/alerts/:id", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/missing/:id", func(c echo.Context) error { return echo.NewHTTPError(http.StatusNotFound, "no") })
	e.POST("/api/v1/alerts", func(c echo.Context) error { return c.NoContent(http.StatusAccepted) })
	e.GET("/boom", func(c echo.Context) error { panic("boom") })
	e.GET("/fail", func(c echo.Context) error { return errors.New("internal") })

	for _, r := range []struct{ method, path string }{
		{"GET", "/t/acme/alerts/1"}, {"GET", "/t/beta/alerts/2"}, {"GET", "/missing/7"},
		{"POST", "/api/v1/alerts"}, {"GET", "/boom"}, {"GET", "/fail"}, {"BREW", "/t/acme/alerts/1"},
		{"GET", "/nowhere/at/all"},
	} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(r.method, r.path, nil))
	}
	f := gather(t, m)["switchboard_http_request_duration_seconds"]
	for _, tc := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"surface": Console, "route": "/t/:slug/alerts/:id", "method": "GET", "status": "2xx"}, 2},
		{map[string]string{"surface": Console, "route": "/missing/:id", "method": "GET", "status": "4xx"}, 1},
		{map[string]string{"surface": API, "route": "/api/v1/alerts", "method": "POST", "status": "2xx"}, 1},
		{map[string]string{"surface": Console, "route": "/boom", "method": "GET", "status": "5xx"}, 1},
		{map[string]string{"surface": Console, "route": "/fail", "method": "GET", "status": "5xx"}, 1},
		{map[string]string{"surface": Console, "route": "/t/:slug/alerts/:id", "method": "other", "status": "4xx"}, 1},
	} {
		if got, ok := value(f, tc.labels); !ok || got != tc.want {
			t.Errorf("%v: %v requests (present %v), want %v", tc.labels, got, ok, tc.want)
		}
	}
	var total uint64
	for _, s := range f.GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "route" && strings.Contains(l.GetValue(), "acme") {
				t.Errorf("a URL became a label: %v", s)
			}
		}
		total += s.GetHistogram().GetSampleCount()
		if s.GetHistogram().GetSampleSum() != float64(s.GetHistogram().GetSampleCount()) {
			t.Errorf("duration sum %v for %d requests of one (clock) second each", s.GetHistogram().GetSampleSum(), s.GetHistogram().GetSampleCount())
		}
	}
	if total != 8 {
		t.Errorf("%d requests observed, want 8", total)
	}
}

// On the main listener /metrics answers 404 without a token configured,
// 401 without the right one, and the exposition with it.
func TestMainListenerToken(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	for _, tc := range []struct {
		name, configured, header string
		want                     int
	}{
		{"no token configured", "", "Bearer " + token, http.StatusNotFound},
		{"no header", token, "", http.StatusUnauthorized},
		{"wrong token", token, "Bearer 0123456789abcdef-metricz", http.StatusUnauthorized},
		{"a prefix of the token", token, "Bearer 0123456789abcdef", http.StatusUnauthorized},
		{"basic scheme", token, "Basic " + token, http.StatusUnauthorized},
		{"token", token, "Bearer " + token, http.StatusOK},
		{"scheme in lower case", token, "bearer " + token, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{Logger: quiet, Token: tc.configured})
			a, err := authz.New()
			if err != nil {
				t.Fatal(err)
			}
			e := echo.New()
			m.ConsoleRoutes(a, e)
			if u := a.Undeclared(e); len(u) > 0 {
				t.Fatalf("undeclared routes: %v", u)
			}
			req := httptest.NewRequest(http.MethodGet, Path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want == http.StatusUnauthorized && !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("401 without a Bearer challenge")
			}
			if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), "switchboard_alerts_ingested_total") {
				t.Errorf("no exposition: %s", rec.Body)
			}
		})
	}
}

// On an address of its own /metrics needs no token unless one is set, and
// nothing else is served there.
func TestListen(t *testing.T) {
	const token = "0123456789abcdef-metrics"
	for _, tc := range []struct {
		name, configured, header, path string
		want                           int
	}{
		{"open", "", "", Path, http.StatusOK},
		{"other paths", "", "", "/healthz", http.StatusNotFound},
		{"token set, none sent", token, "", Path, http.StatusUnauthorized},
		{"token set and sent", token, "Bearer " + token, Path, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			m := New(Options{Logger: quiet, Token: tc.configured})
			addr, err := m.Listen(ctx, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, "http://"+addr.String()+tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.want, body)
			}
			if tc.want == http.StatusOK && !strings.Contains(string(body), "switchboard_agent_checkins_total") {
				t.Errorf("no exposition: %s", body)
			}
		})
	}
	t.Run("a taken address fails at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		m := New(Options{Logger: quiet})
		addr, err := m.Listen(ctx, "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Listen(ctx, addr.String()); err == nil {
			t.Fatal("a second listener on the same address started")
		}
	})
}
