package authz

import (
	"context"
	"strings"

	"switchboard/platform/tenancy"
)

// May reports whether the signed-in subject of ctx may use the route
// template route with method, from the page ctx belongs to: pages ask it to
// show only the forms and links their viewer can submit or follow. A tenant
// route ("/t/:slug/…") is asked in the tenant of the page; any other staff
// route in the platform domain; a client user only ever in their own tenant.
// It answers as Middleware would for that request, so a page that hides
// what May refuses hides nothing the viewer could have used.
func (a *Authorizer) May(ctx context.Context, method, route string) bool {
	perm, declared := a.Permission(method, route)
	switch {
	case !declared:
		return false
	case perm == Public:
		return true
	case perm == APIKey:
		return false // no session is ever enough
	}
	s, ok := SubjectFrom(ctx)
	if !ok {
		return false
	}
	domain := PlatformDomain
	if t, inTenant := tenancy.FromContext(ctx); inTenant && (!s.Staff || strings.HasPrefix(route, "/t/:slug")) {
		domain = TenantDomain(t.ID)
	} else if !s.Staff {
		return false
	}
	if _, wrong := surfaceDomain(ctx, s); wrong != "" {
		return false
	}
	return a.Allowed(s, domain, route, method)
}
