package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"switchboard/config"
	"switchboard/modules/audit"
	"switchboard/modules/identity"
)

// mfaServer is the console with the default requirement: owners and admins
// must have a second factor (the package's other tests switch it off).
func mfaServer(t *testing.T) (*env, string) {
	t.Helper()
	e, _, ts := testServerWith(t, func(c *config.Config) { c.Security.RequireMFA = []string{"admin", "owner"} })
	return e, ts.URL
}

var (
	totpSecretOnPage = regexp.MustCompile(`id="totp-secret">([A-Z2-7]{32})<`)
	recoveryOnPage   = regexp.MustCompile(`<code class="secret">([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>`)
)

// totpCode is the code an authenticator app shows for secret at now+skew.
func totpCode(t *testing.T, secret string, skew time.Duration) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, time.Now().Add(skew))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// expectTo checks that status is a 303 to a Location starting with prefix.
func expectTo(t *testing.T, what string, status int, hdr http.Header, prefix string) {
	t.Helper()
	if status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), prefix) {
		t.Fatalf("%s: %d to %q, want 303 to %s…", what, status, hdr.Get("Location"), prefix)
	}
}

// TestMFASignIn walks a required owner through the console: confined to
// enrolment until they add an authenticator app, then asked for a code at
// every sign-in, with a replayed code and a used recovery code refused,
// and let back in by `user mfa reset`.
func TestMFASignIn(t *testing.T) {
	ctx := context.Background()
	e, base := mfaServer(t)
	const pw = "mfa-owner-password-1"
	owner, tech := "mfa-owner@msp.example", "mfa-tech@msp.example"
	for _, in := range []identity.StaffInput{{Email: owner, Role: "owner"}, {Email: tech, Role: "technician"}} {
		in.Password = pw
		if _, _, err := e.identity.CreateStaff(ctx, in); err != nil {
			t.Fatal(err)
		}
	}

	b := newClient(t, base)
	var secret string
	t.Run("required but not enrolled: only the enrolment page", func(t *testing.T) {
		if status := b.login(owner, pw); status != http.StatusSeeOther {
			t.Fatalf("password sign-in: %d", status)
		}
		for _, path := range []string{"/", "/platform/staff", "/t/no-such-client/users"} {
			status, _, hdr := b.do(http.MethodGet, path, nil)
			expectTo(t, "GET "+path, status, hdr, "/account/security?next=")
		}
		if status, _, _ := b.do(http.MethodPost, "/platform/staff", url.Values{"email": {"x@msp.example"}, "role": {"technician"}}); status != http.StatusForbidden {
			t.Fatalf("POST /platform/staff while confined: %d, want 403", status)
		}
		status, body, _ := b.do(http.MethodGet, "/account/security", nil)
		m := totpSecretOnPage.FindStringSubmatch(body)
		if status != http.StatusOK || m == nil || !strings.Contains(body, "<svg ") || !strings.Contains(body, "Your role requires a second factor") {
			t.Fatalf("security page: %d\n%s", status, body)
		}
		secret = m[1]
		if _, again, _ := b.do(http.MethodGet, "/account/security", nil); !strings.Contains(again, secret) {
			t.Fatal("a reload offers another secret than the one the app scanned")
		}
	})
	if secret == "" {
		t.FailNow()
	}

	enrolCode := totpCode(t, secret, 0)
	var recovery []string
	t.Run("enrolment needs the password and a code of the new secret", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			form    url.Values
			status  int
			message string
		}{
			{"no password", url.Values{"code": {enrolCode}}, http.StatusBadRequest, "Confirm the change"},
			{"wrong password", url.Values{"code": {enrolCode}, "confirm": {"wrong-password-1"}}, http.StatusUnauthorized, "Confirm with your password"},
			{"wrong code", url.Values{"code": {"000000"}, "confirm": {pw}}, http.StatusBadRequest, "does not match"},
		} {
			status, body, _ := b.do(http.MethodPost, "/account/security/totp", tc.form)
			if status != tc.status || !strings.Contains(body, tc.message) {
				t.Errorf("%s: %d, want %d with %q", tc.name, status, tc.status, tc.message)
			}
		}
		status, _, hdr := b.do(http.MethodPost, "/account/security/totp", url.Values{"code": {enrolCode}, "confirm": {pw}})
		expectTo(t, "enrolment", status, hdr, "/account/security")
		_, body, _ := b.do(http.MethodGet, "/account/security", nil)
		for _, m := range recoveryOnPage.FindAllStringSubmatch(body, -1) {
			recovery = append(recovery, m[1])
		}
		if len(recovery) != 10 || !strings.Contains(body, "Authenticator app added.") {
			t.Fatalf("after enrolment: %d recovery codes shown\n%s", len(recovery), body)
		}
		if _, again, _ := b.do(http.MethodGet, "/account/security", nil); strings.Contains(again, recovery[0]) {
			t.Fatal("recovery codes are shown more than once")
		}
		if status, _, _ := b.do(http.MethodGet, "/", nil); status != http.StatusOK {
			t.Fatalf("the console after enrolment: %d", status)
		}
	})
	if len(recovery) != 10 {
		t.FailNow()
	}

	t.Run("a password alone no longer signs in", func(t *testing.T) {
		c := newClient(t, base)
		if status := c.login(owner, pw); status != http.StatusSeeOther {
			t.Fatalf("password step: %d", status)
		}
		status, _, hdr := c.do(http.MethodGet, "/t/no-such-client/users", nil)
		expectTo(t, "GET a client page", status, hdr, "/login/mfa?next=")
		if status, _, _ := c.do(http.MethodPost, "/logout", nil); status != http.StatusUnauthorized {
			t.Fatalf("POST while the second factor is pending: %d, want 401", status)
		}
		status, body, _ := c.do(http.MethodGet, "/login/mfa?next=/platform/staff", nil)
		if status != http.StatusOK || !strings.Contains(body, owner) {
			t.Fatalf("second-factor form: %d", status)
		}
		status, body, _ = c.do(http.MethodPost, "/login/mfa", url.Values{"code": {enrolCode}, "next": {"/platform/staff"}})
		if status != http.StatusUnauthorized || !strings.Contains(body, "not accepted") {
			t.Fatalf("replayed enrolment code: %d, want 401", status)
		}
		status, _, hdr = c.do(http.MethodPost, "/login/mfa", url.Values{"code": {totpCode(t, secret, 30*time.Second)}, "next": {"/platform/staff"}})
		expectTo(t, "next step's code", status, hdr, "/platform/staff")
		if status, _, _ := c.do(http.MethodGet, "/platform/staff", nil); status != http.StatusOK {
			t.Fatalf("signed in with TOTP: %d", status)
		}
	})

	t.Run("a recovery code works once", func(t *testing.T) {
		for i, want := range []int{http.StatusSeeOther, http.StatusUnauthorized} {
			c := newClient(t, base)
			c.login(owner, pw)
			c.get("/login/mfa")
			if status, _, _ := c.do(http.MethodPost, "/login/mfa", url.Values{"code": {strings.ToUpper(recovery[0])}}); status != want {
				t.Fatalf("use %d of one recovery code: %d, want %d", i+1, status, want)
			}
		}
	})

	t.Run("a technician is not required", func(t *testing.T) {
		c := newClient(t, base)
		c.login(tech, pw)
		if status, _, _ := c.do(http.MethodGet, "/", nil); status != http.StatusOK {
			t.Fatalf("technician without factors: %d", status)
		}
	})

	t.Run("bad passkey requests are refused with a reason", func(t *testing.T) {
		// By name: browsers take no IP address as a passkey's relying party.
		c := newClient(t, strings.Replace(base, "127.0.0.1", "localhost", 1))
		c.login(tech, pw)
		c.get("/account/security")
		for _, tc := range []struct {
			path   string
			form   url.Values
			status int
			reason string
		}{
			{"/account/security/passkeys/begin", url.Values{"confirm": {pw}}, http.StatusBadRequest, "Name the passkey"},
			{"/account/security/passkeys/begin", url.Values{"name": {"Key"}, "confirm": {"wrong-password-1"}}, http.StatusUnauthorized, "Confirm with your password"},
			{"/account/security/passkeys", url.Values{"id": {"x"}}, http.StatusBadRequest, "expired; start again"},
			{"/account/security/passkeys/abc/remove", url.Values{"confirm": {pw}}, http.StatusBadRequest, "not a passkey"},
			{"/account/security/totp/remove", url.Values{"confirm": {pw}}, http.StatusConflict, "no authenticator app"},
			{"/account/security/passkeys/999999/remove", url.Values{"confirm": {pw}}, http.StatusNotFound, "no such passkey"},
		} {
			status, body, _ := c.do(http.MethodPost, tc.path, tc.form)
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("POST %s %v: %d %.200q, want %d with %q", tc.path, tc.form, status, body, tc.status, tc.reason)
			}
		}
		ip := newClient(t, base)
		ip.login(tech, pw)
		if status, body, _ := ip.do(http.MethodPost, "/account/security/passkeys/begin", url.Values{"name": {"Key"}, "confirm": {pw}}); status != http.StatusBadRequest || !strings.Contains(body, "not an IP address") {
			t.Errorf("a passkey on 127.0.0.1: %d %q", status, body)
		}
		var n int
		if err := adminConn(t).QueryRow(ctx, `SELECT count(*) FROM control.staff_passkeys p JOIN control.staff_users u ON u.id = p.user_id WHERE u.email = $1`, tech).Scan(&n); err != nil || n != 0 {
			t.Fatalf("refused requests stored %d passkeys (%v)", n, err)
		}
	})

	t.Run("every outcome is audited", func(t *testing.T) {
		entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.mfa", Text: owner})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, en := range entries {
			got[en.Action]++
		}
		want := map[string]int{"staff.mfa_totp_added": 1, "staff.mfa_confirm_failed": 1, "staff.mfa_login": 2, "staff.mfa_failed": 2}
		for action, n := range want {
			if got[action] != n {
				t.Errorf("%s: %d entries, want %d (all: %v)", action, got[action], n, got)
			}
		}
	})

	t.Run("user mfa reset lets them enrol again", func(t *testing.T) { // bad input: user_mfa_test.go
		expect(t, cli(t, "user", "mfa", "reset", owner), 0, "authenticator app: true", "recovery codes: 10", "sessions are ended")
		if status, _, hdr := b.do(http.MethodGet, "/", nil); status != http.StatusSeeOther || !strings.HasPrefix(hdr.Get("Location"), "/login") {
			t.Fatalf("the owner's session after the reset: %d %q, want ended", status, hdr.Get("Location"))
		}
		c := newClient(t, base)
		c.login(owner, pw)
		status, _, hdr := c.do(http.MethodGet, "/", nil)
		expectTo(t, "after the reset", status, hdr, "/account/security?next=")
		if got, _ := e.audit.Platform(ctx, audit.Filter{Action: "staff.mfa_reset", Text: owner}); len(got) != 1 {
			t.Fatalf("reset audit entries: %d", len(got))
		}
	})
}
