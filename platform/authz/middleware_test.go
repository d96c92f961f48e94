package authz

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/platform/tenancy"
)

var (
	tenantA = tenancy.Tenant{ID: 1, Slug: "acme", Status: tenancy.StatusActive}
	tenantB = tenancy.Tenant{ID: 2, Slug: "beta", Status: tenancy.StatusActive}

	ownerS     = staff(1)                     // owner, all
	adminS     = staff(2)                     // admin, all except B
	techA      = staff(3)                     // technician, list [A]
	clientAdmA = client(1, 7, ClientAdmin)    // client admin of A
	clientUsrA = client(1, 8, ClientUser)     // client user of A
	noSubject  = Subject{Key: "<no subject>"} // the case has no session
)

// request is how the test middleware sets up one case: the tenant the
// resolver would have found and the session identity would have loaded.
type request struct {
	s      Subject
	tenant *tenancy.Tenant
	via    string
	method string
	target string
	accept string
}

// newTestServer builds the Echo app: test resolution and session, then
// authz, then the routes; ran is set when a handler runs and denials are counted.
func newTestServer(t *testing.T, req request) (a *Authorizer, e *echo.Echo, ran *bool, denials *[]string) {
	t.Helper()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	err = a.SetGrants([]Grant{
		{ownerS.Key, Owner, ScopeAll, nil},
		{adminS.Key, Admin, ScopeAllExcept, []int64{tenantB.ID}},
		{techA.Key, Technician, ScopeList, []int64{tenantA.ID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ran, denials = new(bool), new([]string)
	e = echo.New()
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc { // tenant resolution + session loading
		return func(c echo.Context) error {
			ctx := c.Request().Context()
			var tn tenancy.Tenant
			if req.tenant != nil {
				tn = *req.tenant
			}
			ctx = tenancy.WithTenant(ctx, tn, req.via)
			if req.s != noSubject {
				ctx = WithSubject(ctx, req.s)
			}
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	})
	e.Use(a.Middleware(MiddlewareOptions{
		LoginURL: func(echo.Context) string { return "/login" },
		OnDeny: func(c echo.Context, s Subject, reason string) {
			*denials = append(*denials, s.Key+": "+reason)
		},
	}))
	h := func(c echo.Context) error { *ran = true; return c.String(http.StatusOK, "handled") }
	a.Route(e, http.MethodGet, "/login", Public, h)
	a.Route(e, http.MethodPost, "/api/v1/checkin", APIKey, h)
	a.Route(e, http.MethodGet, "/", ConsoleView, h)
	a.Route(e, http.MethodGet, "/staff", PlatformManage, h)
	a.Route(e, http.MethodPost, "/staff/:id/owner", PlatformOwner, h)
	g := e.Group("/t/:slug", func(next echo.HandlerFunc) echo.HandlerFunc { return next })
	a.Route(g, http.MethodGet, "", TenantView, h)
	a.Route(g, http.MethodPost, "/users", TenantManage, h)
	a.Route(g, http.MethodPost, "/suspend", TenantAdmin, h)
	a.Route(g, http.MethodGet, "/switcher", ConsoleView, h)
	a.Route(e, http.MethodGet, "/p/home", PortalView, h)
	a.Route(e, http.MethodPost, "/p/users", PortalManage, h)
	e.GET("/forgotten", h) // registered without a declaration
	return a, e, ran, denials
}

func TestMiddleware(t *testing.T) {
	A, B := &tenantA, &tenantB
	const html, json = "text/html,application/xhtml+xml", "application/json"
	tests := []struct {
		name     string
		req      request
		status   int
		body     string // fragment of the body, or of Location for redirects
		ran      bool
		denied   bool
		location string
	}{
		// Public and API routes.
		{"public, anonymous", request{noSubject, nil, tenancy.ViaNone, "GET", "/login", html}, 200, "handled", true, false, ""},
		{"api key request", request{noSubject, A, tenancy.ViaAPIKey, "POST", "/api/v1/checkin", json}, 200, "handled", true, false, ""},
		{"api route without a key", request{noSubject, nil, tenancy.ViaNone, "POST", "/api/v1/checkin", json}, 401, "API key", false, true, ""},
		{"api route with a staff session", request{ownerS, nil, tenancy.ViaNone, "POST", "/api/v1/checkin", json}, 401, "API key", false, true, ""},
		{"api route on a portal", request{clientAdmA, A, tenancy.ViaHost, "POST", "/api/v1/checkin", json}, 401, "API key", false, true, ""},

		// No subject.
		{"anonymous browser goes to login", request{noSubject, nil, tenancy.ViaNone, "GET", "/?tab=alerts", html}, 303, "", false, false, "/login?next=%2F%3Ftab%3Dalerts"},
		{"anonymous browser in a tenant", request{noSubject, A, tenancy.ViaPath, "GET", "/t/acme", html}, 303, "", false, false, "/login?next=%2Ft%2Facme"},
		{"anonymous JSON gets 401", request{noSubject, nil, tenancy.ViaNone, "GET", "/", json}, 401, "log in", false, false, ""},
		{"anonymous POST gets 401", request{noSubject, nil, tenancy.ViaNone, "POST", "/staff/5/owner", html}, 401, "log in", false, false, ""},

		// Platform domain: 403 when the role lacks the permission.
		{"technician: console home", request{techA, nil, tenancy.ViaNone, "GET", "/", html}, 200, "handled", true, false, ""},
		{"technician: staff page", request{techA, nil, tenancy.ViaNone, "GET", "/staff", html}, 403, "You do not have permission", false, true, ""},
		{"admin: staff page", request{adminS, nil, tenancy.ViaNone, "GET", "/staff", html}, 200, "handled", true, false, ""},
		{"admin: make an owner", request{adminS, nil, tenancy.ViaNone, "POST", "/staff/5/owner", html}, 403, "You do not have permission", false, true, ""},
		{"owner: make an owner", request{ownerS, nil, tenancy.ViaNone, "POST", "/staff/5/owner", html}, 200, "handled", true, false, ""},
		{"unknown staff user", request{staff(99), nil, tenancy.ViaNone, "GET", "/", html}, 403, "permission", false, true, ""},

		// Tenant domains: 404 so that a client's existence is not revealed.
		{"technician in granted tenant", request{techA, A, tenancy.ViaPath, "GET", "/t/acme", html}, 200, "handled", true, false, ""},
		{"technician in another tenant", request{techA, B, tenancy.ViaPath, "GET", "/t/beta", html}, 404, "not found", false, true, ""},
		{"technician changes users", request{techA, A, tenancy.ViaPath, "POST", "/t/acme/users", html}, 200, "handled", true, false, ""},
		{"technician cannot suspend", request{techA, A, tenancy.ViaPath, "POST", "/t/acme/suspend", html}, 404, "not found", false, true, ""},
		{"technician: console page inside a tenant", request{techA, A, tenancy.ViaPath, "GET", "/t/acme/switcher", html}, 200, "handled", true, false, ""},
		{"technician: console page inside another tenant", request{techA, B, tenancy.ViaPath, "GET", "/t/beta/switcher", html}, 404, "not found", false, true, ""},
		{"admin suspends A", request{adminS, A, tenancy.ViaPath, "POST", "/t/acme/suspend", html}, 200, "handled", true, false, ""},
		{"admin excepted from B", request{adminS, B, tenancy.ViaPath, "GET", "/t/beta", html}, 404, "not found", false, true, ""},
		{"owner in any tenant", request{ownerS, B, tenancy.ViaPath, "POST", "/t/beta/suspend", html}, 200, "handled", true, false, ""},

		// Portal.
		{"client admin: portal", request{clientAdmA, A, tenancy.ViaHost, "GET", "/p/home", html}, 200, "handled", true, false, ""},
		{"client admin: manage users", request{clientAdmA, A, tenancy.ViaHost, "POST", "/p/users", html}, 200, "handled", true, false, ""},
		{"client user: manage users", request{clientUsrA, A, tenancy.ViaHost, "POST", "/p/users", html}, 404, "not found", false, true, ""},
		{"client user: console page on the portal host", request{clientUsrA, A, tenancy.ViaHost, "GET", "/", html}, 404, "not found", false, true, ""},

		// Wrong surface: always 404.
		{"staff session on a portal", request{ownerS, A, tenancy.ViaHost, "GET", "/p/home", html}, 404, "not found", false, true, ""},
		{"staff session on a portal, console route", request{ownerS, A, tenancy.ViaHost, "GET", "/", html}, 404, "not found", false, true, ""},
		{"client session on the console", request{clientAdmA, nil, tenancy.ViaNone, "GET", "/", html}, 404, "not found", false, true, ""},
		{"client session in the console's tenant path", request{clientAdmA, A, tenancy.ViaPath, "GET", "/t/acme", html}, 404, "not found", false, true, ""},
		{"client session on another client's portal", request{clientAdmA, B, tenancy.ViaHost, "GET", "/p/home", html}, 404, "not found", false, true, ""},

		// Undeclared and unmatched routes.
		{"undeclared route", request{ownerS, nil, tenancy.ViaNone, "GET", "/forgotten", html}, 404, "not found", false, true, ""},
		{"undeclared route, anonymous", request{noSubject, nil, tenancy.ViaNone, "GET", "/forgotten", html}, 404, "not found", false, true, ""},
		{"no such route: Echo's 404", request{ownerS, nil, tenancy.ViaNone, "GET", "/nowhere", html}, 404, "Not Found", false, false, ""},
		{"wrong method: Echo's 405", request{ownerS, nil, tenancy.ViaNone, "DELETE", "/staff", html}, 405, "Method Not Allowed", false, false, ""},
		{"group catch-all: Echo's 404", request{ownerS, A, tenancy.ViaPath, "GET", "/t/acme/nothing/here", html}, 404, "Not Found", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, e, ran, denials := newTestServer(t, tc.req)
			r := httptest.NewRequest(tc.req.method, tc.req.target, nil)
			r.Header.Set(echo.HeaderAccept, tc.req.accept)
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)

			if w.Code != tc.status {
				t.Errorf("status = %d, want %d (body %q)", w.Code, tc.status, w.Body.String())
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("body = %q, want it to contain %q", w.Body.String(), tc.body)
			}
			if loc := w.Header().Get(echo.HeaderLocation); loc != tc.location {
				t.Errorf("Location = %q, want %q", loc, tc.location)
			}
			if *ran != tc.ran {
				t.Errorf("handler ran = %v, want %v", *ran, tc.ran)
			}
			if got := len(*denials) > 0; got != tc.denied {
				t.Errorf("OnDeny calls = %q, want denied = %v", *denials, tc.denied)
			}
		})
	}
}

// TestUndeclaredRoutes shows the check the app's route test makes: the test
// server registers /forgotten without a declaration on purpose.
func TestUndeclaredRoutes(t *testing.T) {
	a, e, _, _ := newTestServer(t, request{})
	if got := a.Undeclared(e); len(got) != 1 || got[0] != "GET /forgotten" {
		t.Errorf("Undeclared = %q, want [GET /forgotten]", got)
	}
}
