package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/modules/audit"
)

// setThrottle lowers the throttle settings for one test and restores them.
func setThrottle(t *testing.T, account, ip int, win, block time.Duration) {
	t.Helper()
	a, i, w, b := accountLimit, ipLimit, window, blockFor
	t.Cleanup(func() { accountLimit, ipLimit, window, blockFor = a, i, w, b })
	accountLimit, ipLimit, window, blockFor = account, ip, win, block
}

func TestAuthenticateStaffSuccess(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	email, ip := uniqueEmail("login"), uniqueIP()
	const pw = "a long enough password"
	u, _ := e.newStaff(t, StaffInput{Email: email, Role: RoleAdmin, Password: pw})
	start := time.Now()
	got, err := e.svc.AuthenticateStaff(ctx, "  "+email+"  ", pw, ip)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != email || got.Role != RoleAdmin {
		t.Fatalf("signed in as %+v, want %s", got, email)
	}
	after, err := e.svc.StaffByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastLoginAt == nil || after.LastLoginAt.Before(start.Add(-time.Minute)) {
		t.Fatalf("last_login_at not recorded: %v", after.LastLoginAt)
	}
	entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.login", Text: email})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != email || entries[0].Target != email || entries[0].ClientIP != ip {
		t.Fatalf("want one staff.login entry by %s from %s, got %+v", email, ip, entries)
	}
}

// TestBadLoginsLookAlike: whatever is wrong, the answer is the same error
// value, so it never tells whether the e-mail exists.
func TestBadLoginsLookAlike(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	const pw = "the right password"
	active, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("active"), Role: RoleTechnician, Password: pw})
	disabled, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("disabled"), Role: RoleTechnician, Password: pw})
	if _, err := e.svc.SetStaffDisabled(ctx, disabled.Email, true); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, email, pw string }{
		{"wrong password", active.Email, "not the right password"},
		{"unknown e-mail", uniqueEmail("nobody"), pw},
		{"disabled account, right password", disabled.Email, pw},
		{"not an e-mail", "nobody", pw},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u, err := e.svc.AuthenticateStaff(ctx, tc.email, tc.pw, uniqueIP())
			if err != ErrBadLogin { // the very same value, not just one that wraps it
				t.Fatalf("want exactly ErrBadLogin, got %#v", err)
			}
			if err.Error() != "invalid email or password" || u.ID != 0 || u.Email != "" {
				t.Fatalf("answer leaks something: %q, %+v", err, u)
			}
		})
	}
	var last *time.Time
	if err := admin(t, `SELECT last_login_at FROM control.staff_users WHERE id = $1`, disabled.ID).Scan(&last); err != nil || last != nil {
		t.Fatalf("a refused login of a disabled user recorded last_login_at %v (%v)", last, err)
	}
}

func TestAccountThrottle(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	setThrottle(t, 5, 30, 15*time.Minute, 10*time.Minute)
	const pw = "the right password"
	victim, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("victim"), Role: RoleTechnician, Password: pw})
	bystander, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("bystander"), Role: RoleTechnician, Password: pw})
	ip := uniqueIP()
	for i := range accountLimit {
		if _, err := e.svc.AuthenticateStaff(ctx, victim.Email, "wrong password", ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: want ErrBadLogin, got %v", i+1, err)
		}
	}
	// Blocked now, even with the right password and from another address.
	for _, from := range []string{ip, uniqueIP()} {
		_, err := e.svc.AuthenticateStaff(ctx, victim.Email, pw, from)
		var th *ThrottledError
		if !errors.As(err, &th) {
			t.Fatalf("after %d failures from %s: want *ThrottledError, got %v", accountLimit, from, err)
		}
		if th.RetryAfter <= blockFor-time.Minute || th.RetryAfter > blockFor {
			t.Fatalf("RetryAfter %v, want just under %v", th.RetryAfter, blockFor)
		}
	}
	// The account limit is per account: another user from the same IP signs in.
	if u, err := e.svc.AuthenticateStaff(ctx, bystander.Email, pw, ip); err != nil || u.ID != bystander.ID {
		t.Fatalf("another account from the same IP: %v", err)
	}
	// The block is per e-mail, whatever its spelling.
	var th *ThrottledError
	if _, err := e.svc.AuthenticateStaff(ctx, "  "+strings.ToUpper(victim.Email), pw, uniqueIP()); !errors.As(err, &th) {
		t.Fatalf("upper-cased e-mail got past the block: %v", err)
	}
}

func TestIPThrottle(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	setThrottle(t, 5, 3, 15*time.Minute, 15*time.Minute)
	const pw = "the right password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("ipvictim"), Role: RoleTechnician, Password: pw})
	ip := uniqueIP()
	// Each failure is for another (unknown) account: only the IP adds up.
	for i := range ipLimit {
		if _, err := e.svc.AuthenticateStaff(ctx, uniqueEmail("spray"), pw, ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d: want ErrBadLogin, got %v", i+1, err)
		}
	}
	var th *ThrottledError
	if _, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip); !errors.As(err, &th) || th.RetryAfter <= 0 {
		t.Fatalf("right password from a blocked IP: want *ThrottledError, got %v", err)
	}
	if got, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, uniqueIP()); err != nil || got.ID != u.ID {
		t.Fatalf("the same account from another IP: %v", err)
	}
}

func TestSuccessClearsAccountFailures(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	setThrottle(t, 3, 30, 15*time.Minute, 15*time.Minute)
	const pw = "the right password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("clears"), Role: RoleTechnician, Password: pw})
	ip := uniqueIP()
	failures := func() int {
		var n int
		if err := admin(t, `SELECT coalesce((SELECT failures FROM control.login_throttle WHERE key = $1), 0)`, accountKey(u.Email)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Twice: limit-1 failures, then a success. Without the reset the second
	// round would reach the limit and block.
	for round := range 2 {
		for range accountLimit - 1 {
			if _, err := e.svc.AuthenticateStaff(ctx, u.Email, "wrong password", ip); !errors.Is(err, ErrBadLogin) {
				t.Fatalf("round %d: want ErrBadLogin, got %v", round, err)
			}
		}
		if n := failures(); n != accountLimit-1 {
			t.Fatalf("round %d: %d failures counted, want %d", round, n, accountLimit-1)
		}
		if _, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip); err != nil {
			t.Fatalf("round %d: right password: %v", round, err)
		}
		if n := failures(); n != 0 {
			t.Fatalf("round %d: %d failures still counted after a success", round, n)
		}
	}
}

func TestThrottleBlockExpires(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	// Long enough that the failed attempts (argon2 each) finish well inside it on a busy machine.
	block := 3 * time.Second
	setThrottle(t, 2, 30, 15*time.Minute, block)
	const pw = "the right password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("expires"), Role: RoleTechnician, Password: pw})
	ip := uniqueIP()
	for range accountLimit {
		if _, err := e.svc.AuthenticateStaff(ctx, u.Email, "wrong password", ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("want ErrBadLogin, got %v", err)
		}
	}
	var th *ThrottledError
	_, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip)
	if !errors.As(err, &th) || th.RetryAfter <= 0 || th.RetryAfter > block {
		t.Fatalf("want *ThrottledError with 0 < RetryAfter <= %v, got %v", block, err)
	}
	time.Sleep(th.RetryAfter + 100*time.Millisecond)
	if _, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip); err != nil {
		t.Fatalf("after the block ran out: %v", err)
	}
}

// TestUnknownEmailCostsAHash: a failed login for an e-mail that does not
// exist takes about as long as one with a wrong password (both run argon2id);
// answering at once would tell an attacker which e-mails exist.
func TestUnknownEmailCostsAHash(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("timing"), Role: RoleTechnician, Password: "the right password"})
	ip := uniqueIP()
	fastest := func(email string) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			if _, err := e.svc.AuthenticateStaff(ctx, email, "wrong password", ip); !errors.Is(err, ErrBadLogin) {
				t.Fatalf("want ErrBadLogin, got %v", err)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	known := fastest(u.Email)
	unknown := fastest(uniqueEmail("ghost"))
	ratios := []float64{float64(known) / float64(unknown), float64(unknown) / float64(known)}
	if slices.Max(ratios) > 3 {
		t.Fatalf("wrong password took %v, unknown e-mail %v: more than 3× apart", known, unknown)
	}
}

// TestAccountThrottleUnderConcurrency: the limit bounds how many passwords
// are tried against one account, also when the guesses arrive in parallel.
// The check ("blocked?") and the count ("one more failure") are separate
// statements with ~30 ms of hashing between them; the superuser holds the
// account's throttle row locked to make that window deterministic: every
// guess has passed the check and is waiting to count its failure.
func TestAccountThrottleUnderConcurrency(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	setThrottle(t, 3, 100, 15*time.Minute, 15*time.Minute)
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("parallel"), Role: RoleTechnician, Password: "the right password"})
	// One failure first, so the throttle row exists and can be locked.
	if _, err := e.svc.AuthenticateStaff(ctx, u.Email, "guess 0", uniqueIP()); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("want ErrBadLogin, got %v", err)
	}
	lock := superuser(t)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM control.login_throttle WHERE key = $1 FOR UPDATE`, accountKey(u.Email)); err != nil {
		t.Fatal(err)
	}

	const guesses = 6
	errs := make([]error, guesses)
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Go(func() {
			_, errs[i] = e.svc.AuthenticateStaff(ctx, u.Email, fmt.Sprintf("guess %d", i+1), uniqueIP())
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		if err := admin(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= guesses {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	tried := 1 // guess 0
	for _, err := range errs {
		var th *ThrottledError
		switch {
		case errors.Is(err, ErrBadLogin):
			tried++
		case errors.As(err, &th):
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if tried > accountLimit {
		t.Errorf("%d passwords were tried against one account; the limit is %d", tried, accountLimit)
	}
}
