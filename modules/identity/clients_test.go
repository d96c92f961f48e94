package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"switchboard/modules/audit"
	"switchboard/modules/tenants"
)

// clientRow reads a client user straight from a tenant schema, as the superuser.
func clientRow(t *testing.T, tn tenants.Tenant, email string) (hash string, disabled bool, found bool) {
	t.Helper()
	var n int
	q := fmt.Sprintf(`SELECT count(*), coalesce(max(password_hash), ''), coalesce(bool_or(disabled_at IS NOT NULL), false) FROM %s.users WHERE email = $1`, tn.SchemaName)
	if err := admin(t, q, email).Scan(&n, &hash, &disabled); err != nil {
		t.Fatal(err)
	}
	return hash, disabled, n == 1
}

func activeUsers(t *testing.T, tn tenants.Tenant) int {
	t.Helper()
	var n int
	if err := admin(t, `SELECT coalesce((SELECT active_users FROM control.tenant_rollups WHERE tenant_id = $1), 0)`, tn.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func clientSessions(t *testing.T, tn tenants.Tenant, subject string) int {
	t.Helper()
	var n int
	if err := admin(t, fmt.Sprintf(`SELECT count(*) FROM %s.sessions WHERE subject = $1`, tn.SchemaName), subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func addClientSession(t *testing.T, tn tenants.Tenant, subject string) {
	t.Helper()
	adminExec(t, fmt.Sprintf(`INSERT INTO %s.sessions (token_hash, subject, data, expiry) VALUES ($1, $2, '\x00', now() + interval '1 hour')`, tn.SchemaName),
		uniqueSlug("hash"), subject)
}

func TestCreateClientUserStaysInItsTenant(t *testing.T) {
	e := openEnv(t)
	a, scopeA := e.newTenant(t, "client-a")
	b, scopeB := e.newTenant(t, "client-b")
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example", ClientIP: "192.0.2.10"})
	email := uniqueEmail("Pat")
	u, pw, err := e.svc.CreateClientUser(ctx, scopeA, ClientInput{Email: email, Name: "Pat", Role: RoleClientAdmin})
	if err != nil {
		t.Fatal(err)
	}
	norm, _ := NormalizeEmail(email)
	if u.ID == 0 || u.Email != norm || u.Role != RoleClientAdmin || len(pw) != 24 {
		t.Fatalf("created %+v with password %q", u, pw)
	}
	hash, _, found := clientRow(t, a, norm)
	if !found || hash == pw || !VerifyPassword(hash, pw) {
		t.Fatalf("tenant A's users table: found %v, hash matches the password %v", found, found && VerifyPassword(hash, pw))
	}
	if _, _, found := clientRow(t, b, norm); found {
		t.Fatal("the user was written into tenant B's schema too")
	}
	var staff int
	if err := admin(t, `SELECT count(*) FROM control.staff_users WHERE email = $1`, norm).Scan(&staff); err != nil || staff != 0 {
		t.Fatalf("a client user became a staff user (%d, %v)", staff, err)
	}

	listA, err := e.svc.ListClientUsers(ctx, scopeA)
	if err != nil || !slices.ContainsFunc(listA, func(x ClientUser) bool { return x.ID == u.ID && x.Email == norm }) {
		t.Fatalf("ListClientUsers(A) = %+v, %v", listA, err)
	}
	listB, err := e.svc.ListClientUsers(ctx, scopeB)
	if err != nil || len(listB) != 0 {
		t.Fatalf("ListClientUsers(B) = %+v, %v", listB, err)
	}

	// The same address is a different person in another tenant.
	if _, _, err := e.svc.CreateClientUser(ctx, scopeB, ClientInput{Email: email, Role: RoleClientUser}); err != nil {
		t.Fatalf("same e-mail in another tenant: %v", err)
	}
	listB, _ = e.svc.ListClientUsers(ctx, scopeB)
	if len(listB) != 1 || listB[0].Role != RoleClientUser {
		t.Fatalf("tenant B after its own create: %+v", listB)
	}

	entries, err := e.audit.Tenant(ctx, scopeA, audit.Filter{Action: "user.created"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("tenant A's audit log: %+v, %v", entries, err)
	}
	if en := entries[0]; en.Actor != "tech@msp.example" || en.ClientIP != "192.0.2.10" || en.Target != norm {
		t.Fatalf("audit entry %+v", en)
	}
}

func TestCreateClientUserRejectsBadInput(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	tn, scope := e.newTenant(t, "client-bad")
	taken := uniqueEmail("taken")
	if _, _, err := e.svc.CreateClientUser(ctx, scope, ClientInput{Email: taken, Role: RoleClientUser}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   ClientInput
		want error
	}{
		{"duplicate", ClientInput{Email: taken, Role: RoleClientUser}, ErrConflict},
		{"duplicate, other case", ClientInput{Email: " " + strings.ToUpper(taken), Role: RoleClientAdmin}, ErrConflict},
		{"staff role", ClientInput{Role: RoleOwner}, ErrInvalid},
		{"technician role", ClientInput{Role: RoleTechnician}, ErrInvalid},
		{"empty role", ClientInput{}, ErrInvalid},
		{"unknown role", ClientInput{Role: "client_owner"}, ErrInvalid},
		{"bad e-mail", ClientInput{Email: "Pat <pat@example.com>", Role: RoleClientUser}, ErrInvalid},
		{"name with newline", ClientInput{Name: "a\r\nb", Role: RoleClientUser}, ErrInvalid},
		{"short password", ClientInput{Role: RoleClientUser, Password: "eleven char"}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Email == "" {
				in.Email = uniqueEmail("bad")
			}
			before := activeUsers(t, tn)
			if _, _, err := e.svc.CreateClientUser(ctx, scope, in); !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if after := activeUsers(t, tn); after != before {
				t.Fatalf("a failed create moved active_users %d → %d", before, after)
			}
			users, err := e.svc.ListClientUsers(ctx, scope)
			if err != nil || len(users) != 1 {
				t.Fatalf("after a failed create the tenant has %d users (%v)", len(users), err)
			}
		})
	}
}

func TestClientUserLifecycle(t *testing.T) {
	e := openEnv(t)
	a, scopeA := e.newTenant(t, "life-a")
	b, scopeB := e.newTenant(t, "life-b")
	origin := audit.Origin{Actor: "admin@msp.example", ClientIP: "192.0.2.77"}
	ctx := audit.WithOrigin(context.Background(), origin)

	if n := activeUsers(t, a); n != 0 {
		t.Fatalf("a new tenant counts %d active users", n)
	}
	const firstPw = "the first password"
	u, _, err := e.svc.CreateClientUser(ctx, scopeA, ClientInput{Email: uniqueEmail("life"), Role: RoleClientUser, Password: firstPw})
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := e.svc.CreateClientUser(ctx, scopeA, ClientInput{Email: uniqueEmail("other"), Role: RoleClientAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateClientUser(ctx, scopeB, ClientInput{Email: uniqueEmail("b"), Role: RoleClientUser}); err != nil {
		t.Fatal(err)
	}
	if na, nb := activeUsers(t, a), activeUsers(t, b); na != 2 || nb != 1 {
		t.Fatalf("active_users after creates: A %d (want 2), B %d (want 1)", na, nb)
	}

	subject, otherSubject := ClientSubject(a.ID, u.ID), ClientSubject(a.ID, other.ID)
	addClientSession(t, a, subject)
	addClientSession(t, a, otherSubject)

	steps := []struct {
		name     string
		do       func() error
		disabled bool
		active   int
	}{
		{"disable", func() error { _, err := e.svc.SetClientDisabled(ctx, scopeA, u.Email, true); return err }, true, 1},
		{"disable again", func() error { _, err := e.svc.SetClientDisabled(ctx, scopeA, u.Email, true); return err }, true, 1},
		{"enable", func() error { _, err := e.svc.SetClientDisabled(ctx, scopeA, u.Email, false); return err }, false, 2},
		{"enable again", func() error { _, err := e.svc.SetClientDisabled(ctx, scopeA, u.Email, false); return err }, false, 2},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		got, err := e.svc.ClientUserByEmail(ctx, scopeA, u.Email)
		if err != nil || (got.DisabledAt != nil) != st.disabled {
			t.Fatalf("%s: user %+v, %v", st.name, got, err)
		}
		if n := activeUsers(t, a); n != st.active {
			t.Fatalf("%s: active_users %d, want %d", st.name, n, st.active)
		}
		if n := activeUsers(t, b); n != 1 {
			t.Fatalf("%s: tenant B's active_users moved to %d", st.name, n)
		}
	}
	if n, m := clientSessions(t, a, subject), clientSessions(t, a, otherSubject); n != 0 || m != 1 {
		t.Fatalf("after disabling: %d sessions of the user left (want 0), %d of another user (want 1)", n, m)
	}

	addClientSession(t, a, subject)
	newPw, err := e.svc.ResetClientPassword(ctx, scopeA, u.Email, "")
	if err != nil {
		t.Fatal(err)
	}
	hash, _, _ := clientRow(t, a, u.Email)
	if len(newPw) != 24 || !VerifyPassword(hash, newPw) || VerifyPassword(hash, firstPw) {
		t.Fatal("the stored hash is not the new password's")
	}
	if n, m := clientSessions(t, a, subject), clientSessions(t, a, otherSubject); n != 0 || m != 1 {
		t.Fatalf("after the reset: %d sessions of the user left (want 0), %d of another user (want 1)", n, m)
	}
	if _, err := e.svc.ResetClientPassword(ctx, scopeA, u.Email, "too short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("short password: want ErrInvalid, got %v", err)
	}

	for _, op := range []func() error{
		func() error { _, err := e.svc.SetClientDisabled(ctx, scopeB, u.Email, true); return err },
		func() error { _, err := e.svc.ResetClientPassword(ctx, scopeB, u.Email, ""); return err },
		func() error { _, err := e.svc.ClientUserByEmail(ctx, scopeB, u.Email); return err },
	} {
		if err := op(); !errors.Is(err, ErrNotFound) {
			t.Fatalf("tenant A's user through tenant B: want ErrNotFound, got %v", err)
		}
	}

	// Every change that happened is in A's log, newest first, by the origin's actor;
	// the repeated no-op disable/enable wrote nothing.
	entries, err := e.audit.Tenant(ctx, scopeA, audit.Filter{Text: u.Email})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
		if en.Actor != origin.Actor || en.ClientIP != origin.ClientIP || en.Target != u.Email {
			t.Fatalf("audit entry %+v, want actor %+v", en, origin)
		}
	}
	want := []string{"user.password_reset", "user.enabled", "user.disabled", "user.created"}
	if !slices.Equal(actions, want) {
		t.Fatalf("tenant A's log for %s: %v, want %v", u.Email, actions, want)
	}
	if inB, err := e.audit.Tenant(ctx, scopeB, audit.Filter{Text: u.Email}); err != nil || len(inB) != 0 {
		t.Fatalf("tenant B's log mentions A's user: %+v %v", inB, err)
	}
}
