package identity

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestIPThrottlePerSurface: an IP blocked on one client's portal is blocked
// there only; the console and another client's portal still let it sign in,
// and its block on the console does not reach the portals either. The
// per-account limit is unchanged (TestAccountThrottle).
func TestIPThrottlePerSurface(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	setThrottle(t, 5, 3, 15*time.Minute, 15*time.Minute)
	const pw = "the right password"
	staff, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("surface-staff"), Role: RoleTechnician, Password: pw})
	_, a := e.newTenant(t, "surface-a")
	_, b := e.newTenant(t, "surface-b")
	userA, userB := uniqueEmail("surface-a"), uniqueEmail("surface-b")
	if _, _, err := e.svc.CreateClientUser(ctx, a, ClientInput{Email: userA, Role: RoleClientUser, Password: pw}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateClientUser(ctx, b, ClientInput{Email: userB, Role: RoleClientUser, Password: pw}); err != nil {
		t.Fatal(err)
	}
	ip := uniqueIP()
	var th *ThrottledError
	for i := range ipLimit { // unknown accounts: only the IP adds up
		if _, err := e.svc.AuthenticateClient(ctx, a, uniqueEmail("spray"), pw, ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("failure %d on A's portal: want ErrBadLogin, got %v", i+1, err)
		}
	}
	if _, err := e.svc.AuthenticateClient(ctx, a, userA, pw, ip); !errors.As(err, &th) {
		t.Fatalf("right password on A's portal from the blocked IP: want *ThrottledError, got %v", err)
	}
	if _, err := e.svc.AuthenticateClient(ctx, b, userB, pw, ip); err != nil {
		t.Fatalf("B's portal from the IP blocked on A's: %v", err)
	}
	if _, err := e.svc.AuthenticateStaff(ctx, staff.Email, pw, ip); err != nil {
		t.Fatalf("the console from the IP blocked on A's portal: %v", err)
	}

	// And the other way: blocked on the console, the portals stay open.
	for range ipLimit {
		if _, err := e.svc.AuthenticateStaff(ctx, uniqueEmail("spray"), pw, ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("console failure: want ErrBadLogin, got %v", err)
		}
	}
	if _, err := e.svc.AuthenticateStaff(ctx, staff.Email, pw, ip); !errors.As(err, &th) {
		t.Fatalf("the console from its blocked IP: want *ThrottledError, got %v", err)
	}
	if _, err := e.svc.AuthenticateClient(ctx, b, userB, pw, ip); err != nil {
		t.Fatalf("B's portal from the IP blocked on the console: %v", err)
	}
}
