package authz

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// PlatformDomain is the Casbin domain of console pages that are not about one client.
const PlatformDomain = "platform"

// Roles. Staff roles are granted over tenants; client roles belong to one tenant.
const (
	Owner       = "owner"
	Admin       = "admin"
	Technician  = "technician"
	ClientAdmin = "client_admin"
	ClientUser  = "client_user"
)

// Grant scopes.
const (
	ScopeAll       = "all"        // every tenant, including ones created later
	ScopeList      = "list"       // only the listed tenants
	ScopeAllExcept = "all_except" // every tenant, including later ones, except the listed
)

// Permission is what a route needs; every route declares exactly one.
type Permission string

// Permissions. Add new ones here and in the permissions table below.
const (
	Public         Permission = "public"          // no login: login page, static assets, health
	APIKey         Permission = "api_key"         // tenant API; the key identified the tenant
	ConsoleView    Permission = "console.view"    // console home, client switcher, own account
	PlatformManage Permission = "platform.manage" // staff users and grants, onboarding, platform audit
	PlatformOwner  Permission = "platform.owner"  // only owners: making owners and admins
	TenantView     Permission = "tenant.view"     // a client's pages in the console
	TenantManage   Permission = "tenant.manage"   // changes inside a client
	TenantAdmin    Permission = "tenant.admin"    // suspend/resume a client, its API keys
	PortalView     Permission = "portal.view"     // the client portal
	PortalManage   Permission = "portal.manage"   // client admins managing their own users
)

// scope says where a permission can apply; the middleware refuses a request
// on the wrong surface before Casbin is asked.
type scope int

const (
	scopeUnenforced scope = iota // Public, APIKey: Casbin is not consulted
	scopeConsole                 // staff, platform domain or a tenant's
	scopeTenant                  // staff, a tenant's domain only
	scopePortal                  // client users, their own tenant's domain
)

type permRule struct {
	scope scope
	roles []string
}

// permissions is the static table: which roles hold each permission. Casbin
// p rules are generated from it for every declared route.
var permissions = map[Permission]permRule{
	Public:         {scope: scopeUnenforced},
	APIKey:         {scope: scopeUnenforced},
	ConsoleView:    {scope: scopeConsole, roles: []string{Owner, Admin, Technician}},
	PlatformManage: {scope: scopeConsole, roles: []string{Owner, Admin}},
	PlatformOwner:  {scope: scopeConsole, roles: []string{Owner}},
	TenantView:     {scope: scopeTenant, roles: []string{Owner, Admin, Technician}},
	TenantManage:   {scope: scopeTenant, roles: []string{Owner, Admin, Technician}},
	TenantAdmin:    {scope: scopeTenant, roles: []string{Owner, Admin}},
	PortalView:     {scope: scopePortal, roles: []string{ClientAdmin, ClientUser}},
	PortalManage:   {scope: scopePortal, roles: []string{ClientAdmin}},
}

// Roles lists the roles that hold p (none for Public, APIKey and unknown permissions).
func (p Permission) Roles() []string { return slices.Clone(permissions[p].roles) }

// Known reports whether p is in the permission table.
func (p Permission) Known() bool { _, ok := permissions[p]; return ok }

// IsStaffRole reports whether role is one that staff grants may give.
func IsStaffRole(role string) bool { return role == Owner || role == Admin || role == Technician }

// IsClientRole reports whether role is one a client user may have.
func IsClientRole(role string) bool { return role == ClientAdmin || role == ClientUser }

// TenantDomain is the Casbin domain of the tenant with the given id.
func TenantDomain(id int64) string { return strconv.FormatInt(id, 10) }

// tenantOf parses a tenant domain; it accepts only the canonical form that
// TenantDomain produces for a positive id (digits, no sign, no leading zero),
// so "012", "+12" or "*" never name a tenant. It does not allocate: Allowed
// and VisibleTenants call it on every lookup.
func tenantOf(domain string) (int64, bool) {
	if domain == "" || domain[0] < '1' || domain[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(domain); i++ {
		if domain[i] < '0' || domain[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(domain, 10, 64) // only overflow can fail now
	if err != nil {
		return 0, false
	}
	return id, true
}

// validDomain reports whether domain may be asked about.
func validDomain(domain string) bool {
	_, ok := tenantOf(domain)
	return ok || domain == PlatformDomain
}

// Grant gives a staff user a role over tenants.
type Grant struct {
	Subject   string  // "staff:<id>"
	Role      string  // owner, admin or technician
	Scope     string  // "all", "list" or "all_except"
	TenantIDs []int64 // the list, or the exceptions
}

// rules are the Casbin grouping rules of a grant set (see modelText).
type rules struct {
	g  [][]string // sub, role, domain: list grants, and every list grant's role in PlatformDomain
	g2 [][]string // sub, excluded tenant: all_except exceptions
	g3 [][]string // sub, role: all and all_except grants, in every domain
}

// grantRules turns validated grants into Casbin rules: g for each listed
// tenant, g3 for all and all_except, g2 for the exceptions. Every grant
// gives its role in the platform domain too, so console-wide pages follow
// the role's permissions: list grants by a g rule there, the others by g3.
func grantRules(grants []Grant) (rules, error) {
	if err := ValidateGrants(grants); err != nil {
		return rules{}, err
	}
	var r rules
	seenG, seenG2, seenG3 := map[[3]string]bool{}, map[[2]string]bool{}, map[[2]string]bool{}
	addG := func(sub, role, dom string) {
		if k := [3]string{sub, role, dom}; !seenG[k] {
			seenG[k] = true
			r.g = append(r.g, k[:])
		}
	}
	add2 := func(seen map[[2]string]bool, to *[][]string, a, b string) {
		if k := [2]string{a, b}; !seen[k] {
			seen[k] = true
			*to = append(*to, k[:])
		}
	}
	for _, gr := range grants {
		switch gr.Scope {
		case ScopeList:
			addG(gr.Subject, gr.Role, PlatformDomain)
			for _, id := range gr.TenantIDs {
				addG(gr.Subject, gr.Role, TenantDomain(id))
			}
		case ScopeAll:
			add2(seenG3, &r.g3, gr.Subject, gr.Role)
		case ScopeAllExcept:
			add2(seenG3, &r.g3, gr.Subject, gr.Role)
			for _, id := range gr.TenantIDs {
				add2(seenG2, &r.g2, gr.Subject, TenantDomain(id))
			}
		}
	}
	return r, nil
}

// ValidateGrants checks grants as SetGrants will, so that they can be
// refused when written rather than when loaded (one invalid grant makes
// SetGrants keep the old set). Besides each grant's own fields it refuses
// what the model cannot express: g2 exclusions apply to the subject, not to
// one of its grants, so an excepted tenant must not be covered by another
// grant of the same subject.
func ValidateGrants(grants []Grant) error {
	except := map[string][]int64{} // subject -> its all_except exceptions
	for i, gr := range grants {
		if err := validateGrant(gr); err != nil {
			return fmt.Errorf("authz: grant %d: %w", i, err)
		}
		if gr.Scope == ScopeAllExcept {
			if _, dup := except[gr.Subject]; dup {
				return fmt.Errorf("authz: grant %d: %s has more than one all_except grant", i, gr.Subject)
			}
			except[gr.Subject] = gr.TenantIDs
		}
	}
	for i, gr := range grants {
		ex := except[gr.Subject]
		if len(ex) == 0 || gr.Scope == ScopeAllExcept {
			continue
		}
		for _, id := range ex {
			if gr.Scope == ScopeAll || slices.Contains(gr.TenantIDs, id) {
				return fmt.Errorf("authz: grant %d: %s is granted tenant %d, which its all_except grant excludes", i, gr.Subject, id)
			}
		}
	}
	return nil
}

func validateGrant(gr Grant) error {
	if id, ok := strings.CutPrefix(gr.Subject, "staff:"); !ok || id == "" {
		return fmt.Errorf("subject %q is not a staff subject (staff:<id>)", gr.Subject)
	}
	if !IsStaffRole(gr.Role) {
		return fmt.Errorf("%s: %q is not a staff role", gr.Subject, gr.Role)
	}
	switch gr.Scope {
	case ScopeAll:
		if len(gr.TenantIDs) != 0 {
			return fmt.Errorf("%s: scope all takes no tenant ids", gr.Subject)
		}
	case ScopeList, ScopeAllExcept:
	default:
		return fmt.Errorf("%s: unknown scope %q", gr.Subject, gr.Scope)
	}
	for _, id := range gr.TenantIDs {
		if id <= 0 {
			return fmt.Errorf("%s: invalid tenant id %d", gr.Subject, id)
		}
	}
	return nil
}
