package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/config"
	"switchboard/db"
	"switchboard/modules/alerts"
	"switchboard/modules/branding"
	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// testServer assembles the real server (every module, every middleware) on
// the package's test database.
func testServer(t *testing.T) (*env, *server, *httptest.Server) {
	t.Helper()
	return testServerWith(t, nil)
}

// testServerWith is testServer with the configuration adjusted by configure.
func testServerWith(t *testing.T, configure func(*config.Config)) (*env, *server, *httptest.Server) {
	t.Helper()
	return testServerClock(t, configure, nil)
}

// testServerClock is testServerWith whose single sign-on verifies ID tokens
// at the time clock says (nil: time.Now), so expiry is tested without waiting.
func testServerClock(t *testing.T, configure func(*config.Config), clock func() time.Time) (*env, *server, *httptest.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.URL = pgtest.URL()
	// Tests may add the cell "far" on the package's second server; every
	// process of the package knows where it is, as production config would.
	withFarCell(cfg)
	if configure != nil {
		configure(cfg)
	}
	e := &env{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), url: pgtest.URL(), ssoClock: clock}
	if err := e.connect(ctx, true, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	if _, err := db.MigrateControl(ctx, e.cluster.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tenants.MigrateFleet(ctx, tenants.MigrateOptions{}); err != nil {
		t.Fatal(err)
	}
	srv, err := buildServer(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return e, srv, ts
}

// client is an HTTP client with its own cookies that never follows
// redirects. token is the CSRF token of its session, as the last page that
// had a form showed it.
type client struct {
	t     *testing.T
	base  string
	c     *http.Client
	token string
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: testDialer(t).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: base, c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// testIPs gives each top-level test a loopback source address of its own
// (all of 127/8 reaches the test server), so that sign-in failures counted
// against one test's client IP never throttle another test's sign-ins; the
// clients of one test share theirs, as browsers behind one address would.
var (
	testIPsMu sync.Mutex
	testIPs   = map[string]string{}
)

// testDialer connects from the test's own loopback address.
func testDialer(t *testing.T) *net.Dialer {
	name, _, _ := strings.Cut(t.Name(), "/")
	testIPsMu.Lock()
	ip, ok := testIPs[name]
	if !ok {
		n := len(testIPs) + 1
		ip = fmt.Sprintf("127.1.%d.%d", n/250, n%250+1)
		testIPs[name] = ip
	}
	testIPsMu.Unlock()
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
}

func (b *client) csrf() string { return b.token }

// csrfField finds the CSRF token in a page's hidden form field.
var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// keepToken remembers the CSRF token a page shows, as a browser's form would.
func (b *client) keepToken(body string) {
	if m := csrfField.FindStringSubmatch(body); m != nil {
		b.token = m[1]
	}
}

// do sends a request as a browser would (HTML accepted, CSRF token on POSTs).
func (b *client) do(method, path string, form url.Values) (int, string, http.Header) {
	b.t.Helper()
	if b.csrf() == "" {
		b.get("/login") // the sign-in form puts a CSRF token in the session
	}
	req, _ := http.NewRequest(method, b.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Accept", "text/html")
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-CSRF-Token", b.csrf())
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.keepToken(string(body))
	return resp.StatusCode, string(body), resp.Header
}

func (b *client) get(path string) (int, string) {
	req, _ := http.NewRequest(http.MethodGet, b.base+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	b.keepToken(string(body))
	return resp.StatusCode, string(body)
}

// login signs in through the form, then opens the page it leads to, whose
// forms carry the new session's CSRF token (sign-in replaces it).
func (b *client) login(email, password string) int {
	b.t.Helper()
	b.get("/login") // a fresh form, as a browser has one before signing in
	status, _, hdr := b.do(http.MethodPost, "/login", url.Values{"email": {email}, "password": {password}})
	if status == http.StatusSeeOther {
		b.get(hdr.Get("Location"))
	}
	return status
}

// waitAllowed waits until path stops being refused (404 inside a client,
// 403 on platform pages): grants reach the authorizer through a change
// notification, a moment after the user exists.
func (b *client) waitAllowed(path string) {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		status, _ := b.get(path)
		if status != http.StatusNotFound && status != http.StatusForbidden {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("%s still 404 after 10 s: the user's grants never arrived", path)
		}
	}
}

// matrixRow is one representative request per route, and who may make it.
type matrixRow struct {
	method, route, path string // route is the Echo template the path exercises
	form                url.Values
	allowed             []string // roles that get through; everyone else is refused
}

// matrixLogo is the logo both matrix clients have; matrixLogoFile its URL file name.
const matrixLogo = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>`

var matrixLogoFile = func() string { a, _ := branding.CheckImage(branding.Logo, []byte(matrixLogo)); return a.File() }()

// TestRouteMatrix walks every console route for every role: a technician
// granted one client gets 404 on the other's pages, only owners and admins
// reach platform pages, and anonymous browsers are sent to the login page.
// A route without a row here fails the test, as does one without a declared
// permission.
func TestRouteMatrix(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	if u := srv.consoleAuthz.Undeclared(srv.console); len(u) > 0 {
		t.Fatalf("console routes without a declared permission: %v", u)
	}
	if u := srv.portalAuthz.Undeclared(srv.portal); len(u) > 0 {
		t.Fatalf("portal routes without a declared permission: %v", u)
	}

	alpha, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "mx-alpha", Name: "Matrix Alpha"})
	if err != nil {
		t.Fatal(err)
	}
	beta, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "mx-beta", Name: "Matrix Beta"})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "matrix-password-1"
	staff := map[string]identity.StaffInput{
		"owner":             {Email: "mx-owner@msp.example", Role: "owner"},
		"admin":             {Email: "mx-admin@msp.example", Role: "admin"},
		"tech-alpha":        {Email: "mx-tech-a@msp.example", Role: "technician", Scope: "list", Tenants: []string{alpha.Slug}},
		"tech-except-alpha": {Email: "mx-tech-xa@msp.example", Role: "technician", Scope: "all_except", Tenants: []string{alpha.Slug}},
		"victim":            {Email: "mx-victim@msp.example", Role: "technician"},
	}
	for _, in := range staff {
		in.Password = pw
		if _, _, err := e.identity.CreateStaff(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, tn := range []tenants.Tenant{alpha, beta} {
		if _, _, err := e.identity.CreateClientUser(ctx, e.tenants.Scope(tn), identity.ClientInput{Email: "user@" + tn.Slug + ".example", Role: "client_user", Password: pw}); err != nil {
			t.Fatal(err)
		}
		// Token #1 and endpoint #1 of each client, for the endpoint pages.
		token, _, err := e.agents.CreateToken(ctx, e.tenants.Scope(tn), "matrix", time.Hour, 5)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.agents.Enroll(ctx, token, "host-"+tn.Slug, "linux"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.notify.Create(ctx, e.tenants.Scope(tn), notify.ChannelInput{Name: "seed", Kind: "email", EmailTo: []string{"noc@" + tn.Slug + ".example"}}); err != nil {
			t.Fatal(err)
		}
		// The same logo in both clients: one hash, reachable only inside each client.
		if _, err := e.branding.Save(ctx, e.tenants.Scope(tn), branding.Input{Logo: []byte(matrixLogo)}); err != nil {
			t.Fatal(err)
		}
		// Alert #1 of each client, for the alert pages.
		if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(tn), []alerts.Signal{{Source: "matrix", Rule: "r", Summary: "user@" + tn.Slug + ".example's disk"}}); err != nil {
			t.Fatal(err)
		}
	}

	// A live API key of each client, for the revoke row (revoking it twice is harmless).
	keyPrefix := map[string]string{}
	for _, tn := range []tenants.Tenant{alpha, beta} {
		k, _, err := e.tenants.CreateAPIKey(ctx, tn.Slug, "matrix")
		if err != nil {
			t.Fatal(err)
		}
		keyPrefix[tn.Slug] = k.Prefix
	}
	// seedChannels (re)creates each client's channel "seed", which a role before may have deleted.
	seedChannels := func(t *testing.T) {
		for _, tn := range []tenants.Tenant{alpha, beta} {
			_, err := e.notify.Create(ctx, e.tenants.Scope(tn), notify.ChannelInput{Name: "seed", Kind: "email", EmailTo: []string{"noc@" + tn.Slug + ".example"}})
			if err != nil && !errors.Is(err, notify.ErrConflict) {
				t.Fatal(err)
			}
		}
	}

	// seedSilences (re)creates each client's silence #900001, which a role
	// before may have deleted (a fixed id, so that the rows can name it).
	admin := adminPG(t)
	seedSilences := func(t *testing.T) {
		for _, tn := range []tenants.Tenant{alpha, beta} {
			if _, err := admin.Exec(ctx, `INSERT INTO `+e.tenants.Scope(tn).Schema()+`.silences (id, matchers, starts_at, ends_at, comment, created_by)
				OVERRIDING SYSTEM VALUE VALUES (900001, '[{"name":"host","op":"=","value":"matrix"}]', now(), now() + interval '1 hour', 'matrix', 'matrix')
				ON CONFLICT (id) DO NOTHING`); err != nil {
				t.Fatal(err)
			}
		}
	}

	all := []string{"owner", "admin", "tech-alpha", "tech-except-alpha"}
	ownerAdmin := []string{"owner", "admin"}
	alphaView := []string{"owner", "admin", "tech-alpha"}
	betaView := []string{"owner", "admin", "tech-except-alpha"}
	victim := "/platform/staff/" + staff["victim"].Email
	var rows []matrixRow
	for _, side := range []struct {
		tn   tenants.Tenant
		view []string
	}{{alpha, alphaView}, {beta, betaView}} {
		p := "/t/" + side.tn.Slug
		user := p + "/users/user@" + side.tn.Slug + ".example"
		rows = append(rows,
			matrixRow{"GET", "/t/:slug", p, nil, side.view},
			matrixRow{"GET", "/t/:slug/", p + "/", nil, side.view},
			matrixRow{"GET", "/t/:slug/users", p + "/users", nil, side.view},
			matrixRow{"POST", "/t/:slug/users", p + "/users", url.Values{"email": {"bad"}}, side.view},
			matrixRow{"POST", "/t/:slug/users/:email/disable", user + "/disable", nil, side.view},
			matrixRow{"POST", "/t/:slug/users/:email/enable", user + "/enable", nil, side.view},
			matrixRow{"POST", "/t/:slug/users/:email/reset-password", user + "/reset-password", nil, side.view},
			matrixRow{"GET", "/t/:slug/audit", p + "/audit", nil, side.view},
			matrixRow{"GET", "/t/:slug/alerts", p + "/alerts", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/bulk", p + "/alerts/bulk", url.Values{"action": {"acknowledge"}, "ids": {"1"}}, side.view},
			matrixRow{"GET", "/t/:slug/alerts/:id", p + "/alerts/1", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/acknowledge", p + "/alerts/1/acknowledge", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/resolve", p + "/alerts/1/resolve", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/wait", p + "/alerts/1/wait", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/resume", p + "/alerts/1/resume", nil, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/notes", p + "/alerts/1/notes", url.Values{"note": {"matrix"}}, side.view},
			matrixRow{"POST", "/t/:slug/alerts/:id/assign", p + "/alerts/1/assign", url.Values{"assignee": {"x@msp.example"}}, side.view},
			matrixRow{"GET", "/t/:slug/policy", p + "/policy", nil, side.view},
			matrixRow{"POST", "/t/:slug/policy/items", p + "/policy/items", url.Values{"kind": {"routing"}, "key": {"mx-route"}, "min_severity": {"warning"}, "channels": {"seed"}}, ownerAdmin},
			matrixRow{"POST", "/t/:slug/silences", p + "/silences", url.Values{"matchers": {"host=nothing"}, "duration": {"1m"}}, side.view},
			matrixRow{"GET", "/t/:slug/silences", p + "/silences", nil, side.view},
			matrixRow{"POST", "/t/:slug/silences/:id/expire", p + "/silences/900001/expire", nil, side.view}, // expiring again changes nothing
			matrixRow{"POST", "/t/:slug/silences/:id/delete", p + "/silences/900001/delete", nil, side.view},
			matrixRow{"GET", "/t/:slug/endpoints", p + "/endpoints", nil, side.view},
			matrixRow{"GET", "/t/:slug/channels", p + "/channels", nil, side.view},
			matrixRow{"GET", "/t/:slug/sla", p + "/sla", nil, side.view},
			matrixRow{"GET", "/t/:slug/sla/report.pdf", p + "/sla/report.pdf", nil, side.view},
			matrixRow{"GET", "/t/:slug/branding", p + "/branding", nil, side.view},
			matrixRow{"POST", "/t/:slug/branding", p + "/branding", url.Values{"primary_color": {"bad"}}, ownerAdmin},
			// Client settings: a bad time zone is refused (422), so nothing is written.
			matrixRow{"GET", "/t/:slug/settings", p + "/settings", nil, side.view},
			matrixRow{"POST", "/t/:slug/settings", p + "/settings", url.Values{"display_name": {"M"}, "timezone": {"Nowhere/Zone"}, "locale": {"en"}}, ownerAdmin},
			// Portal sign-on settings: a bad issuer is refused (422) before the issuer is asked anything.
			matrixRow{"GET", "/t/:slug/sso", p + "/sso", nil, side.view},
			matrixRow{"POST", "/t/:slug/sso", p + "/sso", url.Values{"issuer": {"not a url"}, "client_id": {"x"}}, ownerAdmin},
			matrixRow{"POST", "/t/:slug/sso/remove", p + "/sso/remove", nil, ownerAdmin},
			matrixRow{"GET", "/t/:slug/branding/assets/:file", p + "/branding/assets/" + matrixLogoFile, nil, side.view},
			matrixRow{"POST", "/t/:slug/channels", p + "/channels", url.Values{"name": {"bad name!"}, "kind": {"webhook"}}, ownerAdmin},
			// A test of the seeded e-mail channel fails at once (no SMTP relay here) and says so.
			matrixRow{"POST", "/t/:slug/channels/:name/test", p + "/channels/seed/test", nil, side.view},
			matrixRow{"POST", "/t/:slug/channels/:name/delete", p + "/channels/seed/delete", nil, ownerAdmin},
			matrixRow{"GET", "/t/:slug/endpoints/:id", p + "/endpoints/1", nil, side.view},
			matrixRow{"GET", "/t/:slug/enrollment", p + "/enrollment", nil, side.view},
			matrixRow{"POST", "/t/:slug/enrollment", p + "/enrollment", url.Values{"name": {"m"}, "ttl": {"1h"}, "max_uses": {"1"}}, side.view},
			matrixRow{"POST", "/t/:slug/enrollment/:id/revoke", p + "/enrollment/1/revoke", nil, side.view},
			matrixRow{"POST", "/t/:slug/policy/:key/override", p + "/policy/cpu-high/override", url.Values{"enabled": {"true"}}, ownerAdmin},
			matrixRow{"POST", "/t/:slug/policy/:key/clear", p + "/policy/cpu-high/clear", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/policy/:key/exclusions", p + "/policy/cpu-high/exclusions", url.Values{"hostname": {"h1"}}, ownerAdmin},
			matrixRow{"GET", "/t/:slug/apikeys", p + "/apikeys", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/apikeys", p + "/apikeys", url.Values{"name": {""}}, ownerAdmin},
			matrixRow{"POST", "/t/:slug/apikeys/:prefix/revoke", p + "/apikeys/" + keyPrefix[side.tn.Slug] + "/revoke", nil, ownerAdmin},
			// Bad hostnames: the handler answers 422 without asking DNS or writing.
			matrixRow{"GET", "/t/:slug/domains", p + "/domains", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/domains", p + "/domains", url.Values{"host": {"bad_host.example"}}, ownerAdmin},
			matrixRow{"POST", "/t/:slug/domains/:host/verify", p + "/domains/bad_host.example/verify", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/domains/:host/primary", p + "/domains/bad_host.example/primary", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/domains/:host/remove", p + "/domains/bad_host.example/remove", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/suspend", p + "/suspend", nil, ownerAdmin},
			matrixRow{"POST", "/t/:slug/resume", p + "/resume", nil, ownerAdmin},
			matrixRow{"GET", "/t/:slug/attest", p + "/attest", nil, []string{"owner"}},
		)
	}
	rows = append(rows,
		matrixRow{"GET", "/", "/", nil, all},
		matrixRow{"GET", "/switcher", "/switcher?q=matrix", nil, all},
		matrixRow{"GET", "/clients/new", "/clients/new", nil, ownerAdmin},
		matrixRow{"POST", "/clients", "/clients", url.Values{"slug": {"X"}}, ownerAdmin},
		matrixRow{"GET", "/platform/staff", "/platform/staff", nil, ownerAdmin},
		matrixRow{"POST", "/platform/staff", "/platform/staff", url.Values{"email": {"bad"}, "role": {"technician"}}, ownerAdmin},
		matrixRow{"POST", "/platform/staff/:email/grant", victim + "/grant", url.Values{"role": {"technician"}, "scope": {"all"}}, ownerAdmin},
		matrixRow{"POST", "/platform/staff/:email/disable", victim + "/disable", nil, ownerAdmin},
		matrixRow{"POST", "/platform/staff/:email/enable", victim + "/enable", nil, ownerAdmin},
		matrixRow{"POST", "/platform/staff/:email/reset-password", victim + "/reset-password", nil, ownerAdmin},
		matrixRow{"POST", "/platform/staff/:email/revoke-sessions", victim + "/revoke-sessions", nil, ownerAdmin},
		matrixRow{"GET", "/platform/audit", "/platform/audit", nil, ownerAdmin},
		matrixRow{"GET", "/platform/policies", "/platform/policies", nil, ownerAdmin},
		// MSP-wide webhooks (seedWebhook): a bad URL is refused (400), so nothing is written.
		matrixRow{"GET", "/platform/webhooks", "/platform/webhooks", nil, ownerAdmin},
		matrixRow{"POST", "/platform/webhooks", "/platform/webhooks", url.Values{"url": {"ftp://bad"}, "events": {"alert.created"}}, ownerAdmin},
		matrixRow{"POST", "/platform/webhooks/deliveries/:id/redeliver", "/platform/webhooks/deliveries/900001/redeliver", nil, ownerAdmin},
		matrixRow{"POST", "/platform/webhooks/:id/delete", "/platform/webhooks/900001/delete", nil, ownerAdmin},
		matrixRow{"POST", "/platform/policies/:key", "/platform/policies/cpu-high", url.Values{"enabled": {"true"}, "locked": {"false"}}, ownerAdmin},
		// One's own second factors (mfa_test.go): bad input answers 400 or 409, not a refusal.
		matrixRow{"GET", "/account/security", "/account/security", nil, all},
		matrixRow{"POST", "/account/security/time-zone", "/account/security/time-zone", url.Values{"time_zone": {"UTC"}}, all},
		matrixRow{"POST", "/account/security/totp", "/account/security/totp", nil, all},
		matrixRow{"POST", "/account/security/totp/remove", "/account/security/totp/remove", nil, all},
		matrixRow{"POST", "/account/security/recovery-codes", "/account/security/recovery-codes", nil, all},
		matrixRow{"POST", "/account/security/passkeys/begin", "/account/security/passkeys/begin", nil, all},
		matrixRow{"POST", "/account/security/passkeys", "/account/security/passkeys", nil, all},
		matrixRow{"POST", "/account/security/passkeys/:id/remove", "/account/security/passkeys/x/remove", nil, all},
		matrixRow{"GET", "/account/tokens", "/account/tokens", nil, all},
		matrixRow{"POST", "/account/tokens", "/account/tokens", url.Values{"name": {"matrix"}}, all}, // no scope: refused on the page (422)
		// Token #900001 is the signed-in role's own (seedToken): a missing one is a 404 like a refusal.
		matrixRow{"POST", "/account/tokens/:id/revoke", "/account/tokens/900001/revoke", nil, all},
		matrixRow{"POST", "/logout", "/logout", nil, all}, // last: it ends the session
	)
	// Agents authenticate with their enrollment token or endpoint credential (tested in modules/agents and app/agent_test.go).
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /static/*": true, "GET /login": true, "POST /login": true,
		"GET /login/sso": true, "GET /login/sso/callback": true, // staff single sign-on (app/sso_test.go)
		// The second step of sign-in, before the session is signed in (mfa_test.go).
		"GET /login/mfa": true, "POST /login/mfa": true, "POST /login/mfa/passkey/begin": true, "POST /login/mfa/passkey": true, "POST /login/mfa/cancel": true,
		"POST /api/v1/agent/enroll": true, "POST /api/v1/agent/checkin": true,
		"GET /metrics": true} // its own bearer token, not a session (app/metrics_test.go)
	// API routes answer to tenant API keys only, never to sessions.
	api := map[string]string{ // route → a representative body
		"GET /api/v1/tenant":               "",
		"POST /api/v1/alerts":              `{"source":"matrix","rule":"r1","severity":"info"}`,
		"POST /api/v1/alerts/alertmanager": `{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"m"}}]}`,
	}

	// Every registered console route has a row (or is public, tested below).
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method+" "+r.route] = true
	}
	for _, rt := range srv.console.Routes() {
		key := rt.Method + " " + rt.Path
		if _, isAPI := api[key]; rt.Method != "echo_route_not_found" && !covered[key] && !public[key] && !isAPI {
			t.Errorf("route %s has no row in the authorization matrix", key)
		}
	}

	// seedWebhook (re)creates MSP-wide webhook #900001 with its delivery
	// #900001, which a role before may have deleted.
	seedWebhook := func(t *testing.T) {
		if _, err := admin.Exec(ctx, `INSERT INTO control.webhooks (id, url, secret, events) OVERRIDING SYSTEM VALUE
			VALUES (900001, 'https://psa.matrix.example/hook', 'whsec_matrix_0123456789', '["alert.created"]') ON CONFLICT (id) DO NOTHING;
			INSERT INTO control.webhook_deliveries (id, webhook_id, delivery, event, payload, status) OVERRIDING SYSTEM VALUE
			VALUES (900001, 900001, 'w900001-matrix', 'alert.created', '{}', 'failed') ON CONFLICT (id) DO NOTHING`); err != nil {
			t.Fatal(err)
		}
	}
	// seedToken gives role's user API token #900001 (live), taking it from
	// whoever held it before.
	seedToken := func(t *testing.T, role string) {
		in, ok := staff[role]
		if !ok {
			return
		}
		if _, err := admin.Exec(ctx, `DELETE FROM control.staff_api_tokens WHERE id = 900001`); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.Exec(ctx, `INSERT INTO control.staff_api_tokens (id, user_id, name, prefix, token_hash, scopes, expires_at) OVERRIDING SYSTEM VALUE
			SELECT 900001, id, 'matrix', 'sbt_matrix', sha256('matrix'::bytea), '["alerts:read"]', now() + interval '1 day'
			FROM control.staff_users WHERE email = $1`, in.Email); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_, _ = admin.Exec(context.Background(), `DELETE FROM control.staff_api_tokens WHERE id = 900001`)
	})
	// Webhook #900001 hears every client's new alerts: it must not outlive
	// this test, or every later test's alert queues a delivery to it.
	t.Cleanup(func() { _, _ = admin.Exec(context.Background(), `DELETE FROM control.webhooks WHERE id = 900001`) })
	for _, role := range append(all, "anonymous") {
		t.Run(role, func(t *testing.T) {
			seedChannels(t)
			seedSilences(t)
			seedWebhook(t)
			seedToken(t, role)
			for _, tn := range []tenants.Tenant{alpha, beta} { // a role before may have removed it
				seedPortalSSO(t, e.tenants.Scope(tn), "https://idp."+tn.Slug+".example", "matrix")
			}
			b := newClient(t, ts.URL)
			if role != "anonymous" {
				if status := b.login(staff[role].Email, pw); status != http.StatusSeeOther {
					t.Fatalf("login as %s: status %d", role, status)
				}
			}
			for _, r := range rows {
				status, body, hdr := b.do(r.method, r.path, r.form)
				allowed := slices.Contains(r.allowed, role)
				switch {
				case role == "anonymous" && r.method == http.MethodGet:
					if status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login?next=") {
						t.Errorf("anonymous %s %s: status %d (Location %q), want a redirect to /login", r.method, r.path, status, hdr.Get("Location"))
					}
				case role == "anonymous":
					if status != http.StatusUnauthorized {
						t.Errorf("anonymous %s %s: status %d, want 401", r.method, r.path, status)
					}
				case allowed && (status == 401 || status == 403 || status == 404 || strings.HasPrefix(hdr.Get("Location"), "/login?next=")):
					t.Errorf("%s %s %s: refused with %d, want allowed", role, r.method, r.path, status)
				case !allowed && strings.HasPrefix(r.route, "/t/") && status != http.StatusNotFound:
					t.Errorf("%s %s %s: status %d, want 404 (a client the user may not see does not exist for them)", role, r.method, r.path, status)
				case !allowed && !strings.HasPrefix(r.route, "/t/") && status != http.StatusForbidden:
					t.Errorf("%s %s %s: status %d, want 403", role, r.method, r.path, status)
				}
				if !allowed && (strings.Contains(body, "user@mx-") || (strings.Contains(r.path, "mx-beta") && strings.Contains(body, "Matrix Beta"))) {
					t.Errorf("%s %s %s: a refused page leaks client data", role, r.method, r.path)
				}
			}
		})
	}

	t.Run("console pages are not cached", func(t *testing.T) {
		b := newClient(t, ts.URL)
		b.login(staff["owner"].Email, pw)
		if _, _, hdr := b.do("GET", "/t/"+alpha.Slug+"/users", nil); hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q, want no-store (Back after sign-out must not show client data)", hdr.Get("Cache-Control"))
		}
	})

	t.Run("anonymous visitors cannot probe which clients exist", func(t *testing.T) {
		b := newClient(t, ts.URL)
		known, _, knownHdr := b.do("GET", "/t/"+alpha.Slug+"/users", nil)
		unknown, _, unknownHdr := b.do("GET", "/t/no-such-client/users", nil)
		if known != unknown || known != http.StatusSeeOther || !strings.HasPrefix(unknownHdr.Get("Location"), "/login?next=") ||
			strings.Replace(knownHdr.Get("Location"), alpha.Slug, "X", 1) != strings.Replace(unknownHdr.Get("Location"), "no-such-client", "X", 1) {
			t.Fatalf("known slug: %d %q; unknown slug: %d %q", known, knownHdr.Get("Location"), unknown, unknownHdr.Get("Location"))
		}
		signedIn := newClient(t, ts.URL)
		signedIn.login(staff["owner"].Email, pw)
		if status, _, _ := signedIn.do("GET", "/t/no-such-client/users", nil); status != http.StatusNotFound {
			t.Fatalf("signed in, unknown client: %d, want 404", status)
		}
	})

	t.Run("API routes answer to keys, not sessions", func(t *testing.T) {
		_, key, err := e.tenants.CreateAPIKey(ctx, alpha.Slug, "matrix")
		if err != nil {
			t.Fatal(err)
		}
		owner := newClient(t, ts.URL)
		owner.login(staff["owner"].Email, pw)
		for route, body := range api {
			method, path, _ := strings.Cut(route, " ")
			for _, tc := range []struct {
				name   string
				c      *http.Client
				key    string
				denied bool
			}{{"no key", http.DefaultClient, "", true}, {"owner session", owner.c, "", true}, {"bad key", http.DefaultClient, "sbk_nope", true}, {"key", http.DefaultClient, key, false}} {
				req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if tc.key != "" {
					req.Header.Set("Authorization", "Bearer "+tc.key)
				}
				resp, err := tc.c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if tc.denied != (resp.StatusCode == http.StatusUnauthorized) || resp.StatusCode >= 500 {
					t.Errorf("%s with %s: status %d", route, tc.name, resp.StatusCode)
				}
			}
		}
	})

	t.Run("client users cannot sign in to the console", func(t *testing.T) {
		b := newClient(t, ts.URL)
		if status := b.login("user@"+alpha.Slug+".example", pw); status != http.StatusUnauthorized {
			t.Fatalf("client user console login: status %d, want 401", status)
		}
		if status, _, hdr := b.do("GET", "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
			t.Fatalf("after a refused login the console is closed: %d", status)
		}
	})

	t.Run("post without CSRF token is refused", func(t *testing.T) {
		b := newClient(t, ts.URL)
		b.login(staff["owner"].Email, pw)
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/t/"+alpha.Slug+"/suspend", nil)
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("POST without token: %d, want 403", resp.StatusCode)
		}
		if got, _ := e.tenants.Get(ctx, alpha.Slug); got.Status != "active" {
			t.Fatalf("a refused POST changed state: %s", got.Status)
		}
	})
}

// TestLoginRefusals: a wrong password and an unknown e-mail get the same
// answer, and repeated failures for one account get 429 with Retry-After,
// even when the right password finally arrives.
func TestLoginRefusals(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	const pw = "throttle-password-1"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "throttle@msp.example", Role: "technician", Password: pw}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	wrongStatus, wrongBody, _ := b.do(http.MethodPost, "/login", url.Values{"email": {"throttle@msp.example"}, "password": {"nope"}})
	unknownStatus, unknownBody, _ := b.do(http.MethodPost, "/login", url.Values{"email": {"nobody@msp.example"}, "password": {"nope"}})
	strip := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "throttle@msp.example", "E"), "nobody@msp.example", "E")
	}
	if wrongStatus != http.StatusUnauthorized || unknownStatus != wrongStatus || strip(wrongBody) != strip(unknownBody) {
		t.Fatalf("wrong password (%d) and unknown e-mail (%d) must be indistinguishable", wrongStatus, unknownStatus)
	}
	for i := 0; i < 4; i++ {
		b.do(http.MethodPost, "/login", url.Values{"email": {"throttle@msp.example"}, "password": {"nope"}})
	}
	status, body, hdr := b.do(http.MethodPost, "/login", url.Values{"email": {"throttle@msp.example"}, "password": {pw}})
	if status != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(body, "Too many failed sign-ins") {
		t.Fatalf("after 5 failures: status %d, Retry-After %q", status, hdr.Get("Retry-After"))
	}
	if status, _, _ := newClient(t, ts.URL).do(http.MethodPost, "/login", url.Values{"email": {"throttle@msp.example"}, "password": {pw}}); status != http.StatusTooManyRequests {
		t.Fatalf("the block is per account, not per browser: status %d", status)
	}
}
