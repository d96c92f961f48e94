package authz

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
)

// testRoutes declares one route per permission; tenant routes live under
// /t/:slug as in the console, portal routes on the portal's own paths.
var testRoutes = map[Permission]struct{ method, path string }{
	Public:         {http.MethodGet, "/login"},
	APIKey:         {http.MethodPost, "/api/v1/checkin"},
	ConsoleView:    {http.MethodGet, "/"},
	PlatformManage: {http.MethodGet, "/staff"},
	PlatformOwner:  {http.MethodPost, "/staff/:id/owner"},
	TenantView:     {http.MethodGet, "/t/:slug/users/:id"},
	TenantManage:   {http.MethodPost, "/t/:slug/users"},
	TenantAdmin:    {http.MethodPost, "/t/:slug/suspend"},
	PortalView:     {http.MethodGet, "/p/home"},
	PortalManage:   {http.MethodPost, "/p/users"},
}

func ok(c echo.Context) error { return c.String(http.StatusOK, "ok") }

// newTestAuthorizer returns an Authorizer with testRoutes declared on e and grants set.
func newTestAuthorizer(t testing.TB, grants ...Grant) (*Authorizer, *echo.Echo) {
	t.Helper()
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	for perm, r := range testRoutes {
		a.Route(e, r.method, r.path, perm, ok)
	}
	if err := a.SetGrants(grants); err != nil {
		t.Fatal(err)
	}
	return a, e
}

func staff(id int) Subject { return Subject{Key: fmt.Sprintf("staff:%d", id), Staff: true} }

func client(tenant int64, user int, role string) Subject {
	return Subject{Key: fmt.Sprintf("client:%d:%d", tenant, user), Role: role, TenantID: tenant}
}

// allowed asks about perm's test route.
func allowed(a *Authorizer, s Subject, domain string, perm Permission) bool {
	r := testRoutes[perm]
	return a.Allowed(s, domain, r.path, r.method)
}

// TestPermissionTable pins the table to the design: which role holds what.
func TestPermissionTable(t *testing.T) {
	want := map[Permission][]string{
		Public:         nil,
		APIKey:         nil,
		ConsoleView:    {Owner, Admin, Technician},
		PlatformManage: {Owner, Admin},
		PlatformOwner:  {Owner},
		TenantView:     {Owner, Admin, Technician},
		TenantManage:   {Owner, Admin, Technician},
		TenantAdmin:    {Owner, Admin},
		PortalView:     {ClientAdmin, ClientUser},
		PortalManage:   {ClientAdmin},
	}
	if len(want) != len(permissions) {
		t.Fatalf("table has %d permissions, test knows %d", len(permissions), len(want))
	}
	// Staff 1..3 hold owner, admin, technician over every tenant.
	a, _ := newTestAuthorizer(t,
		Grant{Subject: "staff:1", Role: Owner, Scope: ScopeAll},
		Grant{Subject: "staff:2", Role: Admin, Scope: ScopeAll},
		Grant{Subject: "staff:3", Role: Technician, Scope: ScopeAll},
	)
	subjects := map[string]Subject{
		Owner: staff(1), Admin: staff(2), Technician: staff(3),
		ClientAdmin: client(7, 1, ClientAdmin), ClientUser: client(7, 2, ClientUser),
	}
	for perm, roles := range want {
		if got := perm.Roles(); !slices.Equal(got, roles) {
			t.Errorf("%s.Roles() = %v, want %v", perm, got, roles)
		}
		for role, s := range subjects {
			domain := "7" // tenant and portal permissions
			if permissions[perm].scope == scopeConsole {
				domain = PlatformDomain
			}
			exp := slices.Contains(roles, role) || perm == Public
			if got := allowed(a, s, domain, perm); got != exp {
				t.Errorf("%s as %s in %q: allowed = %v, want %v", perm, role, domain, got, exp)
			}
		}
	}
}

func TestGrantScopes(t *testing.T) {
	tech := staff(5)
	tests := []struct {
		name   string
		grant  Grant
		domain string
		perm   Permission
		want   bool
	}{
		{"all: a tenant", Grant{tech.Key, Technician, ScopeAll, nil}, "1", TenantView, true},
		{"all: a tenant created later", Grant{tech.Key, Technician, ScopeAll, nil}, "98765", TenantManage, true},
		{"all: platform", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, ConsoleView, true},
		{"all: role still limits", Grant{tech.Key, Technician, ScopeAll, nil}, "1", TenantAdmin, false},
		{"all: platform role limits", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, PlatformManage, false},
		{"list: listed", Grant{tech.Key, Technician, ScopeList, []int64{1, 2}}, "2", TenantView, true},
		{"list: not listed", Grant{tech.Key, Technician, ScopeList, []int64{1, 2}}, "3", TenantView, false},
		{"list: a tenant created later", Grant{tech.Key, Technician, ScopeList, []int64{1, 2}}, "98765", TenantView, false},
		{"list: platform", Grant{tech.Key, Technician, ScopeList, []int64{1, 2}}, PlatformDomain, ConsoleView, true},
		{"list: empty list still has the console", Grant{tech.Key, Technician, ScopeList, nil}, PlatformDomain, ConsoleView, true},
		{"list: empty list has no tenant", Grant{tech.Key, Technician, ScopeList, nil}, "1", TenantView, false},
		{"all_except: covered", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "1", TenantAdmin, true},
		{"all_except: excepted", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "2", TenantView, false},
		{"all_except: a tenant created later", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "98765", TenantAdmin, true},
		{"all_except: platform", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, PlatformDomain, PlatformManage, true},
		{"no prefix matching: 12 vs 123", Grant{tech.Key, Technician, ScopeList, []int64{12}}, "123", TenantView, false},
		{"no prefix matching: 12 vs 1", Grant{tech.Key, Technician, ScopeList, []int64{12}}, "1", TenantView, false},
		{"no prefix matching: 123 vs 12", Grant{tech.Key, Technician, ScopeList, []int64{123}}, "12", TenantView, false},
		{"no prefix matching: exact", Grant{tech.Key, Technician, ScopeList, []int64{12}}, "12", TenantView, true},
		{"except 12 leaves 123", Grant{tech.Key, Technician, ScopeAllExcept, []int64{12}}, "123", TenantView, true},
		{"domain * is never a request domain", Grant{tech.Key, Owner, ScopeAll, nil}, "*", TenantView, false},
		{"empty domain", Grant{tech.Key, Owner, ScopeAll, nil}, "", TenantView, false},
		{"non-canonical domain", Grant{tech.Key, Owner, ScopeAll, nil}, "012", TenantView, false},
		{"tenant permission in the platform domain", Grant{tech.Key, Owner, ScopeAll, nil}, PlatformDomain, TenantView, false},
		{"owner: platform owner page", Grant{tech.Key, Owner, ScopeAll, nil}, PlatformDomain, PlatformOwner, true},
		{"a list-granted owner is an owner only where listed", Grant{tech.Key, Owner, ScopeList, []int64{4}}, "5", TenantView, false},

		// all and all_except grants hold in every domain (g3), the platform
		// domain included: only the role's permissions and the refusal of
		// tenant permissions there keep them to what the role may do.
		{"all technician: tenant page", Grant{tech.Key, Technician, ScopeAll, nil}, "12", TenantView, true},
		{"all technician: no platform-only permission", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, PlatformManage, false},
		{"all technician: no owner page", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, PlatformOwner, false},
		{"all technician: tenant permission in the platform domain", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, TenantView, false},
		{"all technician: tenant change in the platform domain", Grant{tech.Key, Technician, ScopeAll, nil}, PlatformDomain, TenantManage, false},
		{"all technician: console page in a tenant", Grant{tech.Key, Technician, ScopeAll, nil}, "12", ConsoleView, true},
		{"all owner: tenant admin in the platform domain", Grant{tech.Key, Owner, ScopeAll, nil}, PlatformDomain, TenantAdmin, false},
		{"all_except: tenant permission in the platform domain", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, PlatformDomain, TenantAdmin, false},
		{"all_except: console page in the platform domain", Grant{tech.Key, Technician, ScopeAllExcept, []int64{2}}, PlatformDomain, ConsoleView, true},
		{"list technician: console home", Grant{tech.Key, Technician, ScopeList, []int64{12}}, PlatformDomain, ConsoleView, true},
		{"list technician: tenant permission in the platform domain", Grant{tech.Key, Technician, ScopeList, []int64{12}}, PlatformDomain, TenantView, false},
		{"list admin: platform page", Grant{tech.Key, Admin, ScopeList, []int64{12}}, PlatformDomain, PlatformManage, true},

		// all_except exceptions apply to the every-domain grant, whatever the permission.
		{"all_except: excepted, tenant change", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2, 5}}, "5", TenantManage, false},
		{"all_except: excepted, console page in it", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "2", ConsoleView, false},
		{"all_except: except 123 leaves 12", Grant{tech.Key, Technician, ScopeAllExcept, []int64{123}}, "12", TenantView, true},
		{"all_except: except 12 excludes 12", Grant{tech.Key, Technician, ScopeAllExcept, []int64{12}}, "12", TenantView, false},

		// Domains that name no tenant, whatever the scope.
		{"domain * with all_except", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "*", TenantView, false},
		{"domain * with list", Grant{tech.Key, Admin, ScopeList, []int64{2}}, "*", TenantView, false},
		{"domain * for a console page", Grant{tech.Key, Owner, ScopeAll, nil}, "*", ConsoleView, false},
		{"empty domain with all_except", Grant{tech.Key, Admin, ScopeAllExcept, []int64{2}}, "", TenantView, false},
		{"empty domain for a console page", Grant{tech.Key, Owner, ScopeAll, nil}, "", ConsoleView, false},
		{"pattern domain", Grant{tech.Key, Owner, ScopeAll, nil}, "1*", TenantView, false},
		{"zero tenant", Grant{tech.Key, Owner, ScopeAll, nil}, "0", TenantView, false},
		{"negative tenant", Grant{tech.Key, Owner, ScopeAll, nil}, "-1", TenantView, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuthorizer(t, tc.grant)
			if got := allowed(a, tech, tc.domain, tc.perm); got != tc.want {
				t.Fatalf("allowed = %v, want %v", got, tc.want)
			}
			// Nobody else gains anything from someone's grant.
			if allowed(a, staff(6), tc.domain, tc.perm) {
				t.Fatal("an ungranted staff user is allowed")
			}
		})
	}
}

// TestGrantRules pins how grants become Casbin rules: no wildcard domain
// anywhere, all and all_except as domain-less g3 rules, g only for listed
// tenants and the platform domain of list grants.
func TestGrantRules(t *testing.T) {
	r, err := grantRules([]Grant{
		{"staff:1", Owner, ScopeAll, nil},
		{"staff:2", Admin, ScopeAllExcept, []int64{3, 4}},
		{"staff:3", Technician, ScopeList, []int64{5, 6}},
		{"staff:3", Admin, ScopeList, []int64{6}},
		{"staff:4", Technician, ScopeList, nil},
		{"staff:1", Owner, ScopeAll, nil}, // duplicates are stored once
	})
	if err != nil {
		t.Fatal(err)
	}
	want := rules{
		g: [][]string{
			{"staff:3", Technician, PlatformDomain}, {"staff:3", Technician, "5"}, {"staff:3", Technician, "6"},
			{"staff:3", Admin, PlatformDomain}, {"staff:3", Admin, "6"},
			{"staff:4", Technician, PlatformDomain},
		},
		g2: [][]string{{"staff:2", "3"}, {"staff:2", "4"}},
		g3: [][]string{{"staff:1", Owner}, {"staff:2", Admin}},
	}
	eq := func(a, b [][]string) bool { return slices.EqualFunc(a, b, slices.Equal) }
	if !eq(r.g, want.g) || !eq(r.g2, want.g2) || !eq(r.g3, want.g3) {
		t.Errorf("grantRules =\n g  %q\n g2 %q\n g3 %q\nwant\n g  %q\n g2 %q\n g3 %q", r.g, r.g2, r.g3, want.g, want.g2, want.g3)
	}
	if strings.Contains(modelText, "*") || strings.Contains(strings.ToLower(modelText), "keymatch") {
		t.Error("the model still has a wildcard domain or domain matching")
	}
}

// TestRawEnforceDomains shows why Allowed and holds validate the domain and
// refuse tenant permissions in the platform domain: the enforcer alone grants
// a g3 role in any domain string, and a list grant's role in the platform
// domain, while a g grant covers only its own domain.
func TestRawEnforceDomains(t *testing.T) {
	a, _ := newTestAuthorizer(t,
		Grant{"staff:1", Technician, ScopeList, []int64{5}},
		Grant{"staff:2", Technician, ScopeAll, nil},
	)
	r := testRoutes[TenantView]
	enforce := func(sub, dom string) bool {
		t.Helper()
		got, err := a.enforcer.Enforce(sub, dom, r.path, r.method)
		if err != nil {
			t.Fatalf("Enforce(%s, %q): %v", sub, dom, err)
		}
		return got
	}
	for _, dom := range []string{"*", "5*", "", "55"} {
		if enforce("staff:1", dom) {
			t.Errorf("raw Enforce for the list grant in domain %q is true", dom)
		}
	}
	if !enforce("staff:1", "5") {
		t.Error("raw Enforce in the granted domain is false")
	}
	// A list grant's platform-domain rule gives its role there too.
	if !enforce("staff:1", PlatformDomain) {
		t.Error("raw Enforce for the list grant in the platform domain is false")
	}
	if allowed(a, staff(1), PlatformDomain, TenantView) || a.holds("staff:1", PlatformDomain, TenantView) {
		t.Error("the list grant: TenantView in the platform domain is not refused")
	}
	for _, dom := range []string{"*", "", PlatformDomain} {
		if !enforce("staff:2", dom) {
			t.Errorf("raw Enforce for the all grant in domain %q is false; g3 should hold everywhere", dom)
		}
		if a.Allowed(staff(2), dom, r.path, r.method) {
			t.Errorf("Allowed for the all grant in domain %q", dom)
		}
		if a.holds("staff:2", dom, TenantView) {
			t.Errorf("holds for the all grant in domain %q", dom)
		}
	}
	if !a.Allowed(staff(2), "5", r.path, r.method) || !a.holds("staff:2", "5", TenantView) {
		t.Error("the all grant does not hold in a tenant")
	}
	// Now that the g3 answer is cached too, invalid domains must still miss it.
	for _, dom := range []string{"*", "", PlatformDomain} {
		if a.holds("staff:2", dom, TenantView) {
			t.Errorf("holds for the all grant in domain %q, after a tenant", dom)
		}
	}
	if !a.holds("staff:1", PlatformDomain, ConsoleView) || !a.holds("staff:2", PlatformDomain, ConsoleView) {
		t.Error("a grant does not give its role's console permissions in the platform domain")
	}
}

// TestTenantOf pins the canonical form of tenant domains: exactly what
// TenantDomain produces for a positive id.
func TestTenantOf(t *testing.T) {
	for _, id := range []int64{1, 9, 10, 12, 99, 100, 123, 98765, math.MaxInt64} {
		if got, ok := tenantOf(TenantDomain(id)); !ok || got != id {
			t.Errorf("tenantOf(%q) = %d, %v; want %d, true", TenantDomain(id), got, ok, id)
		}
	}
	for _, dom := range []string{
		"", "0", "00", "012", "-1", "+12", " 12", "12 ", "1_000", "1e3", "0x1f", "12a", "*", "1*",
		PlatformDomain, "9223372036854775808", "99999999999999999999", "\u0661\u0662", // Arabic-Indic digits
	} {
		if id, ok := tenantOf(dom); ok {
			t.Errorf("tenantOf(%q) = %d, true; want false", dom, id)
		}
	}
	if n := testing.AllocsPerRun(100, func() { tenantOf("98765") }); n != 0 {
		t.Errorf("tenantOf allocates %v times", n)
	}
}

// TestPolicyOrder checks that SetGrants rebuilds the p rules in declaration
// order, the order Route gave the first enforcer.
func TestPolicyOrder(t *testing.T) {
	a, err := New()
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	for i := range 30 {
		a.Route(e, http.MethodGet, fmt.Sprintf("/r/%d", i), ConsoleView, ok)
	}
	before, err := a.enforcer.GetPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetGrants(nil); err != nil {
		t.Fatal(err)
	}
	after, err := a.enforcer.GetPolicy()
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 90 || !slices.EqualFunc(before, after, slices.Equal) {
		t.Errorf("p rules after SetGrants differ from those Route added:\n%q\n%q", after, before)
	}
}

func TestGrantsCombine(t *testing.T) {
	a, _ := newTestAuthorizer(t,
		Grant{"staff:1", Technician, ScopeList, []int64{1, 2}},
		Grant{"staff:1", Admin, ScopeList, []int64{2}},
	)
	for _, tc := range []struct {
		domain string
		perm   Permission
		want   bool
	}{
		{"1", TenantManage, true}, {"1", TenantAdmin, false},
		{"2", TenantAdmin, true}, {PlatformDomain, PlatformManage, true}, {"3", TenantView, false},
	} {
		if got := allowed(a, staff(1), tc.domain, tc.perm); got != tc.want {
			t.Errorf("%s in %s: allowed = %v, want %v", tc.perm, tc.domain, got, tc.want)
		}
	}
}

func TestSetGrantsReplaces(t *testing.T) {
	a, _ := newTestAuthorizer(t,
		Grant{"staff:1", Admin, ScopeAll, nil},
		Grant{"staff:2", Technician, ScopeList, []int64{1}},
	)
	if !allowed(a, staff(1), "9", TenantAdmin) || !allowed(a, staff(2), "1", TenantView) {
		t.Fatal("initial grants not in force")
	}
	// staff:1 is narrowed to one tenant and a lesser role; staff:2 is removed.
	if err := a.SetGrants([]Grant{{"staff:1", Technician, ScopeList, []int64{3}}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s      Subject
		domain string
		perm   Permission
		want   bool
	}{
		{staff(1), "9", TenantAdmin, false}, // answered (and cached) before the change
		{staff(2), "1", TenantView, false},  // likewise
		{staff(1), "9", TenantView, false},
		{staff(1), "3", TenantAdmin, false},
		{staff(1), "3", TenantManage, true},
		{staff(1), PlatformDomain, PlatformManage, false},
		{staff(2), PlatformDomain, ConsoleView, false},
	} {
		if got := allowed(a, tc.s, tc.domain, tc.perm); got != tc.want {
			t.Errorf("%s %s in %s: allowed = %v, want %v", tc.s.Key, tc.perm, tc.domain, got, tc.want)
		}
	}
	if got := a.Grants(); len(got) != 1 || got[0].Subject != "staff:1" {
		t.Errorf("Grants() = %v", got)
	}
	if err := a.SetGrants(nil); err != nil {
		t.Fatal(err)
	}
	if allowed(a, staff(1), "3", TenantView) {
		t.Error("access survives SetGrants(nil)")
	}
}

// TestSetGrantsScopeChanges moves one subject between scopes; every answer is
// asked (and cached) before each change and must follow it.
func TestSetGrantsScopeChanges(t *testing.T) {
	a, _ := newTestAuthorizer(t)
	s, ids := staff(1), []int64{1, 2, 3}
	steps := []struct {
		grant   Grant
		visible []int64 // of ids
		t9      bool    // TenantManage in tenant 9, which no grant names
	}{
		{Grant{s.Key, Technician, ScopeList, []int64{1}}, []int64{1}, false},
		{Grant{s.Key, Technician, ScopeAll, nil}, ids, true},
		{Grant{s.Key, Technician, ScopeAllExcept, []int64{2, 9}}, []int64{1, 3}, false},
		{Grant{s.Key, Technician, ScopeAllExcept, []int64{3}}, []int64{1, 2}, true},
		{Grant{s.Key, Technician, ScopeList, []int64{2}}, []int64{2}, false},
	}
	for i, st := range steps {
		// Ask everything under the previous grants first, so it is cached.
		a.VisibleTenants(s, ids)
		for _, id := range append(ids, 9) {
			allowed(a, s, TenantDomain(id), TenantManage)
		}
		if err := a.SetGrants([]Grant{st.grant}); err != nil {
			t.Fatal(err)
		}
		if got := a.VisibleTenants(s, ids); !slices.Equal(got, st.visible) {
			t.Errorf("step %d (%s %v): VisibleTenants = %v, want %v", i, st.grant.Scope, st.grant.TenantIDs, got, st.visible)
		}
		for _, id := range ids {
			if got, want := allowed(a, s, TenantDomain(id), TenantManage), slices.Contains(st.visible, id); got != want {
				t.Errorf("step %d (%s %v): TenantManage in %d = %v, want %v", i, st.grant.Scope, st.grant.TenantIDs, id, got, want)
			}
		}
		if got := allowed(a, s, "9", TenantManage); got != st.t9 {
			t.Errorf("step %d (%s %v): TenantManage in 9 = %v, want %v", i, st.grant.Scope, st.grant.TenantIDs, got, st.t9)
		}
		if !allowed(a, s, PlatformDomain, ConsoleView) || allowed(a, s, PlatformDomain, TenantView) {
			t.Errorf("step %d (%s): wrong answers in the platform domain", i, st.grant.Scope)
		}
	}
}

func TestInvalidGrants(t *testing.T) {
	tests := []struct {
		name   string
		grants []Grant
		errHas string
	}{
		{"not a staff subject", []Grant{{"12", Admin, ScopeAll, nil}}, "staff subject"},
		{"client subject", []Grant{{"client:1:2", Admin, ScopeAll, nil}}, "staff subject"},
		{"role name as subject", []Grant{{"owner", Owner, ScopeAll, nil}}, "staff subject"},
		{"empty staff id", []Grant{{"staff:", Admin, ScopeAll, nil}}, "staff subject"},
		{"client role", []Grant{{"staff:1", ClientAdmin, ScopeAll, nil}}, "not a staff role"},
		{"unknown role", []Grant{{"staff:1", "root", ScopeAll, nil}}, "not a staff role"},
		{"unknown scope", []Grant{{"staff:1", Admin, "some", nil}}, "unknown scope"},
		{"all with ids", []Grant{{"staff:1", Admin, ScopeAll, []int64{1}}}, "takes no tenant ids"},
		{"bad tenant id", []Grant{{"staff:1", Admin, ScopeList, []int64{0}}}, "invalid tenant id"},
		{"negative exception", []Grant{{"staff:1", Admin, ScopeAllExcept, []int64{-3}}}, "invalid tenant id"},
		{"two all_except", []Grant{{"staff:1", Admin, ScopeAllExcept, []int64{1}}, {"staff:1", Technician, ScopeAllExcept, []int64{2}}}, "more than one all_except"},
		{"exception listed elsewhere", []Grant{{"staff:1", Admin, ScopeAllExcept, []int64{1}}, {"staff:1", Technician, ScopeList, []int64{1}}}, "excludes"},
		{"exception covered by all", []Grant{{"staff:1", Technician, ScopeAll, nil}, {"staff:1", Admin, ScopeAllExcept, []int64{1}}}, "excludes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := newTestAuthorizer(t, Grant{"staff:9", Admin, ScopeAll, nil})
			err := a.SetGrants(tc.grants)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("SetGrants error = %v, want one containing %q", err, tc.errHas)
			}
			if !allowed(a, staff(9), "1", TenantAdmin) {
				t.Fatal("a rejected SetGrants changed the grants in force")
			}
		})
	}
	if ValidateGrants([]Grant{{"staff:1", Admin, "some", nil}}) == nil {
		t.Error("ValidateGrants accepts an unknown scope")
	}
	// Exceptions that no other grant of the subject covers are fine.
	a, _ := newTestAuthorizer(t)
	err := a.SetGrants([]Grant{{"staff:1", Admin, ScopeAllExcept, []int64{1}}, {"staff:1", Technician, ScopeList, []int64{2}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClientSubjects(t *testing.T) {
	// Client users have no stored grants at all; staff grants must not leak to
	// them, whether staff hold roles everywhere (g3), per tenant (g), or none.
	grantSets := map[string][]Grant{
		"all":        {{"staff:1", Owner, ScopeAll, nil}},
		"all_except": {{"staff:1", Owner, ScopeAllExcept, []int64{3}}},
		"list":       {{"staff:1", Owner, ScopeList, []int64{3, 4}}},
		"none":       nil,
	}
	tests := []struct {
		name   string
		s      Subject
		domain string
		perm   Permission
		want   bool
	}{
		{"client admin: portal", client(3, 7, ClientAdmin), "3", PortalView, true},
		{"client admin: manage users", client(3, 7, ClientAdmin), "3", PortalManage, true},
		{"client user: portal", client(3, 8, ClientUser), "3", PortalView, true},
		{"client user: manage users", client(3, 8, ClientUser), "3", PortalManage, false},
		{"another tenant", client(3, 7, ClientAdmin), "4", PortalView, false},
		{"prefix tenant", client(3, 7, ClientAdmin), "33", PortalView, false},
		{"platform domain", client(3, 7, ClientAdmin), PlatformDomain, PortalView, false},
		{"console page", client(3, 7, ClientAdmin), "3", TenantView, false},
		{"console home", client(3, 7, ClientAdmin), "3", ConsoleView, false},
		{"staff role claimed by a client", Subject{Key: "client:3:7", Role: Owner, TenantID: 3}, "3", TenantView, false},
		{"client without tenant", Subject{Key: "client:0:7", Role: ClientAdmin}, "0", PortalView, false},
		{"client key without prefix", Subject{Key: "7", Role: ClientAdmin, TenantID: 3}, "3", PortalView, false},
		// Casbin links every name to itself; a staff key equal to a role name
		// would become that role if its shape were not checked.
		{"staff key that is a role name", Subject{Key: Owner, Staff: true}, PlatformDomain, PlatformOwner, false},
		{"staff key that is a client role", Subject{Key: ClientAdmin, Staff: true}, "3", PortalManage, false},
		{"staff never holds portal permissions", staff(1), "3", PortalView, false},
	}
	for setName, grants := range grantSets {
		a, _ := newTestAuthorizer(t, grants...)
		for _, tc := range tests {
			t.Run(setName+"/"+tc.name, func(t *testing.T) {
				if got := allowed(a, tc.s, tc.domain, tc.perm); got != tc.want {
					t.Fatalf("allowed = %v, want %v", got, tc.want)
				}
			})
		}
	}
}

func TestVisibleTenants(t *testing.T) {
	a, _ := newTestAuthorizer(t,
		Grant{"staff:1", Owner, ScopeAll, nil},
		Grant{"staff:2", Technician, ScopeList, []int64{2, 4, 99}},
		Grant{"staff:3", Admin, ScopeAllExcept, []int64{3}},
	)
	ids := []int64{1, 2, 3, 4, 5}
	tests := []struct {
		s    Subject
		want []int64
	}{
		{staff(1), ids},
		{staff(2), []int64{2, 4}},
		{staff(3), []int64{1, 2, 4, 5}},
		{staff(4), nil},
		{Subject{Key: Owner, Staff: true}, nil},
		{client(4, 1, ClientUser), []int64{4}},
		{client(9, 1, ClientUser), nil},
		{Subject{Key: "client:4:1", Role: Admin, TenantID: 4}, nil},
	}
	for _, tc := range tests {
		if got := a.VisibleTenants(tc.s, ids); !slices.Equal(got, tc.want) {
			t.Errorf("VisibleTenants(%s) = %v, want %v", tc.s.Key, got, tc.want)
		}
		// It must agree with what the middleware would allow.
		for _, id := range ids {
			if tc.s.Staff && slices.Contains(tc.want, id) != allowed(a, tc.s, TenantDomain(id), TenantView) {
				t.Errorf("%s: VisibleTenants and Allowed disagree on tenant %d", tc.s.Key, id)
			}
		}
	}
	// Answers are cached; new grants must not see old ones.
	if err := a.SetGrants([]Grant{{"staff:2", Technician, ScopeList, []int64{5}}}); err != nil {
		t.Fatal(err)
	}
	if got := a.VisibleTenants(staff(2), ids); !slices.Equal(got, []int64{5}) {
		t.Errorf("after SetGrants: VisibleTenants(staff:2) = %v, want [5]", got)
	}
	if got := a.VisibleTenants(staff(1), ids); got != nil {
		t.Errorf("after SetGrants: VisibleTenants(staff:1) = %v, want none", got)
	}
}

func TestDecisionCacheBound(t *testing.T) {
	var d decisions
	for i := range maxDecisions + 1 {
		d.put(decisionKey{sub: "staff:1", dom: TenantDomain(int64(i + 1))}, true)
	}
	if _, found := d.get(decisionKey{sub: "staff:1", dom: "1"}); found {
		t.Error("the cache kept growing past maxDecisions")
	}
	if allowed, found := d.get(decisionKey{sub: "staff:1", dom: TenantDomain(maxDecisions + 1)}); !found || !allowed {
		t.Error("the entry that overflowed the cache was not kept")
	}
}

func TestRouteDeclarations(t *testing.T) {
	a, e := newTestAuthorizer(t)
	g := e.Group("/t/:slug", func(next echo.HandlerFunc) echo.HandlerFunc { return next })
	a.Route(g, http.MethodGet, "/alerts/:id", TenantView, ok)
	a.Route(g, http.MethodGet, "/alerts/:id", TenantView, ok) // same again: fine
	e.GET("/forgotten", ok)
	g.POST("/forgotten", ok)

	if p, found := a.Permission(http.MethodGet, "/t/:slug/alerts/:id"); !found || p != TenantView {
		t.Errorf("Permission of the group route = %q, %v", p, found)
	}
	if _, found := a.Permission(http.MethodPost, "/t/:slug/alerts/:id"); found {
		t.Error("another method of a declared path counts as declared")
	}
	// Group.Use added RouteNotFound catch-alls for /t/:slug and /t/:slug/*; they are not listed.
	want := []string{"GET /forgotten", "POST /t/:slug/forgotten"}
	if got := a.Undeclared(e); !slices.Equal(got, want) {
		t.Errorf("Undeclared = %q, want %q", got, want)
	}

	mustPanic := func(name, fragment string, f func()) {
		t.Helper()
		defer func() {
			r := recover()
			if r == nil || !strings.Contains(fmt.Sprint(r), fragment) {
				t.Errorf("%s: panic = %v, want one containing %q", name, r, fragment)
			}
		}()
		f()
	}
	mustPanic("conflicting declaration", "declared twice", func() {
		a.Route(g, http.MethodGet, "/alerts/:id", TenantManage, ok)
	})
	mustPanic("unknown permission", "unknown permission", func() {
		a.Route(e, http.MethodGet, "/x", Permission("alerts.view"), ok)
	})
}

// TestConcurrentUse runs Allowed, VisibleTenants and SetGrants together; run
// with -race. Each reader must see one grant set or the other, never a mix.
func TestConcurrentUse(t *testing.T) {
	a, _ := newTestAuthorizer(t, Grant{"staff:1", Technician, ScopeList, []int64{1}})
	sets := [][]Grant{
		{{"staff:1", Technician, ScopeList, []int64{1}}},
		{{"staff:1", Technician, ScopeList, []int64{2}}},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				allowed(a, staff(1), "1", TenantView)
				if got := a.VisibleTenants(staff(1), []int64{1, 2, 3}); len(got) != 1 {
					t.Errorf("VisibleTenants = %v: not exactly one grant set", got)
					return
				}
			}
		})
	}
	for i := range 200 {
		if err := a.SetGrants(sets[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
}
