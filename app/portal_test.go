package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
	"gorm.io/gorm"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/certcache"
	"switchboard/platform/tenancy"
)

// newHostClient is a browser that asks for host but connects to the test
// server, so cookies are scoped to host exactly as a real browser scopes them.
func newHostClient(t *testing.T, serverURL, host string) *client {
	u, _ := url.Parse(serverURL)
	addr := u.Host
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return testDialer(t).DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, base: "http://" + host + ":" + u.Port(), c: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// portalTenant is a client with a verified portal host, an admin, a user
// and one alert with an internal and a shared note.
type portalTenant struct {
	tenant         tenancy.Tenant
	host           string
	admin, user    string
	alertID        int64
	internal, open string // note texts
}

const portalPassword = "portal-password-1"

func seedPortalTenant(t *testing.T, e *env, prefix string) portalTenant {
	t.Helper()
	ctx := context.Background()
	slug := prefix + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	p := portalTenant{host: "portal." + slug + ".test", admin: "admin@" + slug + ".example", user: "user@" + slug + ".example",
		internal: "internal: " + slug + " tech thinks the PSU is dying", open: "We replace the power supply tonight (" + slug + ")."}
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Client " + slug, Domain: p.host, TrustDomain: true})
	if err != nil {
		t.Fatal(err)
	}
	p.tenant = e.tenants.Scope(tn)
	for email, role := range map[string]string{p.admin: identity.RoleClientAdmin, p.user: identity.RoleClientUser} {
		if _, _, err := e.identity.CreateClientUser(ctx, p.tenant, identity.ClientInput{Email: email, Role: role, Password: portalPassword}); err != nil {
			t.Fatal(err)
		}
	}
	// One endpoint that has checked in.
	token, _, err := e.agents.CreateToken(ctx, p.tenant, "seed", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := e.agents.Enroll(ctx, token, "srv-"+slug, "linux")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.agents.CheckIn(ctx, enr.Credential, agents.Report{Hostname: "srv-" + slug, OS: "linux", UptimeSeconds: 3600,
		CPUPercent: 12, MemoryPercent: 41, Disks: []agents.Disk{{Mount: "/", UsedPercent: 63}}}); err != nil {
		t.Fatal(err)
	}
	out, err := e.alerts.Ingest(ctx, p.tenant, []alerts.Signal{{Source: "test", Rule: "psu", Severity: "critical", Summary: "Power supply failing on srv-" + slug, Endpoint: "srv-" + slug}})
	if err != nil {
		t.Fatal(err)
	}
	p.alertID = out[0].AlertID
	for text, shared := range map[string]bool{p.internal: false, p.open: true} {
		if err := e.alerts.AddNote(ctx, p.tenant, p.alertID, text, shared); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// TestPortal walks the client portal as its users, another client's users,
// staff and strangers would.
func TestPortal(t *testing.T) {
	e, _, ts := testServer(t)
	a := seedPortalTenant(t, e, "pa")
	b := seedPortalTenant(t, e, "pb")
	staffEmail := "staff-" + a.tenant.Slug + "@msp.example"
	if _, _, err := e.identity.CreateStaff(context.Background(), identity.StaffInput{Email: staffEmail, Role: "owner", Scope: "all", Password: portalPassword}); err != nil {
		t.Fatal(err)
	}

	anon := newHostClient(t, ts.URL, a.host)
	if status, _, h := anon.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Fatalf("anonymous / = %d to %q; want the login page", status, h.Get("Location"))
	}
	first, err := newHostClient(t, ts.URL, a.host).c.Get("http://" + a.host + ":" + mustURL(ts.URL).Port() + "/login")
	if err != nil {
		t.Fatal(err)
	}
	first.Body.Close()
	if len(first.Cookies()) == 0 {
		t.Error("the first portal page sets no cookie (CSRF)")
	}
	for name, want := range map[string]string{"X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'",
		"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
		if got := first.Header.Get(name); got != want {
			t.Errorf("the portal's %s is %q, want %q", name, got, want)
		}
	}
	for name, values := range first.Header { // cookies and headers say nothing about the platform either
		if v := strings.ToLower(name + ": " + strings.Join(values, ", ")); strings.Contains(v, "switchboard") || strings.Contains(v, "sb_") {
			t.Errorf("the portal's header reveals the platform: %s", v)
		}
	}
	status, body, _ := anon.do(http.MethodGet, "/login", nil)
	if status != http.StatusOK || !strings.Contains(body, a.tenant.Name) || strings.Contains(body, "Switchboard") || strings.Contains(body, b.tenant.Name) {
		t.Fatalf("login page = %d, want %q's name and no other name:\n%s", status, a.tenant.Name, body)
	}

	// Who may sign in here: only this client's own users.
	for _, tc := range []struct {
		name, email string
		want        int
	}{
		{"staff account", staffEmail, http.StatusUnauthorized},
		{"other client's user", b.user, http.StatusUnauthorized},
		{"wrong password", a.user, http.StatusUnauthorized},
		{"own user", a.user, http.StatusSeeOther},
	} {
		c := newHostClient(t, ts.URL, a.host)
		pw := portalPassword
		if tc.name == "wrong password" {
			pw = "not-the-password"
		}
		if got := c.login(tc.email, pw); got != tc.want {
			t.Errorf("%s: login = %d, want %d", tc.name, got, tc.want)
		}
	}

	user := newHostClient(t, ts.URL, a.host)
	if got := user.login(a.user, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("login = %d", got)
	}
	admin := newHostClient(t, ts.URL, a.host)
	if got := admin.login(a.admin, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("admin login = %d", got)
	}
	alertPath := "/alerts/" + itoa(a.alertID)
	for _, tc := range []struct {
		who         *client
		method, url string
		form        url.Values
		want        int
		has, hasNot []string
	}{
		{user, "GET", "/", nil, 200, []string{a.tenant.Name, "Power supply failing on srv-" + a.tenant.Slug, "Open alerts", "Service levels"}, []string{b.tenant.Name, "Switchboard", "/t/"}},
		{user, "GET", "/alerts", nil, 200, []string{"srv-" + a.tenant.Slug}, []string{b.tenant.Slug}},
		{user, "GET", "/alerts?status=bogus", nil, 400, []string{"status must be open or resolved"}, nil},
		{user, "GET", alertPath, nil, 200, []string{a.open, "Note from Support", "Opened"}, []string{a.internal, "staff-", "@msp.example"}},
		{user, "GET", "/alerts/999999", nil, 404, nil, []string{a.tenant.Name}},
		{user, "GET", "/alerts/abc", nil, 404, nil, nil},
		{user, "GET", "/endpoints", nil, 200, []string{"srv-" + a.tenant.Slug, "online", "63%"}, []string{"srv-" + b.tenant.Slug}},
		{user, "GET", "/sla", nil, 200, []string{"Service levels ·"}, nil},
		{user, "GET", "/sla?format=csv", nil, 200, []string{"alert_id,opened_at", itoa(a.alertID)}, nil},
		{user, "GET", "/sla?month=2026-13", nil, 400, []string{"month must look like"}, nil},
		{user, "GET", "/sla?format=xml", nil, 400, []string{"format must be csv"}, nil},
		{user, "POST", "/alerts/abc/notes", url.Values{"note": {"hello"}}, 404, nil, nil},
		{user, "POST", "/alerts/999999/notes", url.Values{"note": {"hello"}}, 404, nil, []string{a.tenant.Name}},
		{user, "GET", "/users", nil, 404, nil, nil},
		{user, "POST", "/users", url.Values{"email": {"x@" + a.tenant.Slug + ".example"}, "role": {"client_user"}}, 404, nil, nil},
		{admin, "GET", "/users", nil, 200, []string{a.user, a.admin}, []string{b.user}},
		{admin, "POST", "/users", url.Values{"email": {"not-an-email"}, "role": {"client_user"}}, 400, []string{"email"}, nil},
		{admin, "POST", "/users", url.Values{"email": {"new@" + a.tenant.Slug + ".example"}, "role": {"client_user"}}, 201, []string{"shown once"}, nil},
		{admin, "POST", "/users", url.Values{"email": {"new@" + a.tenant.Slug + ".example"}, "role": {"client_user"}}, 409, []string{"already"}, nil},
		{admin, "POST", "/users/" + a.admin + "/disable", nil, 400, []string{"cannot disable your own account"}, nil},
		{admin, "POST", "/users/nobody@x.example/disable", nil, 404, nil, nil},
		// Console pages do not exist on a client's host.
		{admin, "GET", "/t/" + a.tenant.Slug + "/alerts", nil, 404, nil, []string{a.tenant.Name}},
		{admin, "GET", "/platform/staff", nil, 404, nil, nil},
	} {
		status, body, _ := tc.who.do(tc.method, tc.url, tc.form)
		if status != tc.want {
			t.Errorf("%s %s = %d, want %d\n%.400s", tc.method, tc.url, status, tc.want, body)
			continue
		}
		for _, s := range tc.has {
			if !strings.Contains(body, s) {
				t.Errorf("%s %s: body lacks %q", tc.method, tc.url, s)
			}
		}
		for _, s := range tc.hasNot {
			if strings.Contains(body, s) {
				t.Errorf("%s %s: body reveals %q", tc.method, tc.url, s)
			}
		}
	}
	// The refused create wrote nothing; the good one wrote one user.
	users, err := e.identity.ListClientUsers(context.Background(), a.tenant)
	if err != nil || len(users) != 3 {
		t.Errorf("users of %s = %d (%v), want 3", a.tenant.Slug, len(users), err)
	}

	// A session made on A's host means nothing on B's host.
	var sess *http.Cookie
	for _, c := range user.c.Jar.Cookies(mustURL(user.base)) {
		if c.Name == "portal_session" {
			sess = c
		}
	}
	if sess == nil {
		t.Fatal("no portal_session cookie after login")
	}
	thief := newHostClient(t, ts.URL, b.host)
	thief.c.Jar.SetCookies(mustURL(thief.base), []*http.Cookie{{Name: sess.Name, Value: sess.Value}})
	if status, _, h := thief.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("A's session on B's host: / = %d to %q; want the login page", status, h.Get("Location"))
	}
	if status, body, _ := thief.do(http.MethodGet, alertPath, nil); status == http.StatusOK || strings.Contains(body, a.open) {
		t.Errorf("A's session on B's host read A's alert: %d", status)
	}

	// Unknown and unverified hosts: a plain 404 with nobody's brand.
	if _, err := e.tenants.AddDomain(context.Background(), a.tenant.Slug, "unverified."+a.tenant.Slug+".test"); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"unknown.example.test", "unverified." + a.tenant.Slug + ".test"} {
		c := newHostClient(t, ts.URL, host)
		for _, path := range []string{"/", "/login", "/static/app.css"} {
			status, body := c.get(path)
			if status != http.StatusNotFound || strings.Contains(body, a.tenant.Name) || strings.Contains(body, "Switchboard") || strings.Contains(body, "--brand") {
				t.Errorf("%s%s = %d, want a brand-free 404:\n%.300s", host, path, status, body)
			}
		}
	}

	// Disabling a signed-in user ends their session at once.
	victim := newHostClient(t, ts.URL, a.host)
	if got := victim.login(a.admin, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("admin login = %d", got)
	}
	if _, err := e.identity.SetClientDisabled(context.Background(), a.tenant, a.admin, true); err != nil {
		t.Fatal(err)
	}
	if status, _, h := victim.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/login") {
		t.Errorf("a disabled user's session still works: / = %d to %q", status, h.Get("Location"))
	}
	if got := newHostClient(t, ts.URL, a.host).login(a.admin, portalPassword); got != http.StatusUnauthorized {
		t.Errorf("a disabled user signs in: %d", got)
	}

	// Signing out ends the session server-side.
	if status, _, _ := user.do(http.MethodPost, "/logout", nil); status != http.StatusSeeOther {
		t.Errorf("logout = %d", status)
	}
	if status, _, _ := user.do(http.MethodGet, "/", nil); status != http.StatusSeeOther {
		t.Errorf("/ after logout = %d, want a redirect to login", status)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestPortalRouteMatrix: every route of the portal has a row saying who may
// use it; anonymous visitors are sent to sign in, users are refused the
// admins' pages with the same 404 as a page that does not exist.
func TestPortalRouteMatrix(t *testing.T) {
	e, srv, ts := testServerSSO(t)
	p := seedPortalTenant(t, e, "pm")
	portalSSOFixture(t, p.tenant) // the client signs in with its own provider too
	const anon, user, admin = "anonymous", "user", "admin"
	everyone, signedIn, admins := []string{anon, user, admin}, []string{user, admin}, []string{admin}
	type row struct {
		method, route, path string
		form                url.Values
		who                 []string
	}
	rows := []row{
		{"GET", "/healthz", "/healthz", nil, everyone},
		{"GET", "/readyz", "/readyz", nil, everyone},
		{"GET", "/static/*", "/static/portal.css", nil, everyone},
		{"GET", "/brand/:file", "/brand/" + strings.Repeat("0", 64) + ".png", nil, nil}, // public, but no such asset: 404 for all
		{"GET", "/login", "/login", nil, everyone},
		{"POST", "/login", "/login", url.Values{"email": {p.user}, "password": {portalPassword}}, everyone},
		{"POST", "/logout", "/logout", nil, signedIn},
		{"GET", "/", "/", nil, signedIn},
		{"GET", "/alerts", "/alerts", nil, signedIn},
		{"GET", "/alerts/:id", "/alerts/" + itoa(p.alertID), nil, signedIn},
		{"POST", "/alerts/:id/notes", "/alerts/" + itoa(p.alertID) + "/notes", url.Values{"note": {"from the matrix"}}, signedIn},
		{"GET", "/endpoints", "/endpoints", nil, signedIn},
		{"GET", "/sla", "/sla", nil, signedIn},
		{"GET", "/sla/report.pdf", "/sla/report.pdf", nil, signedIn},
		{"GET", "/users", "/users", nil, admins},
		{"POST", "/users", "/users", url.Values{"email": {"bad"}}, admins},
		{"POST", "/users/:email/disable", "/users/" + p.user + "/enable", nil, admins},
		{"POST", "/users/:email/enable", "/users/" + p.user + "/enable", nil, admins},
		{"POST", "/users/:email/reset-password", "/users/" + p.user + "/reset-password", nil, admins},
		// Single sign-on: anyone may start one (303 to the provider) or come back (400: no sign-in under way here).
		{"GET", "/login/sso", "/login/sso", nil, everyone},
		{"GET", "/login/sso/callback", "/login/sso/callback?state=x&code=y", nil, everyone},
		{"GET", "/sso", "/sso", nil, admins},
		{"POST", "/sso", "/sso", url.Values{"issuer": {"not a url"}, "client_id": {"x"}}, admins},
		{"POST", "/sso/remove", "/sso/remove", nil, admins}, // last: it removes the configuration
	}
	covered := map[string]bool{}
	for _, r := range rows {
		covered[r.method+" "+r.route] = true
	}
	for _, r := range srv.portal.Routes() {
		if !covered[r.Method+" "+r.Path] && r.Method != "echo_route_not_found" {
			t.Errorf("portal route %s %s has no row in TestPortalRouteMatrix", r.Method, r.Path)
		}
	}
	for _, r := range rows {
		for _, who := range everyone {
			c := newHostClient(t, ts.URL, p.host)
			switch who {
			case user:
				c.login(p.user, portalPassword)
			case admin:
				c.login(p.admin, portalPassword)
			}
			status, _, h := c.do(r.method, r.path, r.form)
			allowed := slices.Contains(r.who, who)
			refused := status == http.StatusNotFound || status == http.StatusUnauthorized || (status == http.StatusSeeOther && strings.HasPrefix(h.Get("Location"), "/login?"))
			if allowed == refused {
				t.Errorf("%s %s as %s = %d (to %q); allowed: %v", r.method, r.path, who, status, h.Get("Location"), allowed)
			}
		}
	}
}

// TestRemovedDomainForgetsItsCertificate: removing a domain (or its client)
// also drops its stored certificates, so no replica serves or renews them
// afterwards.
func TestRemovedDomainForgetsItsCertificate(t *testing.T) {
	e, _, _ := testServer(t)
	p := seedPortalTenant(t, e, "pr")
	ctx := context.Background()
	cache := certcache.New(e.cluster.ControlDB())
	for _, k := range []string{p.host, p.host + "+rsa"} {
		if err := cache.Put(ctx, k, []byte("cert")); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.tenants.RemoveDomain(ctx, p.tenant.Slug, p.host); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{p.host, p.host + "+rsa"} {
		if _, err := cache.Get(ctx, k); !errors.Is(err, autocert.ErrCacheMiss) {
			t.Errorf("%s is still cached after its domain was removed (%v)", k, err)
		}
	}

	// Deleting a client forgets the certificates of all its domains.
	other := "other." + p.host
	if _, err := e.tenants.TrustDomain(ctx, p.tenant.Slug, other); err != nil {
		t.Fatal(err)
	}
	if err := cache.Put(ctx, other, []byte("cert")); err != nil {
		t.Fatal(err)
	}
	if err := e.tenants.Delete(ctx, p.tenant.Slug, p.tenant.Slug); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, other); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Errorf("%s is still cached after its client was deleted (%v)", other, err)
	}
}

// TestPortalLoginSweepsExpiredSessions: expired portal sessions of a client
// are deleted when one of its users signs in; live ones stay.
func TestPortalLoginSweepsExpiredSessions(t *testing.T) {
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "ps")
	ctx := context.Background()
	err := tenancy.Do(ctx, p.tenant, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO sessions (token_hash, subject, data, expiry) VALUES ('old', '', '', now() - interval '1 hour'), ('live', '', '', now() + interval '1 hour')`).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := newHostClient(t, ts.URL, p.host).login(p.user, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("login = %d", got)
	}
	var left []string
	err = tenancy.Do(ctx, p.tenant, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT token_hash FROM sessions WHERE token_hash IN ('old', 'live')`).Scan(&left).Error
	})
	if err != nil || !slices.Equal(left, []string{"live"}) {
		t.Errorf("sessions left = %v (%v), want only the live one", left, err)
	}
}

// TestPortalReplyResumesWaitingAlert: Support asks the client something (the
// alert waits and its SLA clocks pause); the client's answer in the portal is
// recorded, shown to both sides, and resumes the alert.
func TestPortalReplyResumesWaitingAlert(t *testing.T) {
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "pw")
	ctx := context.Background()
	if n, err := e.alerts.Transition(ctx, p.tenant, []int64{p.alertID}, "wait"); err != nil || n != 1 {
		t.Fatalf("wait = %d, %v", n, err)
	}
	user := newHostClient(t, ts.URL, p.host)
	user.login(p.user, portalPassword)
	path := "/alerts/" + itoa(p.alertID)
	if _, body, _ := user.do(http.MethodGet, path, nil); !strings.Contains(body, "Support is waiting for your answer") || !strings.Contains(body, "Send answer") {
		t.Fatalf("the waiting alert does not ask for an answer:\n%.600s", body)
	}
	for _, tc := range []struct {
		note  string
		want  int
		flash string
	}{
		{"", http.StatusBadRequest, ""},
		{strings.Repeat("x", 8001), http.StatusBadRequest, ""},
		{"The server room key is with reception.", http.StatusSeeOther, "your answer was sent"},
		{"Also: the UPS was replaced last week.", http.StatusSeeOther, "Your note was sent"},
	} {
		status, body, h := user.do(http.MethodPost, path+"/notes", url.Values{"note": {tc.note}})
		if status != tc.want {
			t.Errorf("note %.20q = %d to %q, want %d (%s)\n%.300s", tc.note, status, h.Get("Location"), tc.want, tc.flash, body)
		}
		if tc.flash != "" { // the notice comes from the session, on the page the answer leads to
			if _, page := user.get(h.Get("Location")); !strings.Contains(page, tc.flash) {
				t.Errorf("note %.20q: the next page does not say %q", tc.note, tc.flash)
			}
		}
	}
	_, events, err := e.alerts.Get(ctx, p.tenant, p.alertID)
	if err != nil {
		t.Fatal(err)
	}
	if alerts.Waiting(events) {
		t.Error("the alert still waits on the client after the answer")
	}
	var notes, resumes int
	for _, ev := range events {
		switch ev.Kind {
		case "client_note":
			notes++
			if ev.Actor != p.user || !ev.ClientVisible {
				t.Errorf("client note %+v: want actor %s, visible", ev, p.user)
			}
		case "resumed":
			resumes++
		}
	}
	if notes != 2 || resumes != 1 {
		t.Errorf("%d client notes and %d resumes recorded, want 2 and 1 (refused notes write nothing)", notes, resumes)
	}
	_, body, _ := user.do(http.MethodGet, path, nil)
	for _, want := range []string{"Note from " + p.user, "The server room key is with reception.", "Work resumed"} {
		if !strings.Contains(body, want) {
			t.Errorf("the portal's alert page lacks %q", want)
		}
	}
}
