package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestPasskeyBrowser registers a passkey in Chromium, with the DevTools
// virtual authenticator standing in for a platform authenticator, and signs
// in with it as the second factor. WebAuthn needs a secure context and a
// relying party id that is a host name: http://localhost is both (an IP
// address is neither), so the console is opened as localhost.
func TestPasskeyBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	t.Setenv("SWITCHBOARD_SECURITY_REQUIRE_MFA", "owner,admin") // the default, which TestMain switches off
	sfx := strconv.FormatInt(time.Now().UnixMicro()%1e9, 36)
	owner := "pk-owner-" + sfx + "@msp.example"
	const password = "pk-correct-horse-7"
	expect(t, cli(t, "migrate"), 0)
	brCreateUser(t, password, "--email", owner, "--role", "owner")

	base := strings.Replace(brStartServer(t), "127.0.0.1", "localhost", 1)
	ctx := brNewBrowser(t)
	var authenticator webauthn.AuthenticatorID
	brDo(t, ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tab, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		res, err := cdp.Call(ctx, tab, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		authenticator = res.AuthenticatorID
		return err
	}))

	signInWithPassword := func(t *testing.T, landing string) {
		t.Helper()
		brDo(t, ctx, chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.CSS(`input[name=email]`), owner),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
		brWaitPath(t, ctx, landing)
	}
	signOut := func(t *testing.T) {
		t.Helper()
		brDo(t, ctx, chromedp.Click(chromedp.CSS(`form.signout button[type=submit]`)))
		brWaitPath(t, ctx, "/login")
	}

	ok := t.Run("a required owner registers a passkey", func(t *testing.T) {
		signInWithPassword(t, "/account/security") // confined until enrolled
		brMustContain(t, brPageHTML(t, ctx), "Your role requires a second factor", "<svg ")
		brDo(t, ctx, chromedp.SendKeys(chromedp.CSS(`#passkey-register input[name=name]`), "Virtual key"),
			chromedp.SendKeys(chromedp.CSS(`#passkey-register input[name=confirm]`), password),
			chromedp.Click(chromedp.CSS(`#passkey-register button[type=submit]`)))
		registered := pkWaitFor(t, ctx, `(() => {
			const err = document.getElementById("passkey-register-error");
			if (err && !err.hidden) return "error: " + err.textContent;
			const codes = document.querySelectorAll("#recovery-codes code").length;
			return document.querySelector("#passkeys") && codes ? "ok " + codes : "";
		})()`)
		if registered != "ok 10" {
			t.Fatalf("registering the passkey: %s", registered)
		}
		brMustContain(t, brPageHTML(t, ctx), "Virtual key", `Passkey "Virtual key" added.`)
		brScreenshot(t, ctx, "security-passkey.png")
		brOpen(t, ctx, base, "/") // no longer confined
	})
	if !ok {
		t.FailNow()
	}

	t.Run("the passkey is the second factor at sign-in", func(t *testing.T) {
		signOut(t)
		signInWithPassword(t, "/login/mfa")
		brScreenshot(t, ctx, "login-second-factor.png")
		brDo(t, ctx, chromedp.Click(chromedp.ID("passkey-login-button")))
		brWaitPath(t, ctx, "/")
		brMustContain(t, brPageHTML(t, ctx), owner)
		var used int
		if err := adminConn(t).QueryRow(context.Background(), `SELECT count(*) FROM control.staff_passkeys p JOIN control.staff_users u ON u.id = p.user_id
			WHERE u.email = $1 AND p.last_used_at IS NOT NULL`, owner).Scan(&used); err != nil || used != 1 {
			t.Fatalf("passkey use recorded %d times (%v)", used, err)
		}
		var audited int
		if err := adminConn(t).QueryRow(context.Background(), `SELECT count(*) FROM control.audit_log
			WHERE action = 'staff.mfa_login' AND target = $1 AND summary LIKE '%passkey "Virtual key"%'`, owner).Scan(&audited); err != nil || audited != 1 {
			t.Fatalf("passkey sign-in audited %d times (%v)", audited, err)
		}
	})

	t.Run("a bad signature is refused", func(t *testing.T) {
		signOut(t)
		signInWithPassword(t, "/login/mfa")
		bogus := true
		brDo(t, ctx, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
			_, err := cdp.Call(ctx, tab, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: authenticator, IsBogusSignature: &bogus})
			return err
		}), chromedp.Click(chromedp.ID("passkey-login-button")))
		msg := pkWaitFor(t, ctx, `(() => { const e = document.getElementById("passkey-login-error"); return e && !e.hidden ? e.textContent : ""; })()`)
		if !strings.Contains(msg, "not accepted") {
			t.Fatalf("a bogus signature: %q", msg)
		}
		brOpen(t, ctx, base, "/login/mfa") // still not signed in
	})
}

// pkWaitFor evaluates expr in the tab until it gives a non-empty string,
// through the navigations a passkey ceremony ends with (an evaluation
// interrupted by one is simply tried again).
func pkWaitFor(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	var lastErr error
	for deadline := time.Now().Add(stepTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		v, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil && v != "" {
			return v
		}
		lastErr = err
	}
	t.Fatalf("the page never answered %s (last error %v)", expr, lastErr)
	return ""
}
