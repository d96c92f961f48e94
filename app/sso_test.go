package main

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/chromedp/chromedp"

	"switchboard/config"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/oidctest"
)

// The single sign-on tests drive Chromium through the real console and
// portals and a real OpenID provider (platform/oidctest) running in the
// test: the provider's own sign-in form, its token endpoint, its keys. The
// provider misbehaves on purpose where a case needs it (a token for another
// audience or from another issuer, signed with its real key; an earlier
// sign-in's token sent again), and the server's verifier reads a clock the
// test moves for the expired token.

// ssoClock is a verifier clock the test can move forward.
type ssoClock struct{ offset atomic.Int64 }

func (c *ssoClock) now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// ssoSurface is where a browser signs in with single sign-on: the console,
// or one client's portal.
type ssoSurface struct {
	base     string // http://host:port
	idp      *oidctest.Provider
	clientID string
	user     oidctest.User // maps to a user here
	landing  string        // text the signed-in home page shows
}

// ssoFlow opens base's sign-in page in tab, follows "Sign in with …" to the
// provider, signs in there as email and waits for the page at wantPath
// back on base. It returns that page's HTTP status and text.
func ssoFlow(t *testing.T, tab context.Context, base, email, password, wantPath string) (int, string) {
	t.Helper()
	brOpen(t, tab, base, "/login")
	brDo(t, tab, chromedp.Click(chromedp.ID("sso-sign-in")))
	brDo(t, tab, chromedp.WaitVisible(chromedp.ID("idp-username")),
		chromedp.SendKeys(chromedp.ID("idp-username"), email),
		chromedp.SendKeys(chromedp.ID("idp-password"), password),
		chromedp.Click(chromedp.ID("idp-submit")))
	brWaitPath(t, tab, wantPath)
	if origin := brGet(t, tab, chromedp.Evaluate[string](`location.origin`)); origin != base {
		t.Fatalf("the sign-in ended on %s, want %s", origin, base)
	}
	return ssoPage(t, tab)
}

// ssoPage is the status and text of the tab's current page.
func ssoPage(t *testing.T, tab context.Context) (int, string) {
	t.Helper()
	status := brGet(t, tab, chromedp.Evaluate[int](`performance.getEntriesByType("navigation")[0].responseStatus`))
	return status, brGet(t, tab, chromedp.Evaluate[string](`document.body.innerText`))
}

// ssoSignedOut checks that the tab's browser has no session on base: its
// home page sends it to sign in.
func ssoSignedOut(t *testing.T, tab context.Context, base string) {
	t.Helper()
	brDo(t, tab, chromedp.Navigate(base+"/"))
	brWaitPath(t, tab, "/login")
}

// ssoSignOut presses the page's sign-out button.
func ssoSignOut(t *testing.T, tab context.Context) {
	t.Helper()
	brDo(t, tab, chromedp.Click(chromedp.CSS(`form.signout button`)))
	brWaitPath(t, tab, "/login")
}

// ssoRefusals runs the refusals every surface must make, each in a browser
// of its own: a token for another audience, from another issuer, expired,
// an earlier sign-in's token (its nonce), and a callback used twice. Each
// is a 400 with the reason in plain words, and leaves no session.
func ssoRefusals(t *testing.T, browser context.Context, s ssoSurface, clock *ssoClock, otherIssuer, otherAudience string) {
	pw := s.user.Password
	cases := []struct {
		name    string
		arrange func()
		want    string
	}{
		{"wrong audience", func() {
			s.idp.TamperNextIDToken(func(c map[string]any) { c["aud"] = otherAudience })
		}, "issued for another application"},
		{"wrong issuer", func() {
			s.idp.TamperNextIDToken(func(c map[string]any) { c["iss"] = otherIssuer })
		}, "issued by another identity provider"},
		{"expired token", func() { clock.offset.Store(int64(2 * time.Hour)) }, "token has expired"},
		{"replayed nonce", s.idp.ReplayNextIDToken, "belongs to another sign-in (nonce)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(func() { clock.offset.Store(0) })
			tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
			tc.arrange()
			status, text := ssoFlow(t, tab, s.base, s.user.Email, pw, "/login/sso/callback")
			if status != http.StatusBadRequest || !strings.Contains(text, tc.want) {
				t.Errorf("answered %d %q, want 400 saying %q", status, text, tc.want)
			}
			brMustNotContain(t, text, s.landing)
			ssoSignedOut(t, tab, s.base)
		})
	}

	t.Run("replayed state", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		if status, text := ssoFlow(t, tab, s.base, s.user.Email, pw, "/"); status != http.StatusOK || !strings.Contains(text, s.landing) {
			t.Fatalf("sign-in: %d %q", status, text)
		}
		callback := s.idp.LastCallback()
		if !strings.HasPrefix(callback, s.base+"/login/sso/callback?") {
			t.Fatalf("the provider's last callback is %q", callback)
		}
		ssoSignOut(t, tab)
		// The same browser, and a stranger's who got hold of the URL.
		for _, b := range []context.Context{tab, brNewTab(t, browser, chromedp.WithNewBrowserContext())} {
			brDo(t, b, chromedp.Navigate(callback))
			brWaitPath(t, b, "/login/sso/callback")
			status, text := ssoPage(t, b)
			if status != http.StatusBadRequest || !strings.Contains(text, "unknown here, was already used") {
				t.Errorf("replayed callback answered %d %q, want 400", status, text)
			}
			ssoSignedOut(t, b, s.base)
		}
	})
}

// TestSSOStaff signs staff in to the console through the MSP's identity
// provider: an owner whose provider did a second factor (which meets the
// console's MFA requirement), an owner whose provider did not (sent to
// enrol a factor here), a technician whose
// clients follow the provider's groups, a stranger refused (no just-in-time
// users by default), password sign-in refused once a user has used SSO,
// and every refusal of ssoRefusals.
func TestSSOStaff(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	ctx := context.Background()
	idp := oidctest.New(t)
	const clientID, secret = "switchboard-console", "console-secret-1"
	sfx := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	alpha, beta := "sso-alpha-"+sfx, "sso-beta-"+sfx
	clock := &ssoClock{}
	e, _, ts := testServerClock(t, func(cfg *config.Config) {
		cfg.SSO = config.SSO{Issuer: idp.Issuer, ClientID: clientID, ClientSecret: secret, Label: "Test IdP",
			RoleClaim: "groups", Roles: []string{"sb-owners=owner", "sb-techs=technician"},
			GrantClaim: "groups", Grants: []string{"noc-alpha=" + alpha, "noc-beta=" + beta},
			DisablePassword: true, AllowInsecureIssuers: true, MFAMethods: []string{"otp", "hwk"}}
		cfg.Security.RequireMFA = []string{"admin", "owner"} // the default, which TestMain switches off
	}, clock.now)
	base := "http://localhost:" + mustURL(ts.URL).Port()
	idp.AddClient(oidctest.Client{ID: clientID, Secret: secret, RedirectURIs: []string{base + "/login/sso/callback"}})
	// Another application at the same provider, whose tokens must not open the console.
	idp.AddClient(oidctest.Client{ID: "another-app", Secret: "x", RedirectURIs: []string{"http://127.0.0.1:1/cb"}})

	for _, slug := range []string{alpha, beta} {
		if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "SSO " + slug}); err != nil {
			t.Fatal(err)
		}
	}
	const pw = "sso-staff-password-1"
	owner := "sso-owner-" + sfx + "@msp.example"
	owner2 := "sso-owner2-" + sfx + "@msp.example"
	tech := "sso-tech-" + sfx + "@msp.example"
	for _, in := range []identity.StaffInput{{Email: owner, Role: "owner", Password: pw}, {Email: owner2, Role: "owner", Password: pw},
		{Email: tech, Role: "technician", Scope: "list", Tenants: []string{alpha}, Password: pw}} {
		if _, _, err := e.identity.CreateStaff(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	ownerAtIdP := oidctest.User{Email: owner, EmailVerified: true, Name: "Olivia Owner", Password: "idp-pass-1", AMR: []string{"pwd", "otp"},
		Claims: map[string]any{"groups": []string{"sb-owners"}}}
	idp.AddUser(ownerAtIdP)
	idp.AddUser(oidctest.User{Email: owner2, EmailVerified: true, Password: "idp-pass-4", AMR: []string{"pwd"},
		Claims: map[string]any{"groups": []string{"sb-owners"}}})
	idp.AddUser(oidctest.User{Email: tech, EmailVerified: true, Password: "idp-pass-2", Claims: map[string]any{"groups": []string{"sb-techs", "noc-beta"}}})
	idp.AddUser(oidctest.User{Email: "stranger-" + sfx + "@msp.example", EmailVerified: true, Password: "idp-pass-3", Claims: map[string]any{"groups": []string{"sb-owners"}}})

	browser := brNewBrowser(t)
	ok := t.Run("owner signs in with the provider's second factor", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		brOpen(t, tab, base, "/login")
		brMustContain(t, brPageHTML(t, tab), "Sign in with Test IdP")
		brScreenshot(t, tab, "sso-console-login.png")
		status, text := ssoFlow(t, tab, base, owner, "idp-pass-1", "/")
		if status != http.StatusOK || !strings.Contains(text, owner) {
			t.Fatalf("after SSO: %d %q", status, text)
		}
		u, err := e.identity.StaffByEmail(ctx, owner)
		if err != nil {
			t.Fatal(err)
		}
		values := staffSessionValues(t, e, u.Subject())
		if values["sign_in_method"] != "sso" || values["mfa_idp"] != true || values["mfa_verified"] != true {
			t.Errorf("the session records %v, want single sign-on with the second factor done at the provider", values)
		}
		// sso.disable_password: the owner now signs in only through the provider.
		if status := newClient(t, ts.URL).login(owner, pw); status != http.StatusUnauthorized {
			t.Errorf("password sign-in after SSO: %d, want 401", status)
		}
	})
	if !ok {
		t.FailNow()
	}

	t.Run("an owner whose provider did no second factor must enrol one here", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		status, text := ssoFlow(t, tab, base, owner2, "idp-pass-4", "/account/security")
		if status != http.StatusOK || !strings.Contains(text, owner2) {
			t.Fatalf("after SSO: %d %q", status, text)
		}
		brOpen(t, tab, base, "/account/security") // and nothing else: the home page sends it back
		brDo(t, tab, chromedp.Navigate(base+"/"))
		brWaitPath(t, tab, "/account/security")
	})

	t.Run("a technician's clients follow the provider's groups", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		if status, text := ssoFlow(t, tab, base, tech, "idp-pass-2", "/"); status != http.StatusOK || !strings.Contains(text, tech) {
			t.Fatalf("after SSO: %d %q", status, text)
		}
		u, err := e.identity.StaffByEmail(ctx, tech)
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != "technician" || u.TenantScope != "list" || strings.Join(u.TenantSlugs, ",") != beta {
			t.Errorf("grant after SSO: %s %s %v, want technician of %s only", u.Role, u.TenantScope, u.TenantSlugs, beta)
		}
		values := staffSessionValues(t, e, u.Subject())
		if values["mfa_idp"] != false {
			t.Errorf("a password-only sign-in at the provider counts as a second factor: %v", values)
		}
	})

	t.Run("someone with no console user is refused", func(t *testing.T) {
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		status, text := ssoFlow(t, tab, base, "stranger-"+sfx+"@msp.example", "idp-pass-3", "/login/sso/callback")
		if status != http.StatusForbidden || !strings.Contains(text, "There is no console user") {
			t.Errorf("stranger: %d %q, want 403", status, text)
		}
		ssoSignedOut(t, tab, base)
		if _, err := e.identity.StaffByEmail(ctx, "stranger-"+sfx+"@msp.example"); err == nil {
			t.Error("a staff user was created although sso.create_users is off")
		}
	})

	ssoRefusals(t, browser, ssoSurface{base: base, idp: idp, clientID: clientID, user: ownerAtIdP, landing: owner},
		clock, "http://127.0.0.1:1/other-issuer", "another-app")
}

// staffSessionValues decodes the live console sessions of subject and
// returns the values of the newest.
func staffSessionValues(t *testing.T, e *env, subject string) map[string]any {
	t.Helper()
	var data []byte
	err := e.cluster.ControlDB().Raw(`SELECT data FROM control.sessions WHERE subject = ? AND expiry > now() ORDER BY expiry DESC LIMIT 1`, subject).Row().Scan(&data)
	if err != nil {
		t.Fatalf("no session of %s: %v", subject, err)
	}
	_, values, err := scs.GobCodec{}.Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return values
}
