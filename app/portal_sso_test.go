package main

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"switchboard/config"
	"switchboard/modules/identity"
	"switchboard/platform/oidctest"
	"switchboard/platform/tenancy"
)

// TestPortalSSO: two clients, each with its own identity provider. A
// client admin sets up theirs on the portal; its users sign in with it and
// get a host-only session in their client's own schema; nothing one
// client's provider issues, and no sign-in started on one portal, opens
// the other's; and every refusal of ssoRefusals holds on a portal too.
func TestPortalSSO(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	ctx := context.Background()
	idpA, idpB := oidctest.New(t), oidctest.New(t)
	clock := &ssoClock{}
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	e, _, ts := testServerClock(t, func(cfg *config.Config) {
		cfg.SSO.AllowInsecureIssuers = true // the providers listen on loopback, over http
		cfg.SSO.SecretKey = key
	}, clock.now)
	port := mustURL(ts.URL).Port()
	a, b := seedPortalTenant(t, e, "sa"), seedPortalTenant(t, e, "sb")
	baseA, baseB := "http://"+a.host+":"+port, "http://"+b.host+":"+port
	idpA.AddClient(oidctest.Client{ID: "acme-portal", Secret: "acme-secret-1", RedirectURIs: []string{baseA + "/login/sso/callback"}})
	idpB.AddClient(oidctest.Client{ID: "borealis-portal", Secret: "borealis-secret-1", RedirectURIs: []string{baseB + "/login/sso/callback"}})
	userA := oidctest.User{Email: a.user, EmailVerified: true, Password: "idp-a-pass", Name: "Ada User"}
	userB := oidctest.User{Email: b.user, EmailVerified: true, Password: "idp-b-pass"}
	idpA.AddUser(userA)
	idpB.AddUser(userB)
	// A's user also has an account at B's provider, with the same address.
	idpB.AddUser(oidctest.User{Subject: "b-side-" + a.user, Email: a.user, EmailVerified: true, Password: "idp-b-other"})
	if _, err := e.identity.SavePortalSSO(ctx, b.tenant, identity.PortalSSOInput{Issuer: idpB.Issuer, ClientID: "borealis-portal",
		ClientSecret: "borealis-secret-1", Label: "Borealis ID"}); err != nil {
		t.Fatal(err)
	}
	browser := brNewBrowser(t, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))

	ok := t.Run("a client admin sets up the client's provider on the portal", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		brLogin(t, tab, baseA, a.admin, portalPassword)
		brOpen(t, tab, baseA, "/sso")
		brMustContain(t, brPageHTML(t, tab), baseA+"/login/sso/callback", "Stored encrypted.")
		brDo(t, tab, chromedp.SendKeys(chromedp.CSS(`#sso-form input[name=issuer]`), idpA.Issuer),
			chromedp.SendKeys(chromedp.CSS(`#sso-form input[name=client_id]`), "acme-portal"),
			chromedp.SendKeys(chromedp.CSS(`#sso-form input[name=client_secret]`), "acme-secret-1"),
			chromedp.SendKeys(chromedp.CSS(`#sso-form input[name=label]`), "Acme ID"),
			chromedp.Click(chromedp.CSS(`#sso-form button[type=submit]`)))
		brDo(t, tab, chromedp.WaitVisible(chromedp.ID("sso-remove"))) // the page after saving
		brWaitPath(t, tab, "/sso")
		html := brPageHTML(t, tab)
		brMustContain(t, html, "Single sign-on saved.", "Sign in with Acme ID")
		brMustNotContain(t, html, "acme-secret-1", "Switchboard")
		brScreenshot(t, tab, "sso-portal-settings.png")
		var stored string
		if err := tenancy.Do(ctx, a.tenant, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT client_secret FROM sso_settings`).Scan(&stored).Error
		}); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, "acme-secret-1") {
			t.Errorf("the client secret is stored as %q, want ciphertext", stored)
		}
		ssoSignOut(t, tab)
	})
	if !ok {
		t.FailNow()
	}

	t.Run("a portal user signs in with the client's provider", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		brOpen(t, tab, baseA, "/login")
		brMustContain(t, brPageHTML(t, tab), "Sign in with Acme ID")
		brScreenshot(t, tab, "sso-portal-login.png")
		beforeB, err := e.identity.CountClientSessions(ctx, b.tenant)
		if err != nil {
			t.Fatal(err)
		}
		status, text := ssoFlow(t, tab, baseA, userA.Email, userA.Password, "/")
		if status != http.StatusOK || !strings.Contains(text, "Power supply failing on srv-"+a.tenant.Slug) {
			t.Fatalf("after SSO: %d %q", status, text)
		}
		var session *network.Cookie
		brDo(t, tab, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
			res, err := cdp.Call(ctx, tab, network.GetCookies, network.GetCookiesParams{URLs: []string{baseA + "/"}})
			for _, c := range res.Cookies {
				if c.Name == "portal_session" {
					session = c
				}
			}
			return err
		}))
		if session == nil || session.Domain != a.host || !session.HTTPOnly {
			t.Errorf("the session cookie is %+v, want an HttpOnly cookie of %s only", session, a.host)
		}
		if n, err := e.identity.CountClientSessions(ctx, a.tenant); err != nil || n == 0 {
			t.Errorf("sessions in %s's schema: %d (%v), want the new one", a.tenant.Slug, n, err)
		}
		if n, err := e.identity.CountClientSessions(ctx, b.tenant); err != nil || n != beforeB {
			t.Errorf("sessions in %s's schema: %d (%v), want %d", b.tenant.Slug, n, err, beforeB)
		}
	})

	t.Run("one client's sign-in never opens another client's portal", func(t *testing.T) {
		// A's user, vouched for by B's provider: B has no such user.
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		status, text := ssoFlow(t, tab, baseB, a.user, "idp-b-other", "/login/sso/callback")
		if status != http.StatusForbidden || !strings.Contains(text, "There is no user "+a.user+" here") {
			t.Errorf("A's user on B's portal: %d %q, want 403", status, text)
		}
		ssoSignedOut(t, tab, baseB)

		// A callback of A's portal (its code and state) taken to B's host,
		// where a sign-in of B's is under way.
		tabA := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		if status, _ := ssoFlow(t, tabA, baseA, userA.Email, userA.Password, "/"); status != http.StatusOK {
			t.Fatalf("A's sign-in: %d", status)
		}
		callback := idpA.LastCallback()
		if !strings.HasPrefix(callback, baseA+"/login/sso/callback?") {
			t.Fatalf("A's provider's last callback is %q", callback)
		}
		tabB := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		brOpen(t, tabB, baseB, "/login")
		brDo(t, tabB, chromedp.Click(chromedp.ID("sso-sign-in")), chromedp.WaitVisible(chromedp.ID("idp-username")))
		brDo(t, tabB, chromedp.Navigate(baseB+strings.TrimPrefix(callback, baseA)))
		brWaitPath(t, tabB, "/login/sso/callback")
		status, text = ssoPage(t, tabB)
		if status != http.StatusBadRequest || !strings.Contains(text, "unknown here, was already used") {
			t.Errorf("A's callback on B's host: %d %q, want 400", status, text)
		}
		brMustNotContain(t, text, a.tenant.Slug)
		ssoSignedOut(t, tabB, baseB)
	})

	t.Run("staff see and edit a client's sign-on in the console", func(t *testing.T) {
		const pw = "portal-sso-staff-1"
		for _, in := range []identity.StaffInput{{Email: "psso-owner-" + b.tenant.Slug + "@msp.example", Role: "owner", Password: pw},
			{Email: "psso-tech-" + b.tenant.Slug + "@msp.example", Role: "technician", Password: pw}} {
			if _, _, err := e.identity.CreateStaff(ctx, in); err != nil {
				t.Fatal(err)
			}
			c := newClient(t, ts.URL)
			if status := c.login(in.Email, pw); status != http.StatusSeeOther {
				t.Fatalf("%s sign-in: %d", in.Role, status)
			}
			status, body := c.get("/t/" + b.tenant.Slug + "/sso")
			if status != http.StatusOK || !strings.Contains(body, idpB.Issuer) || !strings.Contains(body, "http://"+b.host+"/login/sso/callback") {
				t.Fatalf("%s: %d %s", in.Role, status, body)
			}
			if editable := strings.Contains(body, `id="sso-form"`); editable != (in.Role == "owner") {
				t.Errorf("%s sees the form: %v", in.Role, editable)
			}
			if strings.Contains(body, "borealis-secret-1") {
				t.Error("the page shows the client secret")
			}
		}
		owner := newClient(t, ts.URL)
		owner.login("psso-owner-"+b.tenant.Slug+"@msp.example", pw)
		status, body, _ := owner.do(http.MethodPost, "/t/"+b.tenant.Slug+"/sso", url.Values{"issuer": {"https://idp.invalid"}, "client_id": {"x"}})
		if status != http.StatusUnprocessableEntity || !strings.Contains(body, "does not answer OpenID Connect discovery") {
			t.Errorf("an issuer that does not answer: %d", status)
		}
		if got, _, err := e.identity.PortalSSOSettings(ctx, b.tenant); err != nil || got.Issuer != idpB.Issuer {
			t.Errorf("a refused change was written: %+v %v", got, err)
		}
	})

	// On B's portal, tokens that name A's provider as issuer, or A's portal
	// as audience, signed with B's provider's real key, are refused too.
	ssoRefusals(t, browser, ssoSurface{base: baseB, idp: idpB, clientID: "borealis-portal", user: userB,
		landing: "Power supply failing on srv-" + b.tenant.Slug}, clock, idpA.Issuer, "acme-portal")
}

// seedPortalSSO gives tn a sign-on configuration naming issuer (stored as
// is, without asking the issuer), for tests of the routes around it.
func seedPortalSSO(t *testing.T, tn tenancy.Tenant, issuer, clientID string) {
	t.Helper()
	err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO sso_settings (issuer, client_id, client_secret) VALUES (?, ?, 'plain:matrix')
			ON CONFLICT (id) DO UPDATE SET issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id`, issuer, clientID).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testServerSSO is testServer whose portals may use identity providers on
// loopback over http, as the in-test provider is.
func testServerSSO(t *testing.T) (*env, *server, *httptest.Server) {
	t.Helper()
	return testServerWith(t, func(cfg *config.Config) { cfg.SSO.AllowInsecureIssuers = true })
}

// portalSSOFixture starts a provider and makes it tn's sign-on provider.
func portalSSOFixture(t *testing.T, tn tenancy.Tenant) *oidctest.Provider {
	t.Helper()
	idp := oidctest.New(t)
	seedPortalSSO(t, tn, idp.Issuer, "matrix")
	return idp
}
