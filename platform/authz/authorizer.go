package authz

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/casbin/casbin/v2"
	"github.com/labstack/echo/v4"
)

// Router is what routes are registered on: an *echo.Echo or an *echo.Group.
type Router interface {
	Add(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route
}

// Authorizer holds the declared routes and the Casbin enforcer built from
// them and the staff grants.
type Authorizer struct {
	setMu sync.Mutex // serializes SetGrants, which builds outside mu

	// mu guards everything below. Enforce runs under the read lock: Casbin's
	// plain Enforcer is safe for concurrent reads but not alongside writes.
	mu        sync.RWMutex
	enforcer  *casbin.Enforcer
	decisions *decisions            // answers of this enforcer; replaced with it
	routes    map[string]Permission // "METHOD template" -> permission
	declared  []string              // keys of routes, in declaration order
	routesVer uint64                // bumped by Route, so SetGrants can notice
	grants    []Grant
}

// New returns an Authorizer with no routes and no grants: everything is denied.
func New() (*Authorizer, error) {
	e, err := newEnforcer(nil, rules{})
	if err != nil {
		return nil, err
	}
	return &Authorizer{enforcer: e, decisions: &decisions{}, routes: map[string]Permission{}}, nil
}

func routeKey(method, path string) string { return method + " " + path }

// Route registers h on r and declares the permission it needs. Declaring a
// route twice with different permissions, or an unknown permission, panics:
// both are programming errors that must not reach production.
func (a *Authorizer) Route(r Router, method, path string, perm Permission, h echo.HandlerFunc, m ...echo.MiddlewareFunc) *echo.Route {
	if !perm.Known() {
		panic(fmt.Sprintf("authz: %s %s declares unknown permission %q", method, path, perm))
	}
	rt := r.Add(method, path, h, m...)
	// rt.Path is the full template (group prefix included): what c.Path() returns.
	key := routeKey(rt.Method, rt.Path)

	a.mu.Lock()
	defer a.mu.Unlock()
	if old, ok := a.routes[key]; ok {
		if old != perm {
			panic(fmt.Sprintf("authz: route %s declared twice, as %q and as %q", key, old, perm))
		}
		return rt
	}
	a.routes[key] = perm
	a.declared = append(a.declared, key)
	a.routesVer++
	if rules := policyRules(rt.Method, rt.Path, perm); len(rules) > 0 {
		if _, err := a.enforcer.AddPolicies(rules); err != nil {
			panic(fmt.Sprintf("authz: adding p rules for %s: %v", key, err))
		}
		a.decisions = &decisions{} // cached denials may now be allowed
	}
	return rt
}

// policyRules are the p rules of one route: one per role holding perm.
func policyRules(method, path string, perm Permission) [][]string {
	var rules [][]string
	for _, role := range permissions[perm].roles {
		rules = append(rules, []string{role, path, method})
	}
	return rules
}

// SetGrants replaces all staff grants atomically. On error nothing changes.
func (a *Authorizer) SetGrants(grants []Grant) error {
	r, err := grantRules(grants)
	if err != nil {
		return err
	}
	grants = slices.Clone(grants)

	a.setMu.Lock()
	defer a.setMu.Unlock()
	for {
		// Build a fresh enforcer without holding mu, so requests do not wait
		// for it (see BenchmarkSetGrants). A fresh enforcer also drops
		// Casbin's memo of g(), g2() and g3() answers, which otherwise only
		// grows (by one entry per subject and domain asked about).
		a.mu.RLock()
		policies, ver := a.policiesLocked(), a.routesVer
		a.mu.RUnlock()
		e, err := newEnforcer(policies, r)
		if err != nil {
			return err
		}
		a.mu.Lock()
		if a.routesVer == ver {
			a.enforcer, a.decisions, a.grants = e, &decisions{}, grants
			a.mu.Unlock()
			return nil
		}
		a.mu.Unlock() // a route was declared meanwhile: build again
	}
}

// policiesLocked returns the p rules of every declared route, in the order
// Route added them to the first enforcer: Casbin scans p rules linearly, so
// the order decides what a decision-cache miss costs, and it should not
// change from one SetGrants to the next (as map order would).
func (a *Authorizer) policiesLocked() [][]string {
	var policies [][]string
	for _, key := range a.declared {
		method, path := splitKey(key)
		policies = append(policies, policyRules(method, path, a.routes[key])...)
	}
	return policies
}

// Grants returns the staff grants currently in force.
func (a *Authorizer) Grants() []Grant {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return slices.Clone(a.grants)
}

func splitKey(key string) (method, path string) {
	method, path, _ = strings.Cut(key, " ")
	return method, path
}

// Permission returns what the route method+path (a route template) declared.
func (a *Authorizer) Permission(method, path string) (Permission, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	p, ok := a.routes[routeKey(method, path)]
	return p, ok
}

// Allowed reports whether s may use the route template path with method in
// domain (TenantDomain(id) or PlatformDomain). Undeclared routes, malformed
// subjects and domains, and APIKey routes (no session involved) are denied;
// Public routes are allowed. It does not check the request's surface (portal
// or console): Middleware does.
func (a *Authorizer) Allowed(s Subject, domain, path, method string) bool {
	if !validDomain(domain) {
		return false
	}
	sub, ok := casbinSubject(s, domain)
	if !ok {
		return false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	perm, ok := a.routes[routeKey(method, path)]
	if !ok {
		return false
	}
	if permissions[perm].scope == scopeUnenforced {
		return perm == Public
	}
	if refused(perm, domain) {
		return false
	}
	k := decisionKey{sub, domain, path, method}
	if allowed, found := a.decisions.get(k); found {
		return allowed
	}
	allowed, err := a.enforcer.Enforce(sub, domain, path, method)
	if err != nil {
		slog.Error("authz: enforce failed", "err", err, "subject", s.Key, "domain", domain, "path", path, "method", method)
		return false
	}
	a.decisions.put(k, allowed)
	return allowed
}

// VisibleTenants filters ids to those s may see: for staff, those where a
// role holding TenantView is granted and not excepted; for client users,
// only their own tenant.
func (a *Authorizer) VisibleTenants(s Subject, ids []int64) []int64 {
	var out []int64
	if !s.Staff {
		if _, ok := casbinSubject(s, TenantDomain(s.TenantID)); ok && slices.Contains(ids, s.TenantID) {
			out = append(out, s.TenantID)
		}
		return out
	}
	sub, ok := casbinSubject(s, PlatformDomain)
	if !ok {
		return out
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	for _, id := range ids {
		if id > 0 && a.holds(sub, TenantDomain(id), TenantView) {
			out = append(out, id)
		}
	}
	return out
}

// refused reports whether perm is out of the question in domain whatever the
// grants: a tenant permission in the platform domain. Every grant gives its
// role in the platform domain (list grants by a g rule there, all and
// all_except grants by g3, which holds in every domain), so without this a
// technician would hold TenantView on console-wide pages.
func refused(perm Permission, domain string) bool {
	return permissions[perm].scope == scopeTenant && domain == PlatformDomain
}

// holds asks Casbin's role managers the matcher's role question without a
// route: is sub linked to a role holding perm in every domain (g3) or in
// domain (g), and not excluded from domain (g2). Answers are cached like
// Enforce's, under a key no route can have (no method is "").
func (a *Authorizer) holds(sub, domain string, perm Permission) bool {
	k := decisionKey{sub, domain, string(perm), ""}
	if held, found := a.decisions.get(k); found {
		return held
	}
	held := validDomain(domain) && !refused(perm, domain) && a.holdsUncached(sub, domain, perm)
	a.decisions.put(k, held)
	return held
}

func (a *Authorizer) holdsUncached(sub, domain string, perm Permission) bool {
	excluded, err := a.enforcer.GetNamedRoleManager("g2").HasLink(sub, domain)
	if err != nil || excluded {
		return false
	}
	if a.holdsEverywhere(sub, perm) {
		return true
	}
	rm := a.enforcer.GetNamedRoleManager("g")
	for _, role := range permissions[perm].roles {
		if linked, err := rm.HasLink(sub, role, domain); err == nil && linked {
			return true
		}
	}
	return false
}

// everywhereAct marks the decision-cache keys of holdsEverywhere. holds keys
// have act "" and Enforce keys an HTTP method with a valid domain, while
// these have domain "" and act "g3": no other key can equal one.
const everywhereAct = "g3"

// holdsEverywhere reports whether sub is linked to a role holding perm in
// every domain (g3). The answer does not depend on the domain, so it is asked
// once per subject and permission rather than once per tenant (Casbin
// allocates a temporary role for every lookup of a name it does not hold).
func (a *Authorizer) holdsEverywhere(sub string, perm Permission) bool {
	k := decisionKey{sub: sub, obj: string(perm), act: everywhereAct}
	if held, found := a.decisions.get(k); found {
		return held
	}
	held := false
	rm := a.enforcer.GetNamedRoleManager("g3")
	for _, role := range permissions[perm].roles {
		if linked, err := rm.HasLink(sub, role); err == nil && linked {
			held = true
			break
		}
	}
	a.decisions.put(k, held)
	return held
}

// Undeclared lists "METHOD path" of routes registered on e without a
// declaration, ignoring Echo's RouteNotFound catch-alls (Group.Use adds them).
func (a *Authorizer) Undeclared(e *echo.Echo) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	var out []string
	for _, rt := range allRoutes(e) {
		key := routeKey(rt.Method, rt.Path)
		if rt.Method == echo.RouteNotFound || slices.Contains(out, key) {
			continue
		}
		if _, ok := a.routes[key]; !ok {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// allRoutes returns the routes of e's default router and of its host routers.
func allRoutes(e *echo.Echo) []*echo.Route {
	routes := e.Routes()
	for _, r := range e.Routers() {
		routes = append(routes, r.Routes()...)
	}
	return routes
}
