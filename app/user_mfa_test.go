package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/modules/audit"
	"switchboard/modules/identity"
)

// TestMFAResetCLI: `user mfa reset EMAIL` removes a staff user's factors and
// recovery codes and says what it removed; bad input is one line and exit
// status 2, and changes nothing.
func TestMFAResetCLI(t *testing.T) {
	ctx := context.Background()
	e, _ := mfaServer(t)
	const pw = "mfa-reset-password-1"
	email := "mfa-reset-cli@msp.example"
	u, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: email, Role: "admin", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := e.mfa.NewTOTP(u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.mfa.EnrolTOTP(ctx, u, offer.Secret, totpCode(t, offer.Secret, 0), pw, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	factors := func() identity.Factors {
		f, err := e.mfa.Factors(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no e-mail", []string{"user", "mfa", "reset"}, "accepts 1 arg"},
		{"two e-mails", []string{"user", "mfa", "reset", email, "other@msp.example"}, "accepts 1 arg"},
		{"unknown user", []string{"user", "mfa", "reset", "nobody@msp.example"}, "no such staff user"},
		{"not an e-mail", []string{"user", "mfa", "reset", "not an e-mail"}, "not a valid e-mail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.args...)
			expect(t, r, 2, tc.says)
			if msg := strings.TrimSpace(r.errMsg); strings.Contains(msg, "\n") {
				t.Errorf("more than one line: %q", msg)
			}
			if f := factors(); !f.TOTP || f.RecoveryTotal != 10 {
				t.Fatalf("a refused reset changed the factors: %+v", f)
			}
		})
	}

	since := time.Now().Add(-time.Minute)
	expect(t, cli(t, "user", "mfa", "reset", strings.ToUpper(email)), 0,
		"second factors of", "authenticator app: true, passkeys: 0, recovery codes: 10", "sessions are ended")
	if f := factors(); f.Any() || f.RecoveryTotal != 0 {
		t.Fatalf("after the reset: %+v", f)
	}
	entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.mfa_reset", Text: email, Since: since})
	if err != nil || len(entries) != 1 || !strings.Contains(entries[0].Summary, "sessions ended") {
		t.Fatalf("audit: %+v (%v)", entries, err)
	}
	expect(t, cli(t, "user", "mfa", "reset", email), 0, "authenticator app: false, passkeys: 0, recovery codes: 0")
}
