// Package authz decides who may use which route: Casbin RBAC with domains
// (the tenant id, or PlatformDomain), deny by default. Routes declare the
// Permission they need when registered; a static table maps permissions to
// roles; staff grants give roles over tenants.
package authz

import (
	"context"
	"strings"
)

// Subject is who is asking; identity puts it in the request context after loading the session.
type Subject struct {
	Key      string // "staff:12" or "client:3:7" (tenant 3, user 7)
	Role     string
	Staff    bool
	TenantID int64 // client users: their tenant
	Email    string
}

type subjectKey struct{}

// WithSubject returns ctx carrying s.
func WithSubject(ctx context.Context, s Subject) context.Context {
	return context.WithValue(ctx, subjectKey{}, s)
}

// SubjectFrom returns the subject that WithSubject stored, if any.
func SubjectFrom(ctx context.Context) (Subject, bool) {
	s, ok := ctx.Value(subjectKey{}).(Subject)
	return s, ok
}

// casbinSubject is the r.sub to enforce for s in domain, or false if s may
// not be asked about there at all. Staff are enforced by key, so their grants
// decide and the session's Role is informational. Client users have no
// stored grants: their role name is the subject, which Casbin's role manager
// links to itself (HasLink(x, x) is true), and they exist only in their own
// tenant's domain. The shape checks matter: a staff "key" equal to a role name
// would otherwise inherit that role through the same self-link.
func casbinSubject(s Subject, domain string) (string, bool) {
	if s.Staff {
		id, ok := strings.CutPrefix(s.Key, "staff:")
		return s.Key, ok && id != ""
	}
	if !IsClientRole(s.Role) || !strings.HasPrefix(s.Key, "client:") || s.TenantID <= 0 {
		return "", false
	}
	return s.Role, domain == TenantDomain(s.TenantID)
}
