package tenancy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
)

// fakeDirectory is an in-memory Directory. It counts calls per kind and can
// be made to block inside a lookup, to stage races with Invalidate.
type fakeDirectory struct {
	mu     sync.Mutex
	bySlug map[string]Tenant
	byHost map[string]Tenant
	byKey  map[string]Tenant
	calls  map[string]int // "slug", "host", "key"

	// When gate is not nil, a lookup announces itself on entered and then
	// waits for gate to be closed before reading its answer.
	gate    chan struct{}
	entered chan string
}

func newFakeDirectory(tenants ...fakeTenant) *fakeDirectory {
	d := &fakeDirectory{bySlug: map[string]Tenant{}, byHost: map[string]Tenant{}, byKey: map[string]Tenant{}, calls: map[string]int{}}
	for _, ft := range tenants {
		d.put(ft)
	}
	return d
}

// fakeTenant is a tenant with the host and key it is reachable by.
type fakeTenant struct {
	Tenant
	host, key string
}

func (d *fakeDirectory) put(ft fakeTenant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.bySlug[ft.Slug] = ft.Tenant
	if ft.host != "" {
		d.byHost[ft.host] = ft.Tenant
	}
	if ft.key != "" {
		d.byKey[ft.key] = ft.Tenant
	}
}

func (d *fakeDirectory) lookup(kind string, m func() map[string]Tenant, k string) (Tenant, error) {
	d.mu.Lock()
	d.calls[kind]++
	gate, entered := d.gate, d.entered
	d.mu.Unlock()
	if gate != nil {
		entered <- k
		<-gate
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := m()[k]
	if !ok {
		return Tenant{}, ErrUnknownTenant
	}
	return t, nil
}

func (d *fakeDirectory) BySlug(_ context.Context, slug string) (Tenant, error) {
	return d.lookup("slug", func() map[string]Tenant { return d.bySlug }, slug)
}

func (d *fakeDirectory) ByHost(_ context.Context, host string) (Tenant, error) {
	return d.lookup("host", func() map[string]Tenant { return d.byHost }, host)
}

func (d *fakeDirectory) ByAPIKey(_ context.Context, key string) (Tenant, error) {
	return d.lookup("key", func() map[string]Tenant { return d.byKey }, key)
}

func (d *fakeDirectory) callCount(kind string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[kind]
}

func (d *fakeDirectory) totalCalls() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.calls {
		n += c
	}
	return n
}

const resolverVersion = 3

// The fixture tenants of the middleware tests: one in each state that matters.
var (
	acme   = fakeTenant{Tenant{ID: 11, Slug: "acme", Name: "Acme Health", Status: StatusActive, SchemaVersion: resolverVersion}, "portal.acme.example", "sbk_acme"}
	frozen = fakeTenant{Tenant{ID: 12, Slug: "frozen", Name: "Frozen Foods", Status: StatusSuspended, SchemaVersion: resolverVersion}, "portal.frozen.example", "sbk_frozen"}
	behind = fakeTenant{Tenant{ID: 13, Slug: "behind", Name: "Behind Bakery", Status: StatusActive, SchemaVersion: resolverVersion - 1}, "portal.behind.example", "sbk_behind"}
	ahead  = fakeTenant{Tenant{ID: 14, Slug: "ahead", Name: "Ahead Analytics", Status: StatusActive, SchemaVersion: resolverVersion + 1}, "portal.ahead.example", "sbk_ahead"}
	gone   = fakeTenant{Tenant{ID: 15, Slug: "gone", Name: "Gone Gardening", Status: StatusDeleting, SchemaVersion: resolverVersion}, "portal.gone.example", "sbk_gone"}
)

var fixtureTenants = []fakeTenant{acme, frozen, behind, ahead, gone}

// seen is what the handler observed about the request's tenant.
type seen struct {
	called bool
	tenant Tenant
	ok     bool
	via    string
}

// newResolverServer returns an Echo instance whose every route is answered by
// a handler that records what tenancy.FromContext returned.
func newResolverServer(t *testing.T, r *Resolver, skip ...string) (*echo.Echo, *seen) {
	t.Helper()
	e := echo.New()
	e.Use(r.Middleware(skip...))
	got := &seen{}
	e.Any("/*", func(c echo.Context) error {
		ctx := c.Request().Context()
		got.called = true
		got.tenant, got.ok = FromContext(ctx)
		got.via = Via(ctx)
		if got.ok {
			return c.String(http.StatusOK, "tenant="+got.tenant.Slug+" via="+got.via)
		}
		return c.String(http.StatusOK, "no tenant")
	})
	return e, got
}

func TestMiddlewareResolves(t *testing.T) {
	// The console host is configured with upper case and a port-free name;
	// requests may carry a port and any case.
	consoleHosts := []string{"Console.Example", "localhost"}
	allNames := func() []string {
		var s []string
		for _, ft := range fixtureTenants {
			s = append(s, ft.Name, ft.Slug)
		}
		return s
	}()

	cases := []struct {
		name       string
		host, path string
		headers    map[string]string
		wantStatus int
		wantBody   string   // fragment of the response body
		notInBody  []string // must not appear in the response body
		wantTenant string   // slug the handler saw; "" means FromContext ok=false (or handler not called)
		wantVia    string
	}{
		// Console host: /t/<slug>/… picks the tenant by slug.
		{"console slug", "console.example", "/t/acme/", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"console slug without trailing slash", "console.example", "/t/acme", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"console slug deep path", "console.example", "/t/acme/alerts/42", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"console host port ignored", "console.example:8443", "/t/acme/", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"console host case-insensitive", "CONSOLE.Example:80", "/t/acme/", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"console host trailing dot", "console.example.", "/t/acme/", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		{"second console host", "localhost:8080", "/t/acme/", nil, 200, "tenant=acme via=path", nil, "acme", ViaPath},
		// Console host without /t/<slug>: staff pages about no single client.
		{"console root", "console.example", "/", nil, 200, "no tenant", nil, "", ViaNone},
		{"console other page", "console.example", "/clients", nil, 200, "no tenant", nil, "", ViaNone},
		{"console /t/ with empty slug", "console.example", "/t/", nil, 200, "no tenant", nil, "", ViaNone},
		{"console /tx/ is not /t/", "console.example", "/tx/acme/", nil, 200, "no tenant", nil, "", ViaNone},
		// Unknown or unservable tenants on the console.
		{"console unknown slug", "console.example", "/t/nope/", nil, 404, "not found", allNames, "", ""},
		// Staff still reach a suspended client in the console, to see and resume it.
		{"console suspended slug", "console.example", "/t/frozen/", nil, 200, "tenant=frozen via=path", nil, "frozen", ViaPath},
		{"console schema behind", "console.example", "/t/behind/", nil, 503, "being upgraded", nil, "", ""},
		{"console schema ahead", "console.example", "/t/ahead/", nil, 503, "being upgraded", nil, "", ""},
		{"console deleting slug", "console.example", "/t/gone/", nil, 404, "not found", allNames, "", ""},
		// Portal: the Host header picks the tenant.
		{"portal host", "portal.acme.example", "/", nil, 200, "tenant=acme via=host", nil, "acme", ViaHost},
		{"portal host with port", "portal.acme.example:8080", "/settings", nil, 200, "tenant=acme via=host", nil, "acme", ViaHost},
		{"portal host upper case", "PORTAL.ACME.EXAMPLE", "/", nil, 200, "tenant=acme via=host", nil, "acme", ViaHost},
		{"portal ignores /t/ prefix", "portal.acme.example", "/t/frozen/", nil, 200, "tenant=acme via=host", nil, "acme", ViaHost},
		{"unknown host", "evil.example", "/", nil, 404, "not found", allNames, "", ""},
		{"unknown host with /t/ path", "evil.example", "/t/acme/", nil, 404, "not found", allNames, "", ""},
		{"portal suspended", "portal.frozen.example", "/", nil, 403, "This account is suspended. Please contact your service provider.", []string{frozen.Name}, "", ""},
		{"portal schema behind", "portal.behind.example", "/", nil, 503, "being upgraded", nil, "", ""},
		{"portal deleting", "portal.gone.example", "/", nil, 404, "not found", allNames, "", ""},
		// API: a key picks the tenant, whatever the host.
		{"api without key", "console.example", "/api/v1/tenant", nil, 401, "API key is required", nil, "", ""},
		{"api without key on portal host", "portal.acme.example", "/api/v1/tenant", nil, 401, "API key is required", nil, "", ""},
		{"api bearer key", "console.example", "/api/v1/tenant", map[string]string{"Authorization": "Bearer sbk_acme"}, 200, "tenant=acme via=apikey", nil, "acme", ViaAPIKey},
		{"api bearer lower case", "console.example", "/api/v1/tenant", map[string]string{"Authorization": "bearer sbk_acme"}, 200, "tenant=acme via=apikey", nil, "acme", ViaAPIKey},
		{"api x-api-key", "api.example", "/api/v1/tenant", map[string]string{"X-API-Key": "sbk_acme"}, 200, "tenant=acme via=apikey", nil, "acme", ViaAPIKey},
		{"api bad key", "console.example", "/api/v1/tenant", map[string]string{"Authorization": "Bearer sbk_wrong"}, 401, "invalid or revoked API key", allNames, "", ""},
		{"api bad x-api-key", "console.example", "/api/v1/tenant", map[string]string{"X-API-Key": "sbk_wrong"}, 401, "invalid or revoked API key", allNames, "", ""},
		{"api basic auth is not a key", "console.example", "/api/v1/tenant", map[string]string{"Authorization": "Basic c2JrX2FjbWU="}, 401, "API key is required", nil, "", ""},
		{"api empty bearer", "console.example", "/api/v1/tenant", map[string]string{"Authorization": "Bearer "}, 401, "API key", nil, "", ""},
		{"api key of suspended tenant", "console.example", "/api/v1/tenant", map[string]string{"X-API-Key": "sbk_frozen"}, 403, "suspended", nil, "", ""},
		{"api key of tenant behind", "console.example", "/api/v1/tenant", map[string]string{"X-API-Key": "sbk_behind"}, 503, "being upgraded", nil, "", ""},
		{"api key of deleting tenant", "console.example", "/api/v1/tenant", map[string]string{"X-API-Key": "sbk_gone"}, 404, "not found", nil, "", ""},
		// Skip paths are served without resolution, on any host.
		{"skip path on unknown host", "evil.example", "/healthz", nil, 200, "no tenant", nil, "", ViaNone},
		{"skip path on portal host", "portal.acme.example", "/readyz", nil, 200, "no tenant", nil, "", ViaNone},
		{"skip path is exact", "evil.example", "/healthz/x", nil, 404, "not found", nil, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := newFakeDirectory(fixtureTenants...)
			r := NewResolver(dir, resolverVersion, consoleHosts)
			e, got := newResolverServer(t, r, "/healthz", "/readyz")
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.Host = tc.host
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			body := rec.Body.String()

			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %q)", rec.Code, tc.wantStatus, body)
			}
			if !strings.Contains(body, tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
			for _, s := range tc.notInBody {
				if strings.Contains(body, s) {
					t.Errorf("body %q leaks %q", body, s)
				}
			}
			if tc.wantStatus != http.StatusOK {
				if got.called {
					t.Errorf("handler ran for a refused request (saw tenant %q)", got.tenant.Slug)
				}
				return
			}
			if !got.called {
				t.Fatal("handler did not run")
			}
			if gotSlug := map[bool]string{true: got.tenant.Slug}[got.ok]; gotSlug != tc.wantTenant {
				t.Errorf("handler saw tenant %q (ok=%v), want %q", got.tenant.Slug, got.ok, tc.wantTenant)
			}
			if got.via != tc.wantVia {
				t.Errorf("Via = %q, want %q", got.via, tc.wantVia)
			}
			if tc.wantTenant == "" && got.tenant != (Tenant{}) {
				t.Errorf("handler without a tenant still got tenant data: %+v", got.tenant)
			}
			if strings.HasPrefix(tc.path, "/healthz") || strings.HasPrefix(tc.path, "/readyz") {
				if n := dir.totalCalls(); n != 0 {
					t.Errorf("skip path made %d directory lookups, want 0", n)
				}
			}
		})
	}
}

// A tenant being moved between servers is admitted as what it was before
// the move, and only for reading: changes answer 503 until the move ends.
func TestMiddlewareFencesMovingTenants(t *testing.T) {
	moving := fakeTenant{Tenant{ID: 16, Slug: "moving", Name: "Moving Media", Status: StatusActive, SchemaVersion: resolverVersion, Moving: true}, "portal.moving.example", "sbk_moving"}
	movingFrozen := fakeTenant{Tenant{ID: 17, Slug: "moving-frozen", Name: "Moving Frozen", Status: StatusSuspended, SchemaVersion: resolverVersion, Moving: true}, "portal.moving-frozen.example", "sbk_moving_frozen"}
	cases := []struct {
		name, method, host, path, key string
		wantStatus                    int
		wantBody                      string
	}{
		{"portal read", http.MethodGet, "portal.moving.example", "/", "", 200, "tenant=moving"},
		{"portal head", http.MethodHead, "portal.moving.example", "/", "", 200, ""},
		{"portal change", http.MethodPost, "portal.moving.example", "/alerts/1/ack", "", 503, "being moved"},
		{"console read", http.MethodGet, "console.example", "/t/moving/", "", 200, "tenant=moving"},
		{"console change", http.MethodDelete, "console.example", "/t/moving/channels/x", "", 503, "being moved"},
		{"api change", http.MethodPost, "console.example", "/api/v1/alerts", "sbk_moving", 503, "being moved"},
		{"suspended stays refused on its portal", http.MethodGet, "portal.moving-frozen.example", "/", "", 403, "suspended"},
		{"suspended: staff read", http.MethodGet, "console.example", "/t/moving-frozen/", "", 200, "tenant=moving-frozen"},
		{"suspended: staff change waits", http.MethodPost, "console.example", "/t/moving-frozen/resume", "", 503, "being moved"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResolver(newFakeDirectory(moving, movingFrozen), resolverVersion, []string{"console.example"})
			e, got := newResolverServer(t, r)
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.Host = tc.host
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.wantStatus || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("%s %s%s: %d %q, want %d with %q", tc.method, tc.host, tc.path, rec.Code, rec.Body.String(), tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus != http.StatusOK && got.called {
				t.Fatal("the handler ran for a refused change")
			}
		})
	}
}

// The portal host is looked up without its port and in lower case, so one
// cache entry and one directory row serve every spelling.
func TestMiddlewareLooksUpNormalizedHost(t *testing.T) {
	dir := newFakeDirectory(acme)
	r := NewResolver(dir, resolverVersion, []string{"console.example"})
	e, _ := newResolverServer(t, r)
	for _, host := range []string{"portal.acme.example", "PORTAL.acme.example:8443", "portal.acme.example."} {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("host %q: status %d, body %q", host, rec.Code, rec.Body.String())
		}
	}
	if n := dir.callCount("host"); n != 1 {
		t.Errorf("three spellings of one host made %d directory lookups, want 1", n)
	}
}

// A directory failure other than "unknown" is an internal error, not a 404
// and never a tenant.
func TestMiddlewareDirectoryFailure(t *testing.T) {
	r := NewResolver(failingDirectory{}, resolverVersion, []string{"console.example"})
	e, got := newResolverServer(t, r)
	for _, tc := range []struct{ host, path, key string }{
		{"console.example", "/t/acme/", ""},
		{"portal.acme.example", "/", ""},
		{"console.example", "/api/v1/tenant", "sbk_acme"},
	} {
		req := httptest.NewRequest(http.MethodGet, tc.path, nil)
		req.Host = tc.host
		if tc.key != "" {
			req.Header.Set("X-API-Key", tc.key)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%s%s: status %d, want 500", tc.host, tc.path, rec.Code)
		}
		if got.called {
			t.Errorf("%s%s: handler ran although the directory failed", tc.host, tc.path)
		}
	}
}

type failingDirectory struct{}

var errDirectoryDown = errors.New("control plane unreachable")

func (failingDirectory) BySlug(context.Context, string) (Tenant, error) {
	return Tenant{}, errDirectoryDown
}

func (failingDirectory) ByHost(context.Context, string) (Tenant, error) {
	return Tenant{}, errDirectoryDown
}

func (failingDirectory) ByAPIKey(context.Context, string) (Tenant, error) {
	return Tenant{}, errDirectoryDown
}

// lookupKinds drives the resolver's three caches the same way.
var lookupKinds = []struct {
	kind   string
	key    string
	lookup func(r *Resolver, key string) (Tenant, error)
}{
	{"slug", "acme", func(r *Resolver, k string) (Tenant, error) { return r.BySlug(context.Background(), k) }},
	{"host", "portal.acme.example", func(r *Resolver, k string) (Tenant, error) { return r.ByHost(context.Background(), k) }},
	{"key", "sbk_acme", func(r *Resolver, k string) (Tenant, error) { return r.ByAPIKey(context.Background(), k) }},
}

func TestResolverCachesUntilInvalidate(t *testing.T) {
	for _, lk := range lookupKinds {
		t.Run(lk.kind, func(t *testing.T) {
			dir := newFakeDirectory(acme)
			r := NewResolver(dir, resolverVersion, nil)
			mustResolve := func(wantName string, wantCalls int) {
				t.Helper()
				got, err := lk.lookup(r, lk.key)
				if err != nil {
					t.Fatal(err)
				}
				if got.Slug != acme.Slug || got.Name != wantName {
					t.Fatalf("resolved %+v, want slug %q name %q", got, acme.Slug, wantName)
				}
				if n := dir.callCount(lk.kind); n != wantCalls {
					t.Fatalf("directory %s lookups = %d, want %d", lk.kind, n, wantCalls)
				}
			}
			mustResolve(acme.Name, 1)
			mustResolve(acme.Name, 1) // served from the cache

			renamed := acme
			renamed.Name = "Acme Health (renamed)"
			dir.put(renamed)
			mustResolve(acme.Name, 1) // still the cached answer until told otherwise

			r.Invalidate()
			mustResolve(renamed.Name, 2)
			mustResolve(renamed.Name, 2)
			if n := dir.totalCalls(); n != 2 {
				t.Errorf("other kinds of lookup were made: %d calls in total, want 2", n)
			}
		})
	}
}

// Through the middleware as well: the second request for the same tenant
// does not reach the directory.
func TestMiddlewareUsesCache(t *testing.T) {
	dir := newFakeDirectory(acme)
	r := NewResolver(dir, resolverVersion, []string{"console.example"})
	e, _ := newResolverServer(t, r)
	get := func() {
		t.Helper()
		req := httptest.NewRequest(http.MethodGet, "/t/acme/", nil)
		req.Host = "console.example"
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d, body %q", rec.Code, rec.Body.String())
		}
	}
	get()
	get()
	if n := dir.callCount("slug"); n != 1 {
		t.Fatalf("two requests made %d directory lookups, want 1", n)
	}
	r.Invalidate()
	get()
	if n := dir.callCount("slug"); n != 2 {
		t.Fatalf("after Invalidate: %d directory lookups, want 2", n)
	}
}

// A lookup that started before an Invalidate must not store its (possibly
// stale) answer afterwards: the change that caused the Invalidate would be
// forgotten until the next one.
func TestResolverInvalidateDuringLoadIsNotCached(t *testing.T) {
	for _, lk := range lookupKinds {
		t.Run(lk.kind, func(t *testing.T) {
			dir := newFakeDirectory(acme)
			gate := make(chan struct{})
			dir.gate, dir.entered = gate, make(chan string, 1)
			r := NewResolver(dir, resolverVersion, nil)

			type result struct {
				t   Tenant
				err error
			}
			done := make(chan result, 1)
			go func() {
				got, err := lk.lookup(r, lk.key)
				done <- result{got, err}
			}()
			select {
			case <-dir.entered:
			case <-time.After(5 * time.Second):
				t.Fatal("the lookup never reached the directory")
			}

			// While the load is in flight the tenant is suspended and the
			// control plane announces it; then the stale load completes.
			suspended := acme
			suspended.Status = StatusSuspended
			dir.put(suspended)
			r.Invalidate()
			dir.mu.Lock()
			dir.gate = nil // later lookups go straight through
			dir.mu.Unlock()
			close(gate) // releases the blocked, stale lookup

			var res result
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("the lookup did not return")
			}
			if res.err != nil {
				t.Fatal(res.err)
			}

			got, err := lk.lookup(r, lk.key)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != StatusSuspended {
				t.Errorf("after Invalidate the resolver answered status %q: a load that raced Invalidate was cached", got.Status)
			}
			if n := dir.callCount(lk.kind); n != 2 {
				t.Errorf("directory %s lookups = %d, want 2 (the raced load must not be cached)", lk.kind, n)
			}
		})
	}
}

func TestListenReceivesNotificationsAndReconnects(t *testing.T) {
	c := openCluster(t, 2)
	ch := fmt.Sprintf("sbtest_listen_%d", os.Getpid())

	changes := make(chan struct{}, 16)
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		c.Listen(ctx, ch, func(string) { changes <- struct{}{} }, ready)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("Listen did not return after its context was cancelled")
		}
	})

	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("Listen never became ready")
	}
	expectChange := func(what string) {
		t.Helper()
		select {
		case <-changes:
		case <-time.After(5 * time.Second):
			t.Fatalf("onChange was not called within 5s %s", what)
		}
	}
	expectQuiet := func(what string) {
		t.Helper()
		select {
		case <-changes:
			t.Fatalf("onChange was called %s", what)
		case <-time.After(200 * time.Millisecond):
		}
	}
	notify := func() {
		t.Helper()
		if err := c.ControlDB().Exec("SELECT pg_notify(?, 'x')", ch).Error; err != nil {
			t.Fatal(err)
		}
	}

	expectQuiet("before any notification")
	notify()
	expectChange("after NOTIFY")
	// A notification on another channel is not ours.
	if err := c.ControlDB().Exec("SELECT pg_notify(?, 'x')", ch+"_other").Error; err != nil {
		t.Fatal(err)
	}
	expectQuiet("for another channel's notification")

	// Kill the listener's backend; it must reconnect, report the gap with one
	// onChange, and receive later notifications.
	var killed []bool
	err := c.ControlDB().Raw(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND query LIKE '%' || ? || '%' AND pid <> pg_backend_pid()`, ch).Scan(&killed).Error
	if err != nil {
		t.Fatal(err)
	}
	if len(killed) != 1 || !killed[0] {
		t.Fatalf("terminating the listener's backend: got %v, want exactly one terminated backend", killed)
	}
	expectChange("after the listener reconnected")
	notify()
	expectChange("for a NOTIFY after reconnecting")
	expectQuiet("more often than notified")
}

// Unknown hostnames are remembered for a while (scanners ask again and
// again), but never past an Invalidate: a domain verified meanwhile resolves.
func TestResolverRemembersUnknownHostsUntilInvalidate(t *testing.T) {
	dir := newFakeDirectory()
	r := NewResolver(dir, resolverVersion, nil)
	for range 3 {
		if _, err := r.ByHost(context.Background(), acme.host); !errors.Is(err, ErrUnknownTenant) {
			t.Fatalf("ByHost of an unknown host = %v, want ErrUnknownTenant", err)
		}
	}
	if n := dir.callCount("host"); n != 1 {
		t.Fatalf("3 lookups of one unknown host reached the directory %d times, want 1", n)
	}
	dir.put(acme) // the domain is verified; the change notification invalidates
	r.Invalidate()
	if got, err := r.ByHost(context.Background(), acme.host); err != nil || got.Slug != acme.Slug {
		t.Fatalf("after Invalidate: %+v, %v; want %s", got, err, acme.Slug)
	}
}
