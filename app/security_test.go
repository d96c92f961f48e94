package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"switchboard/modules/branding"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// Tests of issue 12's findings from outside: redirects, slug probing,
// CSRF, notices in URLs, false success, self-service resets, audit
// exports, sign-in throttling per surface and what portal assets say.

// fillRoute turns an Echo route template into a path: :slug becomes slug,
// any other parameter values[name] (else "zz-none"), a wildcard "x".
func fillRoute(route, slug string, values map[string]string) string {
	parts := strings.Split(route, "/")
	for i, p := range parts {
		switch {
		case p == ":slug":
			parts[i] = slug
		case strings.HasPrefix(p, ":"):
			v, ok := values[p[1:]]
			if !ok {
				v = "zz-none"
			}
			parts[i] = url.PathEscape(v)
		case p == "*":
			parts[i] = "x"
		}
	}
	return strings.Join(parts, "/")
}

// realRoutes is a surface's route table without Echo's catch-all entries.
func realRoutes(e *echo.Echo) []*echo.Route {
	var out []*echo.Route
	for _, r := range e.Routes() {
		if r.Method != echo.RouteNotFound {
			out = append(out, r)
		}
	}
	return out
}

// send makes one request with b's cookies, the given Accept header, and for
// anything but GET/HEAD/OPTIONS the form (plus b's CSRF token, if any).
func (b *client) send(method, path, accept string, form url.Values) (int, http.Header, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if b.token != "" && method != http.MethodGet && method != http.MethodHead {
		req.Header.Set("X-CSRF-Token", b.token)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	b.keepToken(string(out))
	return resp.StatusCode, resp.Header, string(out)
}

// uniqueID makes names unique per run of the package's shared database.
func uniqueID() string { return strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "") }

// TestAnonymousCannotTellClientsApart: for every console route under
// /t/:slug, every method and every kind of client, an anonymous request
// for an existing client, a suspended one and one that does not exist gets
// the same status, headers and body. So does an enrollment token naming a
// suspended client and one naming nobody.
func TestAnonymousCannotTellClientsApart(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	id := uniqueID()
	known, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "ka" + id, Name: "Known " + id})
	if err != nil {
		t.Fatal(err)
	}
	suspended, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "ks" + id, Name: "Suspended " + id})
	if err != nil {
		t.Fatal(err)
	}
	// Tokens made while active; the client is suspended afterwards.
	suspendedToken, _, err := e.agents.CreateToken(ctx, e.tenants.Scope(suspended), "probe", time.Hour, 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.tenants.Suspend(ctx, suspended.Slug); err != nil {
		t.Fatal(err)
	}
	e.agents.Invalidate()
	unknown := "ku" + id // same length: Content-Length must match too

	answer := func(slug, method, path, accept string) string {
		b := newClient(t, ts.URL)
		status, hdr, body := b.send(method, path, accept, url.Values{"x": {"1"}})
		hdr = hdr.Clone()
		hdr.Del("Date")
		hdr.Del(echo.HeaderXRequestID)
		loc := hdr.Get("Location")
		hdr.Del("Location")
		return strings.ReplaceAll(fmt.Sprintf("%d %q %v\n%s", status, loc, hdr, body), slug, "SLUG")
	}
	methods := []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions}
	checked := 0
	for _, r := range realRoutes(srv.console) {
		if !strings.HasPrefix(r.Path, "/t/:slug") {
			continue
		}
		for _, method := range methods {
			for _, accept := range []string{"text/html", "application/json", ""} {
				path := func(slug string) string { return fillRoute(r.Path, slug, nil) }
				want := answer(known.Slug, method, path(known.Slug), accept)
				for _, other := range []string{unknown, suspended.Slug} {
					if got := answer(other, method, path(other), accept); got != want {
						t.Errorf("anonymous %s %s (Accept %q) tells clients apart:\nexisting: %s\nother:    %s", method, r.Path, accept, want, got)
					}
				}
				checked++
			}
		}
	}
	if checked < 100 {
		t.Fatalf("only %d requests compared: the route table lost its client routes?", checked)
	}

	// Enrollment: a suspended client's token answers as a made-up one.
	_, after, _ := strings.Cut(strings.TrimPrefix(suspendedToken, "sbe_"), "_")
	madeUp := strings.Replace(suspendedToken, fmt.Sprint(suspended.ID), "999999999", 1)
	if madeUp == suspendedToken || after == "" {
		t.Fatalf("token %q does not carry the tenant id %d as expected", suspendedToken, suspended.ID)
	}
	enroll := func(token string) string {
		status, body := sendJSON(t, ts.URL, http.MethodPost, "/api/v1/agent/enroll", "", fmt.Sprintf(`{"token":%q,"hostname":"probe","os":"linux"}`, token))
		return fmt.Sprintf("%d %s", status, body)
	}
	if a, b := enroll(suspendedToken), enroll(madeUp); a != b || !strings.HasPrefix(a, "401") {
		t.Errorf("enrollment tokens tell a suspended client apart:\nsuspended: %s\nunknown:   %s", a, b)
	}
}

// redirectPayloads are ?next= values that browsers (or proxies that decode
// the path) read as another site, or that carry header injection.
var redirectPayloads = []string{
	"/\t/evil.example/x", "/%09/evil.example/x", "/%2509/evil.example/x", "//evil.example/x", "/\\evil.example/x",
	"\\\\evil.example/x", "/\\/evil.example", "/%5C/evil.example", "/%5c%5cevil.example", "/%2F/evil.example",
	"/%2f%2fevil.example", "/%252F%252Fevil.example", "https://evil.example/", "http:evil.example", "//evil.example%2f@x",
	"javascript:alert(1)", " /evil.example", "/\r\nSet-Cookie: x=y", "/\x00//evil.example", "/\u3000/evil.example",
	"/\n/evil.example", "/\x7f/evil.example", "///evil.example",
}

// checkLocation fails unless loc is a path on base's site: no scheme or
// host, one leading slash even once percent-decoded, no backslash, space or
// control character, and resolving to base's host; and it never carries a
// notice (?flash=).
func checkLocation(t *testing.T, what string, base *url.URL, loc string) {
	t.Helper()
	if loc == "" {
		return
	}
	bad := func(why string) { t.Errorf("%s: Location %q %s", what, loc, why) }
	if strings.ContainsAny(loc, "\\ \t\r\n\x00\x7f") || strings.ContainsFunc(loc, func(r rune) bool { return r > 0x7e }) {
		bad("holds a character browsers ignore or read as a slash")
		return
	}
	if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
		bad("is not a path on this site")
		return
	}
	path, _, _ := strings.Cut(loc, "?")
	decoded := path
	for range 3 {
		if d, err := url.PathUnescape(decoded); err == nil {
			decoded = d
		}
	}
	if strings.HasPrefix(decoded, "//") || strings.ContainsAny(decoded, "\\\t\r\n\x00") {
		bad("becomes another site once decoded")
	}
	ref, err := url.Parse(loc)
	if err != nil {
		bad("does not parse")
		return
	}
	if res := base.ResolveReference(ref); res.Host != base.Host || res.Scheme != base.Scheme {
		bad("leaves the site")
	}
	if strings.Contains(loc, "flash=") {
		bad("carries a notice in the URL")
	}
}

// TestRedirectsStayOnThisSite drives every route of the console and the
// portal, anonymous and signed in, with ?next= (and a form field next) set
// to each payload, and checks every Location. Sign-in itself is tried with
// every payload and the right password.
func TestRedirectsStayOnThisSite(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	p := seedPortalTenant(t, e, "rd")
	id := uniqueID()
	// A client of its own: the signed-in POSTs below may suspend it.
	victim, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "rv" + id, Name: "Redirect victim " + id})
	if err != nil {
		t.Fatal(err)
	}
	owner := "rd-owner-" + id + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	few := []string{"/%09/evil.example/x", "//evil.example", "/\\evil.example"}

	surfaces := []struct {
		name   string
		ech    *echo.Echo
		client func() *client
		email  string
	}{
		{"console", srv.console, func() *client { return newClient(t, ts.URL) }, owner},
		{"portal", srv.portal, func() *client { return newHostClient(t, ts.URL, p.host) }, p.admin},
	}
	for _, s := range surfaces {
		t.Run(s.name, func(t *testing.T) {
			// Sign-in with every payload: the form, the redirect after it, and
			// the form again once signed in.
			for _, next := range redirectPayloads {
				b := s.client()
				base, _ := url.Parse(b.base)
				q := "?next=" + url.QueryEscape(next)
				status, _, body := b.send(http.MethodGet, "/login"+q, "text/html", nil)
				if status == http.StatusBadRequest && strings.ContainsRune(next, 0) {
					continue // NUL is refused at the boundary, before any handler
				}
				if status != http.StatusOK || strings.Contains(body, "evil.example") {
					t.Errorf("GET /login%s = %d, or the form keeps the payload", q, status)
				}
				status, hdr, _ := b.send(http.MethodPost, "/login", "text/html", url.Values{"email": {s.email}, "password": {portalPassword}, "next": {next}})
				if status != http.StatusSeeOther {
					t.Fatalf("sign-in with next %q = %d", next, status)
				}
				checkLocation(t, "sign-in with next "+fmt.Sprintf("%q", next), base, hdr.Get("Location"))
				_, hdr, _ = b.send(http.MethodGet, "/login"+q, "text/html", nil)
				checkLocation(t, "signed-in GET /login"+q, base, hdr.Get("Location"))
			}

			// Every route, anonymous and signed in.
			anon, signedIn := s.client(), s.client()
			if status := signedIn.login(s.email, portalPassword); status != http.StatusSeeOther {
				t.Fatalf("sign-in = %d", status)
			}
			anon.get("/login")
			base, _ := url.Parse(anon.base)
			for _, r := range realRoutes(s.ech) {
				if r.Path == "/logout" || r.Path == "/login" {
					continue // sign-out ends the session the loop uses; sign-in is tried with every payload above
				}
				path := fillRoute(r.Path, victim.Slug, map[string]string{"id": "999999"})
				for _, b := range []*client{anon, signedIn} {
					for _, next := range few {
						q := "?next=" + url.QueryEscape(next)
						var form url.Values
						if r.Method != http.MethodGet {
							form = url.Values{"next": {next}}
						}
						_, hdr, _ := b.send(r.Method, path+q, "text/html", form)
						checkLocation(t, r.Method+" "+path+q, base, hdr.Get("Location"))
					}
				}
			}
		})
	}
}

// TestCSRFTokenBoundToSession: a planted cookie pair, another session's
// token and the token from before sign-in are all refused; only the
// session's own token is accepted, on the console and on a portal; and the
// anonymous sign-in form is protected too.
func TestCSRFTokenBoundToSession(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	id := uniqueID()
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "cs" + id, Name: "CSRF " + id})
	if err != nil {
		t.Fatal(err)
	}
	owner := "csrf-" + id + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	suspendPath := "/t/" + tn.Slug + "/suspend"
	status := func() string {
		got, err := e.tenants.Get(ctx, tn.Slug)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	post := func(b *client, path, token string, cookies ...*http.Cookie) int {
		form := url.Values{"_csrf": {token}}
		req, _ := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Before sign-in: the form's token is in the anonymous session.
	b := newClient(t, ts.URL)
	b.get("/login")
	before := b.token
	if before == "" {
		t.Fatal("the sign-in form carries no CSRF token")
	}
	noToken := newClient(t, ts.URL)
	noToken.get("/login")
	if got := post(noToken, "/login?email="+url.QueryEscape(owner), ""); got != http.StatusForbidden {
		t.Errorf("sign-in without the form's token = %d, want 403", got)
	}
	if got := b.login(owner, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", got)
	}
	if b.token == "" || b.token == before {
		t.Fatalf("sign-in kept the CSRF token of before (%q → %q)", before, b.token)
	}
	other := newClient(t, ts.URL)
	if status := other.login(owner, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}

	for _, tc := range []struct {
		name    string
		token   string
		cookies []*http.Cookie
	}{
		{"no token", "", nil},
		{"planted cookie pair", "x", []*http.Cookie{{Name: "sb_csrf", Value: "x"}, {Name: "_csrf", Value: "x"}}},
		{"planted cookie pair, portal name", "x", []*http.Cookie{{Name: "portal_csrf", Value: "x"}}},
		{"the token from before sign-in", before, nil},
		{"another session's token", other.token, nil},
	} {
		if got := post(b, suspendPath, tc.token, tc.cookies...); got != http.StatusForbidden {
			t.Errorf("%s: POST = %d, want 403", tc.name, got)
		}
		if s := status(); s != "active" {
			t.Fatalf("%s: a refused POST changed the client to %s", tc.name, s)
		}
	}
	if got := post(b, suspendPath, b.token); got != http.StatusSeeOther || status() != "suspended" {
		t.Fatalf("the session's own token: POST = %d, client %s; want 303 and suspended", got, status())
	}

	// The portal: a planted pair is refused, the session's token works.
	p := seedPortalTenant(t, e, "cp")
	user := newHostClient(t, ts.URL, p.host)
	if got := user.login(p.user, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("portal sign-in = %d", got)
	}
	notes := "/alerts/" + itoa(p.alertID) + "/notes"
	countNotes := func() int {
		var n int
		conn := adminPG(t)
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+p.tenant.Schema()+`.alert_events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	n := countNotes()
	req := func(token string, cookies ...*http.Cookie) int {
		form := url.Values{"_csrf": {token}, "note": {"planted"}}
		r, _ := http.NewRequest(http.MethodPost, user.base+notes, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range cookies {
			r.AddCookie(c)
		}
		resp, err := user.c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := req("x", &http.Cookie{Name: "portal_csrf", Value: "x"}, &http.Cookie{Name: "_csrf", Value: "x"}); got != http.StatusForbidden || countNotes() != n {
		t.Errorf("portal, planted cookie pair: POST = %d, want 403 and nothing written", got)
	}
	if got := req(user.token); got != http.StatusSeeOther || countNotes() == n {
		t.Errorf("portal, the session's own token: POST = %d, want 303 and a note", got)
	}
}

// adminPG is a superuser connection to the test database, closed at cleanup.
func adminPG(t *testing.T) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestNoticesNeverComeFromTheURL: ?flash= shows nothing anywhere (a
// client's branded sign-in page included), and a real notice comes from the
// session, once.
func TestNoticesNeverComeFromTheURL(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "fl")
	const spoof = "Your password expired, call 1-900-555-0199"
	q := "?flash=" + url.QueryEscape(spoof)
	portal := newHostClient(t, ts.URL, p.host)
	if status, body := portal.get("/login" + q); status != http.StatusOK || strings.Contains(body, "1-900") || !strings.Contains(body, p.tenant.Name) {
		t.Errorf("branded sign-in page with ?flash= = %d; shows the text: %v", status, strings.Contains(body, "1-900"))
	}
	if status := portal.login(p.user, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	if _, body := portal.get("/" + q); strings.Contains(body, "1-900") {
		t.Error("a portal page shows ?flash= text")
	}

	owner := "flash-" + uniqueID() + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if _, body := b.get("/login" + q); strings.Contains(body, "1-900") {
		t.Error("the console sign-in page shows ?flash= text")
	}
	if status := b.login(owner, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	if _, body := b.get("/" + q); strings.Contains(body, "1-900") {
		t.Error("a console page shows ?flash= text")
	}
	k, _, err := e.tenants.CreateAPIKey(ctx, p.tenant.Slug, "flash")
	if err != nil {
		t.Fatal(err)
	}
	status, _, hdr := b.do(http.MethodPost, "/t/"+p.tenant.Slug+"/apikeys/"+k.Prefix+"/revoke", nil)
	if status != http.StatusSeeOther || strings.Contains(hdr.Get("Location"), "flash") {
		t.Fatalf("revoke = %d to %q; want 303 to a URL without the notice", status, hdr.Get("Location"))
	}
	want := "Key " + k.Prefix + " revoked."
	if _, body := b.get(hdr.Get("Location")); !strings.Contains(body, want) {
		t.Errorf("the page after revoking does not say %q", want)
	}
	if _, body := b.get(hdr.Get("Location")); strings.Contains(body, want) {
		t.Error("the notice shows again on reload")
	}
}

// TestMutationsOfMissingObjectsAre404: every state-changing route that names
// an object (by path parameter, or the ids of a bulk action) answers 404 with
// a plain message when the object does not exist in that client, including
// another client's API key, and writes nothing.
func TestMutationsOfMissingObjectsAre404(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	p := seedPortalTenant(t, e, "mo")
	other := seedPortalTenant(t, e, "mx")
	otherKey, _, err := e.tenants.CreateAPIKey(ctx, other.tenant.Slug, "theirs")
	if err != nil {
		t.Fatal(err)
	}
	owner := "missing-" + uniqueID() + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	missing := map[string]string{"id": "999999", "email": "nobody@nowhere.example", "prefix": otherKey.Prefix,
		"name": "no-such-channel", "key": "no-such-policy", "host": "absent.nowhere.example"}
	// A form that would be valid if the object existed.
	form := url.Values{"enabled": {"true"}, "locked": {"false"}, "hostname": {"h1"}, "note": {"n"}, "assignee": {"x@msp.example"},
		"role": {"technician"}, "scope": {"all"}, "ids": {"999999"}, "action": {"acknowledge"}}

	check := func(t *testing.T, b *client, ech *echo.Echo, slug, schema string) {
		n := 0
		for _, r := range realRoutes(ech) {
			named := strings.Count(r.Path, ":") > 0 && r.Path != "/t/:slug" && strings.Count(r.Path, ":") > strings.Count(r.Path, ":slug")
			if r.Method != http.MethodPost || (!named && !strings.HasSuffix(r.Path, "/bulk")) {
				continue
			}
			path := fillRoute(r.Path, slug, missing)
			before := writeCounts(t, schema)
			status, body, _ := b.do(http.MethodPost, path, form)
			if status != http.StatusNotFound {
				t.Errorf("POST %s = %d, want 404\n%.300s", path, status, body)
			}
			if strings.Contains(body, "Something went wrong") || strings.Contains(body, "goroutine") {
				t.Errorf("POST %s: not a plain message", path)
			}
			if after := writeCounts(t, schema); after != before {
				t.Errorf("POST %s wrote something: %v → %v", path, before, after)
			}
			n++
		}
		if n == 0 {
			t.Fatal("no route names an object: the route table changed?")
		}
	}
	t.Run("console", func(t *testing.T) {
		b := newClient(t, ts.URL)
		if status := b.login(owner, portalPassword); status != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", status)
		}
		check(t, b, srv.console, p.tenant.Slug, p.tenant.Schema())
		keys, err := e.tenants.ListAPIKeys(ctx, other.tenant.Slug)
		if err != nil || len(keys) != 1 || keys[0].RevokedAt != nil {
			t.Fatalf("the other client's key after a revoke through this client: %+v (%v)", keys, err)
		}
	})
	t.Run("portal", func(t *testing.T) {
		b := newHostClient(t, ts.URL, p.host)
		if status := b.login(p.admin, portalPassword); status != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", status)
		}
		check(t, b, srv.portal, p.tenant.Slug, p.tenant.Schema())
	})
}

// TestPasswordResets: a client's admin cannot reset their own password
// through the admin page (refused, nothing changed, no button), and a reset
// ends every session of the user, one written back by a request in flight
// and the current one of staff resetting their own included.
func TestPasswordResets(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "pr")
	admin := newHostClient(t, ts.URL, p.host)
	if status := admin.login(p.admin, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	if _, body := admin.get("/users"); strings.Contains(body, `action="/users/`+p.admin+`/reset-password"`) {
		t.Error("the users page offers the admin a reset of their own password")
	}
	for _, email := range []string{p.admin, strings.ToUpper(p.admin)} {
		status, body, _ := admin.do(http.MethodPost, "/users/"+email+"/reset-password", nil)
		if status != http.StatusBadRequest || !strings.Contains(body, "cannot reset your own password") {
			t.Errorf("own reset as %s = %d, want 400 with a reason", email, status)
		}
	}
	if status := newHostClient(t, ts.URL, p.host).login(p.admin, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("the refused reset changed the password: sign-in = %d", status)
	}

	// The user signs in; a request of theirs is in flight while staff reset
	// the password, and writes its session back afterwards.
	user := newHostClient(t, ts.URL, p.host)
	if status := user.login(p.user, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	conn := adminPG(t)
	type row struct {
		hash, subject string
		data          []byte
		expiry        time.Time
	}
	var rows []row
	list, err := conn.Query(ctx, `SELECT token_hash, subject, data, expiry FROM `+p.tenant.Schema()+`.sessions WHERE subject <> ''`)
	if err != nil {
		t.Fatal(err)
	}
	for list.Next() {
		var r row
		if err := list.Scan(&r.hash, &r.subject, &r.data, &r.expiry); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	if err := list.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.identity.ResetClientPassword(ctx, p.tenant, p.user, ""); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if _, err := conn.Exec(ctx, `INSERT INTO `+p.tenant.Schema()+`.sessions (token_hash, subject, data, expiry) VALUES ($1, $2, $3, $4)
			ON CONFLICT (token_hash) DO NOTHING`, r.hash, r.subject, r.data, r.expiry); err != nil {
			t.Fatal(err)
		}
	}
	if status, _, hdr := user.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Errorf("after the reset the user's session still works: / = %d to %q", status, hdr.Get("Location"))
	}

	// Staff resetting their own password lose the session they did it in.
	owner := "reset-" + uniqueID() + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login(owner, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	b.waitAllowed("/platform/staff") // the new owner's grant arrives through a change notice
	if status, body, _ := b.do(http.MethodPost, "/platform/staff/"+owner+"/reset-password", nil); status != http.StatusOK || !strings.Contains(body, "shown once") {
		t.Fatalf("own reset = %d", status)
	}
	if status, _, hdr := b.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
		t.Errorf("after resetting their own password the staff session lives on: / = %d", status)
	}
	u, err := e.identity.StaffByEmail(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	var left int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM control.sessions WHERE subject = $1`, u.Subject()).Scan(&left); err != nil || left != 0 {
		t.Errorf("sessions of %s left after the reset: %d (%v)", owner, left, err)
	}
}

// TestAuditExportKeepsTheFilter: the export links of a filtered audit page
// export what the filter shows, not everything.
func TestAuditExportKeepsTheFilter(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "au") // its log has user.created and more
	owner := "audit-" + uniqueID() + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login(owner, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	_, page := b.get("/t/" + p.tenant.Slug + "/audit?action=user.created")
	links := regexp.MustCompile(`href="([^"]*format=(?:csv|ndjson))"`).FindAllStringSubmatch(page, -1)
	if len(links) != 2 {
		t.Fatalf("export links: %v", links)
	}
	for _, l := range links {
		href := strings.ReplaceAll(l[1], "&amp;", "&")
		u, err := url.Parse(href)
		if err != nil || u.Query().Get("action") != "user.created" {
			t.Errorf("export link %q lost the filter", href)
			continue
		}
		status, body := b.get(href)
		if status != http.StatusOK || !strings.Contains(body, "user.created") || strings.Contains(body, "endpoint.enrolled") {
			t.Errorf("export %s = %d, holds other actions:\n%.400s", href, status, body)
		}
	}
}

// TestSignInThrottlePerSurface: an IP that fails often enough to be blocked
// on one client's portal is blocked there only; the console and another
// client's portal still let it sign in.
func TestSignInThrottlePerSurface(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	a := seedPortalTenant(t, e, "ta")
	b := seedPortalTenant(t, e, "tb")
	owner := "throttle-" + uniqueID() + "@msp.example"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: owner, Role: "owner", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}
	attacker := newHostClient(t, ts.URL, a.host)
	blocked := false
	for i := 0; i < 40 && !blocked; i++ { // unknown accounts: only the IP counts
		status, _, _ := attacker.do(http.MethodPost, "/login", url.Values{"email": {fmt.Sprintf("guess%d@%s.example", i, a.tenant.Slug)}, "password": {"nope"}})
		blocked = status == http.StatusTooManyRequests
	}
	if !blocked {
		t.Fatal("40 failures from one IP never blocked it on the portal")
	}
	if status := newHostClient(t, ts.URL, a.host).login(a.user, portalPassword); status != http.StatusTooManyRequests {
		t.Errorf("the blocked IP signs in to the same portal: %d, want 429", status)
	}
	if status := newHostClient(t, ts.URL, b.host).login(b.user, portalPassword); status != http.StatusSeeOther {
		t.Errorf("the IP blocked on %s cannot sign in to %s's portal: %d", a.tenant.Slug, b.tenant.Slug, status)
	}
	if status := newClient(t, ts.URL).login(owner, portalPassword); status != http.StatusSeeOther {
		t.Errorf("the IP blocked on a portal cannot sign in to the console: %d", status)
	}
}

// platformWords are what a portal's assets must never say: the platform's
// name and the console's multi-client vocabulary.
var platformWords = []string{"switchboard", "console", "switcher", "client switcher", "multi-client", "clients", "tenant", "msp", "/t/"}

// assetRefs finds the URLs of what an HTML page loads: stylesheets, icons,
// scripts and images.
var assetRefs = regexp.MustCompile(`<(?:link|script|img)\b[^>]*?\s(?:href|src)="([^"]+)"`)

// TestPortalAssetsNameOnlyTheClient fetches every asset the portal's pages
// load (signed out and signed in) and fails on the platform's name or its
// console's words; the console's own assets are not served on a portal.
func TestPortalAssetsNameOnlyTheClient(t *testing.T) {
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "as")
	if _, err := e.branding.Save(context.Background(), p.tenant, branding.Input{Logo: []byte(matrixLogo)}); err != nil {
		t.Fatal(err)
	}
	anon := newHostClient(t, ts.URL, p.host)
	admin := newHostClient(t, ts.URL, p.host)
	if status := admin.login(p.admin, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", status)
	}
	assets := map[string]bool{}
	for _, page := range []struct {
		who  *client
		path string
	}{{anon, "/login"}, {admin, "/"}, {admin, "/alerts"}, {admin, "/alerts/" + itoa(p.alertID)}, {admin, "/endpoints"}, {admin, "/sla"}, {admin, "/users"}} {
		status, body := page.who.get(page.path)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", page.path, status)
		}
		for _, m := range assetRefs.FindAllStringSubmatch(body, -1) {
			assets[strings.ReplaceAll(m[1], "&amp;", "&")] = true
		}
	}
	if len(assets) == 0 {
		t.Fatal("the portal's pages load no assets: the pattern is broken?")
	}
	for ref := range assets {
		u, err := url.Parse(ref)
		if err != nil || u.Host != "" || !strings.HasPrefix(u.Path, "/") {
			t.Errorf("the portal loads %q from elsewhere", ref)
			continue
		}
		status, body := admin.get(ref)
		if status != http.StatusOK {
			t.Errorf("asset %s = %d", ref, status)
		}
		lower := strings.ToLower(body)
		for _, w := range platformWords {
			if strings.Contains(lower, w) {
				t.Errorf("portal asset %s says %q", ref, w)
			}
		}
	}
	for _, console := range []string{"/static/app.js", "/static/app.css", "/static/branding.js"} {
		if status, _ := anon.get(console); status != http.StatusNotFound {
			t.Errorf("the portal serves the console's %s: %d", console, status)
		}
	}
}
