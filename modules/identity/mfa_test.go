package identity

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
)

// testClock is a clock the test moves by hand: TOTP codes are computed for
// it in the test, and nothing sleeps.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.now = c.now.Add(d) }

// newMFA is the service under test, owners and admins required, on clock.
func newMFA(e env, clock *testClock) *MFA {
	return NewMFA(e.svc, MFAOptions{RequiredRoles: []string{RoleOwner, RoleAdmin}, Now: clock.Now})
}

// codeAt is the TOTP code of secret at t, as an authenticator app shows it.
func codeAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// enrolTOTP gives u an authenticator app and returns its secret and the
// recovery codes that came with it.
func enrolTOTP(t *testing.T, m *MFA, clock *testClock, u StaffUser, password string) (string, []string) {
	t.Helper()
	offer, err := m.NewTOTP(u)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := m.EnrolTOTP(context.Background(), u, offer.Secret, codeAt(t, offer.Secret, clock.Now()), password, uniqueIP())
	if err != nil {
		t.Fatalf("enrolling TOTP: %v", err)
	}
	return offer.Secret, codes
}

// platformActions lists the platform audit actions about email, oldest first.
func platformActions(t *testing.T, e env, prefix, email string) []string {
	t.Helper()
	entries, err := e.audit.Platform(context.Background(), audit.Filter{Action: prefix, Text: email})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, entries[i].Action)
	}
	return out
}

func TestMFATOTPCodes(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)}
	m := newMFA(e, clock)
	const pw = "totp test password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("totp"), Role: RoleTechnician, Password: pw})
	secret, recovery := enrolTOTP(t, m, clock, u, pw)
	if len(recovery) != 10 {
		t.Fatalf("enrolment gave %d recovery codes, want 10", len(recovery))
	}
	if f, err := m.Factors(ctx, u.ID); err != nil || !f.TOTP || f.RecoveryLeft != 10 {
		t.Fatalf("factors after enrolment: %+v, %v", f, err)
	}

	step := func(n int) time.Time { return clock.Now().Add(time.Duration(n) * totpPeriod * time.Second) }
	enrolCode := codeAt(t, secret, clock.Now())
	for _, tc := range []struct {
		name    string
		advance time.Duration // the clock moves before the attempt
		code    string
		ok      bool
	}{
		{"the code that confirmed the enrolment is spent", 0, enrolCode, false},
		{"a wrong code", 0, "000000", false},
		{"not a code at all", 0, "12345", false},
		{"the next step's code (clock skew)", 0, codeAt(t, secret, step(1)), true},
		{"the same code again is a replay", 0, codeAt(t, secret, step(1)), false},
		{"an earlier step than the last used is a replay", totpPeriod * time.Second, enrolCode, false},
		{"a fresh step, typed with spaces", 2 * totpPeriod * time.Second, "", true},
		{"a code two steps old is out of the window", 2 * totpPeriod * time.Second, codeAt(t, secret, step(0)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock.Add(tc.advance)
			code := tc.code
			if code == "" {
				c := codeAt(t, secret, clock.Now())
				code = c[:3] + " " + c[3:]
			}
			method, err := m.VerifyCode(ctx, u, code, uniqueIP())
			if tc.ok && (err != nil || method != "TOTP") {
				t.Fatalf("code %q refused: %s %v", code, method, err)
			}
			if !tc.ok && !errors.Is(err, ErrBadFactor) {
				t.Fatalf("code %q: err %v, want ErrBadFactor", code, err)
			}
		})
	}
	actions := platformActions(t, e, "staff.mfa", u.Email)
	if strings.Join(actions, " ") != "staff.mfa_totp_added staff.mfa_failed staff.mfa_failed staff.mfa_failed staff.mfa_login staff.mfa_failed staff.mfa_failed staff.mfa_login staff.mfa_failed" {
		t.Fatalf("audit trail: %v", actions)
	}
}

func TestMFARecoveryCodes(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := newMFA(e, clock)
	const pw = "recovery test password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("recovery"), Role: RoleTechnician, Password: pw})
	_, codes := enrolTOTP(t, m, clock, u, pw)

	// Only hashes are stored.
	var stored int
	if err := admin(t, `SELECT count(*) FROM control.staff_recovery_codes WHERE user_id = $1 AND code_hash = $2`,
		u.ID, sha256Of(normalizeCode(codes[0]))).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("the SHA-256 of the first code is stored %d times (%v), want once", stored, err)
	}
	var plain int
	if err := admin(t, `SELECT count(*) FROM control.staff_recovery_codes WHERE position(convert_to($1, 'UTF8') IN code_hash) > 0`, codes[0]).Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("a recovery code is stored as it is (%v)", err)
	}

	if method, err := m.VerifyCode(ctx, u, strings.ToUpper(codes[3]), uniqueIP()); err != nil || method != "recovery code" {
		t.Fatalf("first use of a recovery code: %s %v", method, err)
	}
	if _, err := m.VerifyCode(ctx, u, codes[3], uniqueIP()); !errors.Is(err, ErrBadFactor) {
		t.Fatalf("second use of one recovery code: %v, want ErrBadFactor", err)
	}
	if f, _ := m.Factors(ctx, u.ID); f.RecoveryLeft != 9 || f.RecoveryTotal != 10 {
		t.Fatalf("recovery codes left %d of %d, want 9 of 10", f.RecoveryLeft, f.RecoveryTotal)
	}
	// Another user's code is no code of this one.
	v, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("other"), Role: RoleTechnician, Password: pw})
	if _, err := m.VerifyCode(ctx, v, codes[4], uniqueIP()); !errors.Is(err, ErrBadFactor) {
		t.Fatalf("someone else's recovery code: %v", err)
	}

	renewed, err := m.RenewRecoveryCodes(ctx, u, pw, uniqueIP())
	if err != nil || len(renewed) != 10 {
		t.Fatalf("renewing: %d codes, %v", len(renewed), err)
	}
	if _, err := m.VerifyCode(ctx, u, codes[5], uniqueIP()); !errors.Is(err, ErrBadFactor) {
		t.Fatalf("an old code after renewal: %v", err)
	}
	if _, err := m.VerifyCode(ctx, u, renewed[0], uniqueIP()); err != nil {
		t.Fatalf("a renewed code: %v", err)
	}
}

func sha256Of(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

// TestMFAThrottle: failed codes block further attempts like failed
// passwords do, and signing in with the right password again does not
// clear them.
func TestMFAThrottle(t *testing.T) {
	setThrottle(t, 3, 100, time.Minute, time.Minute)
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := newMFA(e, clock)
	const pw = "throttle test password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("mfathrottle"), Role: RoleTechnician, Password: pw})
	secret, _ := enrolTOTP(t, m, clock, u, pw)
	ip := uniqueIP()
	for i := 0; i < 3; i++ {
		if _, err := m.VerifyCode(ctx, u, "999999", ip); !errors.Is(err, ErrBadFactor) {
			t.Fatalf("wrong code %d: %v", i, err)
		}
	}
	if _, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip); err != nil {
		t.Fatalf("the password still works: %v", err)
	}
	clock.Add(totpPeriod * time.Second)
	var throttled *ThrottledError
	if _, err := m.VerifyCode(ctx, u, codeAt(t, secret, clock.Now()), ip); !errors.As(err, &throttled) {
		t.Fatalf("the right code after 3 failures: %v, want *ThrottledError", err)
	}
	if err := m.RemoveTOTP(ctx, u, pw, ip); !errors.As(err, &throttled) {
		t.Fatalf("confirming a change while blocked: %v, want *ThrottledError", err)
	}
}

// TestMFAChangesNeedConfirmation: adding or removing a factor needs the
// password or a current code, and a role that requires a factor cannot
// drop its last one.
func TestMFAChangesNeedConfirmation(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := newMFA(e, clock)
	const pw = "confirm test password"
	owner, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("mfaowner"), Role: RoleOwner, Password: pw})
	offer, err := m.NewTOTP(owner)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(offer.URI, "otpauth://totp/Switchboard:") || !strings.Contains(offer.URI, "secret="+offer.Secret) ||
		!strings.HasPrefix(string(offer.QR), "<svg ") || !strings.Contains(string(offer.QR), `<path fill="#000" d="M`) {
		t.Fatalf("offer: %s\n%.200s", offer.URI, offer.QR)
	}
	good := codeAt(t, offer.Secret, clock.Now())
	for _, tc := range []struct {
		name          string
		secret, code  string
		confirm       string
		want          error
		wantFaultKind error
	}{
		{"no confirmation", offer.Secret, good, "", nil, fault.Invalid},
		{"wrong password", offer.Secret, good, "not the password", ErrBadConfirm, nil},
		{"wrong code for the new secret", offer.Secret, "123456", pw, nil, fault.Invalid},
		{"malformed secret", "abc", good, pw, nil, fault.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.EnrolTOTP(ctx, owner, tc.secret, tc.code, tc.confirm, uniqueIP())
			if (tc.want != nil && !errors.Is(err, tc.want)) || (tc.wantFaultKind != nil && fault.KindOf(err) != tc.wantFaultKind) {
				t.Fatalf("err %v", err)
			}
			if f, _ := m.Factors(ctx, owner.ID); f.Any() || f.RecoveryTotal != 0 {
				t.Fatalf("a refused enrolment stored something: %+v", f)
			}
		})
	}
	if _, err := m.EnrolTOTP(ctx, owner, offer.Secret, good, pw, uniqueIP()); err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnrolTOTP(ctx, owner, offer.Secret, good, pw, uniqueIP()); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("a second authenticator app: %v, want a conflict", err)
	}
	if err := m.RemoveTOTP(ctx, owner, pw, uniqueIP()); !errors.Is(err, ErrFactorRequired) {
		t.Fatalf("an owner removing their only factor: %v, want ErrFactorRequired", err)
	}
	if f, _ := m.Factors(ctx, owner.ID); !f.TOTP {
		t.Fatal("the refused removal removed the factor")
	}

	tech, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("mfatech"), Role: RoleTechnician, Password: pw})
	enrolTOTP(t, m, clock, tech, pw)
	if err := m.RemoveTOTP(ctx, tech, "wrong password", uniqueIP()); !errors.Is(err, ErrBadConfirm) {
		t.Fatalf("removing with a wrong password: %v", err)
	}
	if err := m.RemoveTOTP(ctx, tech, pw, uniqueIP()); err != nil {
		t.Fatal(err)
	}
	if f, _ := m.Factors(ctx, tech.ID); f.Any() || f.RecoveryTotal != 0 {
		t.Fatalf("after removing the last factor: %+v, want nothing (recovery codes go with it)", f)
	}
	if err := m.RemoveTOTP(ctx, tech, "", uniqueIP()); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("removing what is not there: %v, want a conflict (before any confirmation)", err)
	}
	want := "staff.mfa_totp_added staff.mfa_confirm_failed staff.mfa_totp_removed"
	if got := strings.Join(platformActions(t, e, "staff.mfa", tech.Email), " "); got != want {
		t.Fatalf("audit trail %q, want %q", got, want)
	}
}

// TestMFAReset: the operator's reset removes every factor and code, ends
// the user's sessions and is audited.
func TestMFAReset(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	m := newMFA(e, clock)
	const pw = "reset test password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("mfareset"), Role: RoleAdmin, Password: pw})
	enrolTOTP(t, m, clock, u, pw)
	adminExec(t, `INSERT INTO control.sessions (token_hash, subject, data, expiry) VALUES ($1, $2, '', now() + interval '1 hour')`, "mfa-reset-"+u.Email, u.Subject())

	before, err := e.svc.ResetMFA(ctx, u.Email)
	if err != nil || !before.TOTP || before.RecoveryTotal != 10 {
		t.Fatalf("reset: %+v, %v", before, err)
	}
	if f, _ := m.Factors(ctx, u.ID); f.Any() || f.RecoveryTotal != 0 {
		t.Fatalf("after the reset: %+v", f)
	}
	if n := sessionCount(t, u.Subject()); n != 0 {
		t.Fatalf("%d session(s) left after the reset", n)
	}
	if got := platformActions(t, e, "staff.mfa_reset", u.Email); len(got) != 1 {
		t.Fatalf("audit: %v", got)
	}
	for _, bad := range []string{"nobody-" + uniqueEmail("x"), "not an e-mail"} {
		if _, err := e.svc.ResetMFA(ctx, bad); fault.KindOf(err) != fault.NotFound && fault.KindOf(err) != fault.Invalid {
			t.Fatalf("reset of %q: %v", bad, err)
		}
	}
}

func TestMFARelyingParty(t *testing.T) {
	m := NewMFA(nil, MFAOptions{})
	for _, tc := range []struct{ scheme, host, id, origin string }{
		{"http", "localhost:8080", "localhost", "http://localhost:8080"},
		{"https", "Console.MSP.example", "console.msp.example", "https://console.msp.example"},
		{"http", "127.0.0.1:8080", "", ""},
		{"http", "[::1]:8080", "", ""},
	} {
		rp, err := m.NewRelyingParty(tc.scheme, tc.host)
		if tc.id == "" {
			if fault.KindOf(err) != fault.Invalid {
				t.Errorf("%s: %+v %v, want refused (browsers take no IP address as relying party)", tc.host, rp, err)
			}
			continue
		}
		if err != nil || rp.ID != tc.id || rp.Origin != tc.origin {
			t.Errorf("%s: %+v %v", tc.host, rp, err)
		}
	}
}

// TestMFASecretEncryptedAtRest: with sso.secret_key the TOTP secret is
// stored encrypted and bound to its user; without the key such a secret
// cannot be used (a recovery code still can), and a secret stored before a
// key was configured keeps working after.
func TestMFASecretEncryptedAtRest(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	key := []byte("0123456789abcdef0123456789abcdef")
	keyed := NewMFA(NewService(e.cluster, e.tenants, quiet, WithSSO(SSOOptions{SecretKey: key})), MFAOptions{Now: clock.Now})
	plain := newMFA(e, clock)
	const pw = "encrypted secret password"

	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("sealed"), Role: RoleTechnician, Password: pw})
	secret, recovery := enrolTOTP(t, keyed, clock, u, pw)
	var stored string
	if err := admin(t, `SELECT secret FROM control.staff_totp WHERE user_id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, secret) {
		t.Fatalf("stored secret %q: want it encrypted", stored)
	}
	clock.Add(totpPeriod * time.Second)
	if _, err := keyed.VerifyCode(ctx, u, codeAt(t, secret, clock.Now()), uniqueIP()); err != nil {
		t.Fatalf("a code with the key: %v", err)
	}
	clock.Add(totpPeriod * time.Second)
	if _, err := plain.VerifyCode(ctx, u, codeAt(t, secret, clock.Now()), uniqueIP()); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("a code without the key: %v, want unavailable", err)
	}
	if _, err := plain.VerifyCode(ctx, u, recovery[0], uniqueIP()); err != nil {
		t.Fatalf("a recovery code without the key: %v", err)
	}

	// Copied to another user's row, the sealed secret does not open.
	v, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("copied"), Role: RoleTechnician, Password: pw})
	adminExec(t, `INSERT INTO control.staff_totp (user_id, secret) VALUES ($1, $2)`, v.ID, stored)
	if _, err := keyed.VerifyCode(ctx, v, codeAt(t, secret, clock.Now()), uniqueIP()); fault.KindOf(err) != fault.Unavailable {
		t.Fatalf("a secret copied to another user: %v, want it refused", err)
	}

	w, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("before-key"), Role: RoleTechnician, Password: pw})
	old, _ := enrolTOTP(t, plain, clock, w, pw)
	clock.Add(totpPeriod * time.Second)
	if _, err := keyed.VerifyCode(ctx, w, codeAt(t, old, clock.Now()), uniqueIP()); err != nil {
		t.Fatalf("a secret stored before the key was set: %v", err)
	}
}
