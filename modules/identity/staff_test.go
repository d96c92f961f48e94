package identity

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
)

func TestCreateStaffWithGeneratedPassword(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	typed := uniqueEmail("New.Tech")
	email := strings.ToLower(typed)
	u, pw, err := e.svc.CreateStaff(ctx, StaffInput{Email: "  " + typed + " ", Name: "New Tech", Role: RoleTechnician})
	if err != nil {
		t.Fatal(err)
	}
	if u.ID == 0 || u.Email != email || u.Role != RoleTechnician || u.TenantScope != ScopeAll || u.DisabledAt != nil || u.LastLoginAt != nil {
		t.Fatalf("unexpected user %+v", u)
	}
	if err := checkPassword(pw); err != nil || len(pw) != 24 {
		t.Fatalf("generated password %q: %v", pw, err)
	}
	var stored string
	if err := admin(t, `SELECT password_hash FROM control.staff_users WHERE id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored == pw || !VerifyPassword(stored, pw) {
		t.Fatal("the stored hash does not match the returned password (or is the password)")
	}
	got, err := e.svc.AuthenticateStaff(ctx, email, pw, uniqueIP())
	if err != nil || got.ID != u.ID {
		t.Fatalf("signing in with the generated password: %+v, %v", got, err)
	}
	entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.created", Text: email})
	if err != nil || len(entries) != 1 {
		t.Fatalf("want one staff.created entry for %s, got %v (%v)", email, entries, err)
	}
}

func TestCreateStaffRejectsBadInput(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	tn, _ := e.newTenant(t, "grant")
	taken := uniqueEmail("taken")
	e.newStaff(t, StaffInput{Email: taken, Role: RoleAdmin})
	cases := []struct {
		name string
		in   StaffInput
		want error
	}{
		{"duplicate", StaffInput{Email: taken, Role: RoleTechnician}, ErrConflict},
		{"duplicate in other case", StaffInput{Email: " " + strings.ToUpper(taken), Role: RoleTechnician}, ErrConflict},
		{"owner with list scope", StaffInput{Role: RoleOwner, Scope: ScopeList, Tenants: []string{tn.Slug}}, ErrInvalid},
		{"admin with all-except scope", StaffInput{Role: RoleAdmin, Scope: ScopeAllExcept, Tenants: []string{tn.Slug}}, ErrInvalid},
		{"technician list without tenants", StaffInput{Role: RoleTechnician, Scope: ScopeList}, ErrInvalid},
		{"technician all-except without tenants", StaffInput{Role: RoleTechnician, Scope: ScopeAllExcept}, ErrInvalid},
		{"all with tenants", StaffInput{Role: RoleTechnician, Scope: ScopeAll, Tenants: []string{tn.Slug}}, ErrInvalid},
		{"unknown tenant slug", StaffInput{Role: RoleTechnician, Scope: ScopeList, Tenants: []string{tn.Slug, "no-such-tenant"}}, ErrInvalid},
		{"unknown scope", StaffInput{Role: RoleTechnician, Scope: "some"}, ErrInvalid},
		{"unknown role", StaffInput{Role: "root"}, ErrInvalid},
		{"client role", StaffInput{Role: RoleClientAdmin}, ErrInvalid},
		{"bad e-mail", StaffInput{Email: "not an e-mail", Role: RoleTechnician}, ErrInvalid},
		{"name with newline", StaffInput{Name: "a\nb", Role: RoleTechnician}, ErrInvalid},
		{"short password", StaffInput{Role: RoleTechnician, Password: "short"}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.Email == "" {
				in.Email = uniqueEmail("bad")
			}
			var before int
			if err := admin(t, `SELECT count(*) FROM control.staff_users`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			_, pw, err := e.svc.CreateStaff(ctx, in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			if pw != "" {
				t.Fatal("a failed create returned a password")
			}
			var after int
			if err := admin(t, `SELECT count(*) FROM control.staff_users`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("failed create changed the number of staff users %d → %d", before, after)
			}
		})
	}
}

func TestStaffGrantsAndListing(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	a, _ := e.newTenant(t, "zz-list")
	b, _ := e.newTenant(t, "aa-list")
	tech, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("tech"), Role: RoleTechnician, Scope: ScopeList, Tenants: []string{a.Slug, b.Slug, a.Slug}})
	other, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("other"), Role: RoleTechnician, Scope: ScopeAllExcept, Tenants: []string{b.Slug}})

	// ListStaff: slugs in slug order, ids alongside, duplicates gone.
	byEmail := func(t *testing.T) map[string]StaffUser {
		t.Helper()
		list, err := e.svc.ListStaff(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]StaffUser{}
		for _, u := range list {
			m[u.Email] = u
		}
		return m
	}
	got := byEmail(t)[tech.Email]
	if got.TenantScope != ScopeList || !slices.Equal(got.TenantSlugs, []string{b.Slug, a.Slug}) || !slices.Equal(got.TenantIDs, []int64{b.ID, a.ID}) {
		t.Fatalf("list grant: scope %q slugs %v ids %v; want list %v %v", got.TenantScope, got.TenantSlugs, got.TenantIDs,
			[]string{b.Slug, a.Slug}, []int64{b.ID, a.ID})
	}
	if got := byEmail(t)[other.Email]; got.TenantScope != ScopeAllExcept || !slices.Equal(got.TenantSlugs, []string{b.Slug}) {
		t.Fatalf("all-except grant: %q %v", got.TenantScope, got.TenantSlugs)
	}

	// SetStaffGrant: technician list → all-except → admin over all.
	steps := []StaffInput{
		{Email: tech.Email, Role: RoleTechnician, Scope: ScopeAllExcept, Tenants: []string{a.Slug}},
		{Email: tech.Email, Role: RoleAdmin, Scope: ScopeAll},
	}
	for _, in := range steps {
		u, err := e.svc.SetStaffGrant(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		wantSlugs := append([]string{}, in.Tenants...)
		if u.Role != in.Role || u.TenantScope != in.Scope || !slices.Equal(u.TenantSlugs, wantSlugs) {
			t.Fatalf("after SetStaffGrant(%+v): %s %s %v", in, u.Role, u.TenantScope, u.TenantSlugs)
		}
		if l := byEmail(t)[tech.Email]; l.Role != in.Role || !slices.Equal(l.TenantSlugs, wantSlugs) {
			t.Fatalf("ListStaff disagrees after SetStaffGrant: %s %v", l.Role, l.TenantSlugs)
		}
	}
	if _, err := e.svc.SetStaffGrant(ctx, StaffInput{Email: tech.Email, Role: RoleAdmin, Scope: ScopeList, Tenants: []string{a.Slug}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("admin limited to a list: want ErrInvalid, got %v", err)
	}
	if _, err := e.svc.SetStaffGrant(ctx, StaffInput{Email: uniqueEmail("nobody"), Role: RoleAdmin}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("grant for an unknown user: want ErrNotFound, got %v", err)
	}
	entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.grant_changed", Text: tech.Email})
	if err != nil || len(entries) != len(steps) {
		t.Fatalf("want %d staff.grant_changed entries, got %d (%v)", len(steps), len(entries), err)
	}

	// Grants: disabled users are left out; the rest carry their tenant ids.
	if _, err := e.svc.SetStaffDisabled(ctx, tech.Email, true); err != nil {
		t.Fatal(err)
	}
	grants, err := e.svc.Grants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sawOther bool
	for _, g := range grants {
		if g.Subject == tech.Subject() {
			t.Fatalf("disabled user %s still has a grant %+v", tech.Email, g)
		}
		if g.Subject == other.Subject() {
			sawOther = true
			if g.Role != RoleTechnician || g.Scope != ScopeAllExcept || !slices.Equal(g.TenantIDs, []int64{b.ID}) {
				t.Fatalf("grant of %s: %+v", other.Email, g)
			}
		}
	}
	if !sawOther {
		t.Fatalf("active user %s has no grant", other.Email)
	}
	if _, err := e.svc.SetStaffDisabled(ctx, tech.Email, false); err != nil {
		t.Fatal(err)
	}
	if grants, err = e.svc.Grants(ctx); err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(grants, func(g authz.Grant) bool { return g.Subject == tech.Subject() && g.Role == RoleAdmin }) {
		t.Fatalf("re-enabled user %s has no grant", tech.Email)
	}
}

func TestDeletedTenantLeavesGrants(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	gone, _ := e.newTenant(t, "gone")
	stays, _ := e.newTenant(t, "stays")
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("tech"), Role: RoleTechnician, Scope: ScopeList, Tenants: []string{gone.Slug, stays.Slug}})
	if err := e.tenants.Delete(ctx, gone.Slug, gone.Slug); err != nil {
		t.Fatal(err)
	}
	list, err := e.svc.ListStaff(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list, func(x StaffUser) bool { return x.ID == u.ID })
	if i < 0 {
		t.Fatalf("%s missing from ListStaff", u.Email)
	}
	if got := list[i]; !slices.Equal(got.TenantSlugs, []string{stays.Slug}) || !slices.Equal(got.TenantIDs, []int64{stays.ID}) {
		t.Fatalf("after deleting %s the grant still lists %v %v", gone.Slug, got.TenantSlugs, got.TenantIDs)
	}
	var n int
	if err := admin(t, `SELECT count(*) FROM control.staff_user_tenants WHERE tenant_id = $1`, gone.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d grant rows left for the deleted tenant (%v)", n, err)
	}
}

// soleOwner makes the given user the only active owner in the package
// database (tests of other files create owners too).
func soleOwner(t *testing.T, e env) StaffUser {
	t.Helper()
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("owner"), Role: RoleOwner})
	adminExec(t, `UPDATE control.staff_users SET disabled_at = now() WHERE role = 'owner' AND disabled_at IS NULL AND id <> $1`, u.ID)
	return u
}

func TestLastOwnerIsKept(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	owner := soleOwner(t, e)

	if _, err := e.svc.SetStaffDisabled(ctx, owner.Email, true); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("disabling the last owner: want ErrLastOwner, got %v", err)
	}
	for _, role := range []string{RoleAdmin, RoleTechnician} {
		if _, err := e.svc.SetStaffGrant(ctx, StaffInput{Email: owner.Email, Role: role}); !errors.Is(err, ErrLastOwner) {
			t.Fatalf("demoting the last owner to %s: want ErrLastOwner, got %v", role, err)
		}
	}
	// A disabled owner does not count as another owner.
	second, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("owner2"), Role: RoleOwner})
	if _, err := e.svc.SetStaffDisabled(ctx, second.Email, true); err != nil {
		t.Fatalf("disabling one of two owners: %v", err)
	}
	if _, err := e.svc.SetStaffDisabled(ctx, owner.Email, true); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("with the other owner disabled: want ErrLastOwner, got %v", err)
	}
	u, err := e.svc.StaffByEmail(ctx, owner.Email)
	if err != nil || u.DisabledAt != nil || u.Role != RoleOwner {
		t.Fatalf("the refused changes changed the owner: %+v %v", u, err)
	}

	// With another active owner, both changes are allowed.
	if _, err := e.svc.SetStaffDisabled(ctx, second.Email, false); err != nil {
		t.Fatal(err)
	}
	if u, err := e.svc.SetStaffGrant(ctx, StaffInput{Email: owner.Email, Role: RoleAdmin}); err != nil || u.Role != RoleAdmin {
		t.Fatalf("demoting one of two owners: %+v %v", u, err)
	}
	// second is now the last owner again.
	if _, err := e.svc.SetStaffDisabled(ctx, second.Email, true); !errors.Is(err, ErrLastOwner) {
		t.Fatalf("after the demotion: want ErrLastOwner, got %v", err)
	}
	if _, err := e.svc.SetStaffGrant(ctx, StaffInput{Email: owner.Email, Role: RoleOwner}); err != nil {
		t.Fatal(err)
	}
	if u, err := e.svc.SetStaffDisabled(ctx, second.Email, true); err != nil || u.DisabledAt == nil {
		t.Fatalf("disabling one of two owners: %+v %v", u, err)
	}
}

// TestLastOwnerConcurrently: two active owners are disabled at the same
// time. Each transaction counts the other owner as active before either
// writes, so without a lock both succeed and no active owner is left (write
// skew under READ COMMITTED). The superuser holds both rows locked so that
// the two counts deterministically happen before the two updates.
func TestLastOwnerConcurrently(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	a := soleOwner(t, e)
	b, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("owner-b"), Role: RoleOwner})

	lock := superuser(t)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM control.staff_users WHERE id IN ($1, $2) FOR UPDATE`, a.ID, b.ID); err != nil {
		t.Fatal(err)
	}

	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, u := range []StaffUser{a, b} {
		wg.Go(func() {
			_, errs[i] = e.svc.SetStaffDisabled(ctx, u.Email, true)
		})
	}
	// Wait (bounded) until both are blocked on the superuser's row locks —
	// or on each other, if the service serialises them.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var waiting int
		if err := admin(t, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting >= 2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	var active int
	if err := admin(t, `SELECT count(*) FROM control.staff_users WHERE role = 'owner' AND disabled_at IS NULL`).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active == 0 {
		t.Errorf("two concurrent disables left no active owner (errors: %v, %v)", errs[0], errs[1])
	}
	refused := 0
	for _, err := range errs {
		switch {
		case errors.Is(err, ErrLastOwner):
			refused++
		case err != nil:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if refused != 1 {
		t.Errorf("want exactly one of the two disables refused with ErrLastOwner, got %d", refused)
	}
}
