package authz

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"switchboard/platform/tenancy"
)

// TestMayAgreesWithMiddleware is May's contract: for every request of the
// middleware's table that reaches a declared route, May — asked from the
// same page context about the matched route template — answers exactly
// whether the middleware let the request through. A page that hides what
// May refuses therefore hides nothing its viewer could have used.
func TestMayAgreesWithMiddleware(t *testing.T) {
	A, B := &tenantA, &tenantB
	subjects := []Subject{ownerS, adminS, techA, clientAdmA, clientUsrA, staff(99), noSubject}
	places := []struct {
		tenant *tenancy.Tenant
		via    string
	}{{nil, tenancy.ViaNone}, {A, tenancy.ViaPath}, {B, tenancy.ViaPath}, {A, tenancy.ViaHost}, {B, tenancy.ViaHost}}
	targets := []struct{ method, target string }{
		{"GET", "/"}, {"GET", "/staff"}, {"POST", "/staff/5/owner"}, {"GET", "/login"}, {"POST", "/api/v1/checkin"},
		{"GET", "/t/acme"}, {"POST", "/t/acme/users"}, {"POST", "/t/acme/suspend"}, {"GET", "/t/acme/switcher"},
		{"GET", "/t/beta"}, {"POST", "/t/beta/suspend"}, {"GET", "/p/home"}, {"POST", "/p/users"},
	}
	checked := 0
	for _, s := range subjects {
		for _, pl := range places {
			for _, tg := range targets {
				// The request that following the link would make: a tenant
				// route from a page of the same tenant; from a console page
				// inside a tenant, any other route is a request outside it.
				reqTenant, reqVia := pl.tenant, pl.via
				if inTenant := strings.HasPrefix(tg.target, "/t/"); pl.via == tenancy.ViaPath {
					if inTenant && !strings.HasPrefix(tg.target, "/t/"+pl.tenant.Slug) {
						continue
					}
					if !inTenant {
						reqTenant, reqVia = nil, tenancy.ViaNone
					}
				}
				a, e, ran, _ := newTestServer(t, request{s, reqTenant, reqVia, tg.method, tg.target, "text/html"})
				w := httptest.NewRecorder()
				e.ServeHTTP(w, httptest.NewRequest(tg.method, tg.target, nil))

				c := e.NewContext(httptest.NewRequest(tg.method, tg.target, nil), httptest.NewRecorder())
				e.Router().Find(tg.method, tg.target, c)
				ctx := tenancy.WithTenant(t.Context(), tenantOr(pl.tenant), pl.via) // the page's context
				if s != noSubject {
					ctx = WithSubject(ctx, s)
				}
				if got := a.May(ctx, tg.method, c.Path()); got != *ran {
					t.Errorf("%s on a page at %s %v: May(%s %s) = %v, middleware let it through = %v (status %d)",
						s.Key, pl.via, pl.tenant, tg.method, c.Path(), got, *ran, w.Code)
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d combinations checked", checked)
	}
	if a, _, _, _ := newTestServer(t, request{}); a.May(WithSubject(t.Context(), ownerS), http.MethodGet, "/forgotten") {
		t.Error("May allows an undeclared route")
	}
}

func tenantOr(t *tenancy.Tenant) tenancy.Tenant {
	if t == nil {
		return tenancy.Tenant{}
	}
	return *t
}
