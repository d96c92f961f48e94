package metrics

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"switchboard/platform/authz"
)

// Middleware times every request of one surface (Console or Portal; paths
// under /api/ count as API) by route template, method and status class.
// The template is Echo's c.Path(), never the URL, so the label set is the
// route table's; a request that matched no route is "unmatched". Put it
// first after web.New's own middleware, so that refusals by the
// middleware behind it (sign-in, tenant resolution, authorization) count.
func (m *Metrics) Middleware(surface string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := m.opts.Now()
			observe := func(status int) {
				req := c.Request()
				s := surface
				if strings.HasPrefix(req.URL.Path, "/api/") {
					s = API
				}
				route := c.Path()
				if route == "" {
					route = "unmatched"
				}
				m.requests.WithLabelValues(s, route, methodLabel(req.Method), statusClass(status)).
					Observe(m.opts.Now().Sub(start).Seconds())
			}
			defer func() {
				if p := recover(); p != nil {
					observe(http.StatusInternalServerError) // web.New's recovery answers it so
					panic(p)
				}
			}()
			// Answer the error here (as web's access log does) so that the
			// status observed is the one sent.
			if err := next(c); err != nil {
				c.Error(err)
			}
			observe(c.Response().Status)
			return nil
		}
	}
}

// methodLabel keeps the method label to the methods routes use: any other
// string a client sends would be a new series.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// statusClass is "2xx" for 200-299 and so on.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "other"
	}
	return strconv.Itoa(code/100) + "xx"
}

// ConsoleRoutes serves /metrics on the main listener: public as far as
// sessions go, guarded by the metrics token instead. Without a token it is
// 404, as if it did not exist (use a separate address, Listen).
func (m *Metrics) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, Path, authz.Public, func(c echo.Context) error {
		if m.opts.Token == "" {
			return echo.NewHTTPError(http.StatusNotFound, "not found")
		}
		if !m.authorized(c.Request()) {
			challenge(c.Response())
			return echo.NewHTTPError(http.StatusUnauthorized, tokenRequired)
		}
		m.exposition.ServeHTTP(c.Response(), c.Request())
		return nil
	})
}

// tokenRequired is the answer to a scrape without the right token.
const tokenRequired = "a metrics token is required (Authorization: Bearer <metrics.token>)"

// challenge names the scheme the scraper must use, with a 401.
func challenge(w http.ResponseWriter) { w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`) }

// authorized reports whether r carries the token. Both sides are hashed
// first, so the comparison takes the same time whatever the length sent.
func (m *Metrics) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if len(h) < len("Bearer ") || !strings.EqualFold(h[:len("Bearer ")], "Bearer ") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(h[len("Bearer "):])))
	want := sha256.Sum256([]byte(m.opts.Token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// newExposition writes the exposition. A collector that fails leaves its
// families out and the rest is still served.
func (m *Metrics) newExposition() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(m.opts.Logger.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// Listen serves /metrics on addr of its own (metrics.addr), for a scraper
// on a private network: the token is required there too when one is set.
// It returns once addr is bound, so a taken port fails serve at start, and
// serves until ctx ends.
func (m *Metrics) Listen(ctx context.Context, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path, func(w http.ResponseWriter, r *http.Request) {
		if m.opts.Token != "" && !m.authorized(r) {
			challenge(w)
			http.Error(w, tokenRequired, http.StatusUnauthorized)
			return
		}
		m.exposition.ServeHTTP(w, r)
	})
	log := m.opts.Logger
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "addr", addr, "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(stop)
	}()
	log.Info("serving metrics", "url", "http://"+ln.Addr().String()+Path)
	return ln.Addr(), nil
}
