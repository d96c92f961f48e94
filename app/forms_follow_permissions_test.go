package main

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/modules/identity"
	"switchboard/platform/authz"
)

var (
	// postForm is a form that posts, with its action.
	postForm = regexp.MustCompile(`(?is)<form\b[^>]*\bmethod="post"[^>]*>`)
	formAct  = regexp.MustCompile(`(?i)\baction="([^"]*)"`)
	// pageLink is a link within the site.
	pageLink = regexp.MustCompile(`(?i)<a\b[^>]*\bhref="(/[^"]*)"`)
)

// TestFormsFollowPermissions walks every page of the console and portal as
// each kind of viewer and checks that every form it shows posts to a route
// the viewer may use, and every link leads to a page the viewer may open:
// a technician never meets a "Save" that answers "Not Found", a client
// user never a form only their admin can submit. It also checks that the
// forms a viewer may use are still there, so hiding everything cannot pass.
func TestFormsFollowPermissions(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	h := seedHumaneClient(t, e, "ffp")
	const pw = "forms-follow-permissions"
	tech, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "ffp-tech@msp.example", Role: "technician", Scope: "list", Tenants: []string{h.tenant.Slug}, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	owner, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "ffp-owner@msp.example", Role: "owner", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	subjectOf := func(email string) authz.Subject {
		u, err := e.identity.ClientUserByEmail(ctx, h.tenant, email)
		if err != nil {
			t.Fatal(err)
		}
		return authz.Subject{Key: identity.ClientSubject(h.tenant.ID, u.ID), Role: u.Role, TenantID: h.tenant.ID, Email: email}
	}
	samples := map[string]string{":slug": h.tenant.Slug, ":id": itoa(h.alertID), ":email": h.user, ":key": "sla-humane",
		":name": "seed", ":prefix": "sbk_nope", ":host": h.host, ":file": "logo.svg", "*": "app.css"}

	viewers := []struct {
		name     string
		surface  *echo.Echo
		a        *authz.Authorizer
		subject  authz.Subject
		signIn   func() *client
		mustShow []string // actions this viewer may use and must be offered
	}{
		{"technician", srv.console, srv.consoleAuthz, authz.Subject{Key: tech.Subject(), Role: "technician", Staff: true, Email: tech.Email},
			func() *client { return signIn(t, ts.URL, tech.Email, pw) },
			[]string{"/t/" + h.tenant.Slug + "/alerts/" + itoa(h.alertID) + "/acknowledge", "/t/" + h.tenant.Slug + "/users"}},
		{"owner", srv.console, srv.consoleAuthz, authz.Subject{Key: owner.Subject(), Role: "owner", Staff: true, Email: owner.Email},
			func() *client { return signIn(t, ts.URL, owner.Email, pw) },
			[]string{"/t/" + h.tenant.Slug + "/branding", "/t/" + h.tenant.Slug + "/suspend", "/t/" + h.tenant.Slug + "/policy/items"}},
		{"client admin", srv.portal, srv.portalAuthz, subjectOf(h.admin),
			func() *client { return signInToPortal(t, ts.URL, h.host, h.admin) }, []string{"/users"}},
		{"client user", srv.portal, srv.portalAuthz, subjectOf(h.user),
			func() *client { return signInToPortal(t, ts.URL, h.host, h.user) }, nil},
	}
	for _, v := range viewers {
		t.Run(v.name, func(t *testing.T) {
			c := v.signIn()
			if v.subject.Staff {
				c.waitAllowed("/t/" + h.tenant.Slug + "/") // grants reach the authorizer through a change notice
			}
			// domain is where the middleware would decide a request to the route.
			domain := func(route string) string {
				if !v.subject.Staff || strings.HasPrefix(route, "/t/:slug") {
					return authz.TenantDomain(h.tenant.ID)
				}
				return authz.PlatformDomain
			}
			template := func(method, target string) string {
				u, err := url.Parse(html.UnescapeString(target))
				if err != nil {
					t.Fatalf("bad URL %q: %v", target, err)
				}
				ec := v.surface.NewContext(httptest.NewRequest(method, u.Path, nil), httptest.NewRecorder())
				v.surface.Router().Find(method, u.Path, ec)
				return ec.Path()
			}
			offered := map[string]bool{}
			pages := 0
			for _, rt := range v.surface.Routes() {
				if rt.Method != http.MethodGet || strings.HasPrefix(rt.Path, "/api/") || strings.Contains(rt.Path, "/static/") {
					continue
				}
				path := pathParam.ReplaceAllStringFunc(rt.Path, func(name string) string { return url.PathEscape(samples[name]) })
				if strings.Contains(rt.Path, "/endpoints/:id") {
					path = strings.NewReplacer(":slug", h.tenant.Slug, ":id", itoa(h.endpointID)).Replace(rt.Path)
				}
				status, body := c.get(path)
				if status != http.StatusOK || !strings.Contains(body, "<html") {
					continue
				}
				pages++
				for _, form := range postForm.FindAllString(body, -1) {
					m := formAct.FindStringSubmatch(form)
					if m == nil {
						t.Errorf("%s: a form without an action: %s", path, form)
						continue
					}
					action := html.UnescapeString(m[1])
					offered[strings.SplitN(action, "?", 2)[0]] = true
					route := template(http.MethodPost, action)
					if route == "" || !v.a.Allowed(v.subject, domain(route), route, http.MethodPost) {
						t.Errorf("%s shows a form posting to %s (route %q) that the %s may not use", path, action, route, v.name)
					}
				}
				for _, m := range pageLink.FindAllStringSubmatch(body, -1) {
					href := html.UnescapeString(m[1])
					// Assets, and the API's public OpenAPI document (answered by the API surface).
					if strings.HasPrefix(href, "/static/") || strings.HasPrefix(href, "//") || href == "/api/v1/openapi.json" {
						continue
					}
					route := template(http.MethodGet, href)
					if route == "" || !v.a.Allowed(v.subject, domain(route), route, http.MethodGet) {
						t.Errorf("%s links to %s (route %q), which the %s may not open", path, href, route, v.name)
					}
				}
			}
			if pages < 5 {
				t.Fatalf("only %d pages opened", pages)
			}
			for _, action := range v.mustShow {
				if !offered[action] {
					t.Errorf("no page offers the %s a form posting to %s, which they may use", v.name, action)
				}
			}
		})
	}
}

// signIn is a console client signed in as email.
func signIn(t *testing.T, base, email, password string) *client {
	t.Helper()
	c := newClient(t, base)
	if status := c.login(email, password); status != http.StatusSeeOther {
		t.Fatalf("%s login: %d", email, status)
	}
	return c
}

// signInToPortal is a client of host's portal signed in as email.
func signInToPortal(t *testing.T, base, host, email string) *client {
	t.Helper()
	c := newHostClient(t, base, host)
	if status := c.login(email, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("%s portal login: %d", email, status)
	}
	return c
}
