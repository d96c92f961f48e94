package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/config"
	"switchboard/modules/identity"
	"switchboard/platform/oidctest"
)

// ssoByHTTP signs in through c's /login/sso and the provider's own form as
// email, without a browser (the Chromium tests cover the browser's part),
// and returns the callback's status, body and Location.
func ssoByHTTP(t *testing.T, c *client, idp *oidctest.Provider, email, password string) (int, string, string) {
	t.Helper()
	status, body, hdr := c.do(http.MethodGet, "/login/sso", nil)
	if status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), idp.Issuer+"/") {
		t.Fatalf("/login/sso: %d %q %s", status, hdr.Get("Location"), body)
	}
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	issuer, _ := url.Parse(idp.Issuer)
	step := func(resp *http.Response, err error) *url.URL {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("the provider answered %d without a redirect", resp.StatusCode)
		}
		return issuer.ResolveReference(loc)
	}
	form := step(plain.Get(hdr.Get("Location")))
	back := step(plain.PostForm(idp.Issuer+"/login", url.Values{"id": {form.Query().Get("authRequestID")}, "username": {email}, "password": {password}}))
	callback := step(plain.Get(back.String()))
	if callback.Path != "/login/sso/callback" {
		t.Fatalf("the provider sent the browser to %s", callback)
	}
	status, body, hdr = c.do(http.MethodGet, callback.RequestURI(), nil)
	return status, body, hdr.Get("Location")
}

// TestSSOJustInTime: with sso.create_users, someone the provider gives a
// role becomes a staff user at their first sign-in (and a client's portal
// with "create users" makes a client_user); without a role, without a
// verified e-mail, or as a second account with a bound user's address,
// nobody gets in.
func TestSSOJustInTime(t *testing.T) {
	ctx := context.Background()
	idp := oidctest.New(t)
	e, _, ts := testServerWith(t, func(cfg *config.Config) {
		cfg.SSO = config.SSO{Issuer: idp.Issuer, ClientID: "console", ClientSecret: "s1", RoleClaim: "groups", Roles: []string{"sb-techs=technician"},
			GrantClaim: "groups", Grants: []string{"noc=*"}, CreateUsers: true, AllowInsecureIssuers: true}
	})
	idp.AddClient(oidctest.Client{ID: "console", Secret: "s1", RedirectURIs: []string{ts.URL + "/login/sso/callback"}})
	sfx := strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	newTech, noRole, unverified := "jit-tech-"+sfx+"@msp.example", "jit-none-"+sfx+"@msp.example", "jit-unverified-"+sfx+"@msp.example"
	idp.AddUser(oidctest.User{Email: newTech, EmailVerified: true, Password: "p1", Name: "New Tech", Claims: map[string]any{"groups": []string{"sb-techs", "noc"}}})
	idp.AddUser(oidctest.User{Email: noRole, EmailVerified: true, Password: "p2", Claims: map[string]any{"groups": []string{"marketing"}}})
	idp.AddUser(oidctest.User{Email: unverified, EmailVerified: false, Password: "p3", Claims: map[string]any{"groups": []string{"sb-techs", "noc"}}})

	for _, tc := range []struct {
		name, email, password string
		status                int
		want                  string // in the refusal
	}{
		{"a new technician is created", newTech, "p1", http.StatusSeeOther, ""},
		{"no role at the provider", noRole, "p2", http.StatusForbidden, "given no role"},
		{"e-mail not verified", unverified, "p3", http.StatusForbidden, "verified e-mail address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := ssoByHTTP(t, newClient(t, ts.URL), idp, tc.email, tc.password)
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %q, want %d with %q", status, body, tc.status, tc.want)
			}
			u, err := e.identity.StaffByEmail(ctx, tc.email)
			switch {
			case tc.status == http.StatusSeeOther && (err != nil || u.Role != "technician" || u.TenantScope != "all" || u.Name != "New Tech"):
				t.Errorf("created %+v (%v), want a technician of every client", u, err)
			case tc.status != http.StatusSeeOther && err == nil:
				t.Errorf("a refused sign-in created %s", tc.email)
			}
		})
	}

	t.Run("a second account with a bound user's address is refused", func(t *testing.T) {
		idp.AddUser(oidctest.User{Subject: "someone-else", Email: newTech, EmailVerified: true, Password: "p4", Claims: map[string]any{"groups": []string{"sb-techs", "noc"}}})
		status, body, _ := ssoByHTTP(t, newClient(t, ts.URL), idp, newTech, "p4")
		if status != http.StatusForbidden || !strings.Contains(body, "bound to another account") {
			t.Fatalf("%d %q, want 403", status, body)
		}
	})

	t.Run("a portal that creates users makes a client_user", func(t *testing.T) {
		p := seedPortalTenant(t, e, "sj")
		c := newHostClient(t, ts.URL, p.host)
		idp.AddClient(oidctest.Client{ID: "portal-" + p.tenant.Slug, Secret: "s2", RedirectURIs: []string{c.base + "/login/sso/callback"}})
		if _, err := e.identity.SavePortalSSO(ctx, p.tenant, identity.PortalSSOInput{Issuer: idp.Issuer, ClientID: "portal-" + p.tenant.Slug,
			ClientSecret: "s2", CreateUsers: true}); err != nil {
			t.Fatal(err)
		}
		newbie := "newbie@" + p.tenant.Slug + ".example"
		idp.AddUser(oidctest.User{Email: newbie, EmailVerified: true, Password: "p5"})
		if status, body, loc := ssoByHTTP(t, c, idp, newbie, "p5"); status != http.StatusSeeOther || loc != "/" {
			t.Fatalf("%d %q → %q", status, body, loc)
		}
		if u, err := e.identity.ClientUserByEmail(ctx, p.tenant, newbie); err != nil || u.Role != identity.RoleClientUser {
			t.Fatalf("created %+v (%v), want a client_user", u, err)
		}
		if status, _ := c.get("/"); status != http.StatusOK {
			t.Fatalf("the new user's portal home: %d", status)
		}
		// Disabled: the provider's word no longer lets them in.
		if _, err := e.identity.SetClientDisabled(ctx, p.tenant, newbie, true); err != nil {
			t.Fatal(err)
		}
		if status, body, _ := ssoByHTTP(t, newHostClient(t, ts.URL, p.host), idp, newbie, "p5"); status != http.StatusForbidden || !strings.Contains(body, "disabled") {
			t.Fatalf("disabled user: %d %q, want 403", status, body)
		}
	})
}
