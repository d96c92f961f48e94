package tenancy

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// ErrUnknownTenant is what a Directory returns when nothing matches.
var ErrUnknownTenant = errors.New("unknown tenant")

// Directory looks tenants up in the control plane. The tenants module implements it.
type Directory interface {
	BySlug(ctx context.Context, slug string) (Tenant, error)
	ByHost(ctx context.Context, host string) (Tenant, error)
	ByAPIKey(ctx context.Context, key string) (Tenant, error)
}

// Resolver caches Directory answers; Invalidate empties the cache and is
// called when the control plane announces a change (see Listen).
type Resolver struct {
	dir           Directory
	schemaVersion int
	consoleHosts  map[string]bool

	// OnUnknownPath answers a console /t/<slug>/ request whose slug matches
	// no tenant. The default is 404; the console sets it so that anonymous
	// visitors get the same login redirect for known and unknown slugs and
	// cannot probe which clients exist.
	OnUnknownPath func(c echo.Context) error

	mu     sync.RWMutex
	gen    uint64 // bumped by Invalidate so a load that raced it is not stored
	bySlug map[string]entry
	byHost map[string]entry
	byKey  map[string]entry
}

// entry is a cached answer. Entries also expire after cacheTTL, which bounds
// staleness if a notification is ever lost and makes the directory see (and
// record) each API key's use at least once a minute per replica.
type entry struct {
	t       Tenant
	at      time.Time
	unknown bool // a remembered "no such tenant" (hostnames only)
}

const cacheTTL = time.Minute

// Hostnames that match no verified domain are remembered too, because every
// scanner's TLS handshake and request asks for one; a domain change empties
// the cache through Invalidate, so a newly verified domain is not hidden.
// The cap keeps a flood of random names from growing the map without end.
const (
	unknownHostTTL = 10 * time.Second
	maxUnknownHost = 10000
)

// NewResolver resolves against dir. schemaVersion is the tenant schema
// version this binary serves; consoleHosts are the staff console's hostnames.
func NewResolver(dir Directory, schemaVersion int, consoleHosts []string) *Resolver {
	r := &Resolver{dir: dir, schemaVersion: schemaVersion, consoleHosts: map[string]bool{}}
	for _, h := range consoleHosts {
		r.consoleHosts[strings.ToLower(h)] = true
	}
	r.Invalidate()
	return r
}

// Invalidate drops every cached answer.
func (r *Resolver) Invalidate() {
	r.mu.Lock()
	r.gen++
	r.bySlug, r.byHost, r.byKey = map[string]entry{}, map[string]entry{}, map[string]entry{}
	r.mu.Unlock()
}

// cached answers key from the map m picks, loading it on a miss or after
// cacheTTL. With missTTL > 0, "unknown tenant" answers are remembered too,
// for missTTL and only while the map is below maxUnknownHost entries.
func (r *Resolver) cached(m func(*Resolver) map[string]entry, key string, missTTL time.Duration, load func() (Tenant, error)) (Tenant, error) {
	r.mu.RLock()
	e, ok := m(r)[key]
	gen := r.gen
	r.mu.RUnlock()
	switch {
	case ok && e.unknown && time.Since(e.at) < missTTL:
		return Tenant{}, ErrUnknownTenant
	case ok && !e.unknown && time.Since(e.at) < cacheTTL:
		return e.t, nil
	}
	t, err := load()
	unknown := errors.Is(err, ErrUnknownTenant)
	if err != nil && !(unknown && missTTL > 0) {
		return Tenant{}, err
	}
	r.mu.Lock()
	if r.gen == gen && (!unknown || len(m(r)) < maxUnknownHost) {
		m(r)[key] = entry{t: t, at: time.Now(), unknown: unknown}
	}
	r.mu.Unlock()
	return t, err
}

// BySlug resolves a console path's slug.
func (r *Resolver) BySlug(ctx context.Context, slug string) (Tenant, error) {
	return r.cached(func(r *Resolver) map[string]entry { return r.bySlug }, slug, 0,
		func() (Tenant, error) { return r.dir.BySlug(ctx, slug) })
}

// ByHost resolves a portal hostname (verified domains only). Unknown
// hostnames are remembered for a while: every scanner's handshake and
// request asks for one.
func (r *Resolver) ByHost(ctx context.Context, host string) (Tenant, error) {
	return r.cached(func(r *Resolver) map[string]entry { return r.byHost }, host, unknownHostTTL,
		func() (Tenant, error) { return r.dir.ByHost(ctx, host) })
}

// ByAPIKey resolves an API key. The cache is keyed by the key itself and lives
// only in this process's memory; the database stores only hashes. Unknown
// keys are not remembered: random keys would only fill memory.
func (r *Resolver) ByAPIKey(ctx context.Context, key string) (Tenant, error) {
	return r.cached(func(r *Resolver) map[string]entry { return r.byKey }, key, 0,
		func() (Tenant, error) { return r.dir.ByAPIKey(ctx, key) })
}

// IsConsoleHost reports whether host (with or without port) is the staff console.
func (r *Resolver) IsConsoleHost(host string) bool { return r.consoleHosts[hostOnly(host)] }

// Kinds of request, by how the tenant was found.
const (
	ViaNone   = ""       // console pages that are not about one client
	ViaPath   = "path"   // /t/<slug>/… on the console host
	ViaHost   = "host"   // a client's portal domain
	ViaAPIKey = "apikey" // /api/… with a tenant API key
)

type ctxKey struct{}

type resolved struct {
	tenant Tenant
	via    string
}

// FromContext returns the tenant the request was resolved to.
func FromContext(ctx context.Context) (Tenant, bool) {
	r, ok := ctx.Value(ctxKey{}).(resolved)
	return r.tenant, ok && r.via != ViaNone
}

// Via tells how the request's tenant was resolved (ViaNone for none).
func Via(ctx context.Context) string {
	r, _ := ctx.Value(ctxKey{}).(resolved)
	return r.via
}

// WithTenant returns ctx carrying t, for jobs and tests that act for a tenant.
func WithTenant(ctx context.Context, t Tenant, via string) context.Context {
	return context.WithValue(ctx, ctxKey{}, resolved{tenant: t, via: via})
}

// Middleware resolves the tenant of every request once, before any handler:
// API key for /api/…, the /t/<slug>/ prefix on console hosts, the Host header
// elsewhere. Unknown tenants get 404, suspended ones 403, and tenants whose
// schema is not at this binary's version 503. Paths in skip are not resolved.
func (r *Resolver) Middleware(skip ...string) echo.MiddlewareFunc {
	skipped := map[string]bool{}
	for _, p := range skip {
		skipped[p] = true
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			path := req.URL.Path
			if skipped[path] {
				return next(c)
			}
			ctx := req.Context()
			var (
				t   Tenant
				err error
				via string
			)
			switch {
			case strings.HasPrefix(path, "/api/"):
				key := apiKeyOf(req)
				if key == "" {
					return echo.NewHTTPError(http.StatusUnauthorized, "an API key is required (Authorization: Bearer <key>)")
				}
				via = ViaAPIKey
				t, err = r.ByAPIKey(ctx, key)
				if errors.Is(err, ErrUnknownTenant) {
					return echo.NewHTTPError(http.StatusUnauthorized, "invalid or revoked API key")
				}
			case r.IsConsoleHost(req.Host):
				slug, ok := slugOf(path)
				if !ok {
					c.SetRequest(req.WithContext(WithTenant(ctx, Tenant{}, ViaNone)))
					return next(c)
				}
				via = ViaPath
				t, err = r.BySlug(ctx, slug)
			default:
				via = ViaHost
				t, err = r.ByHost(ctx, hostOnly(req.Host))
			}
			if errors.Is(err, ErrUnknownTenant) {
				if via == ViaPath && r.OnUnknownPath != nil {
					return r.OnUnknownPath(c)
				}
				return echo.NewHTTPError(http.StatusNotFound, "not found")
			}
			if err != nil {
				return err
			}
			if herr := r.admit(t, via, req.Method); herr != nil {
				return herr
			}
			c.SetRequest(req.WithContext(WithTenant(ctx, t, via)))
			return next(c)
		}
	}
}

// admit refuses tenants (or, for a tenant being moved, changes) that must
// not be served right now. Staff in the
// console still reach a suspended client (to see it and resume it); its
// portal and API do not.
func (r *Resolver) admit(t Tenant, via, method string) error {
	switch t.Status {
	case StatusActive:
	case StatusSuspended:
		if via == ViaPath {
			break
		}
		return echo.NewHTTPError(http.StatusForbidden, "This account is suspended. Please contact your service provider.")
	default:
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	if t.Moving && method != http.MethodGet && method != http.MethodHead {
		// The write fence of a move between servers: what is read is served
		// from where the tenant is; a change would be lost in the copy.
		return echo.NewHTTPError(http.StatusServiceUnavailable,
			"This account is being moved to another server; changes are paused for a moment. Try again shortly.")
	}
	if t.SchemaVersion != r.schemaVersion {
		return echo.NewHTTPError(http.StatusServiceUnavailable,
			"This account's data is being upgraded and cannot be served by this version right now; try again shortly.")
	}
	return nil
}

func apiKeyOf(req *http.Request) string {
	if k := req.Header.Get("X-API-Key"); k != "" {
		return k
	}
	auth := req.Header.Get("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// slugOf extracts <slug> from /t/<slug> or /t/<slug>/….
func slugOf(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/t/")
	if !ok {
		return "", false
	}
	slug, _, _ := strings.Cut(rest, "/")
	return slug, slug != ""
}

func hostOnly(hostport string) string {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}
