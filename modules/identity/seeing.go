package identity

import (
	"context"

	"switchboard/platform/authz"
)

// StaffSeeing returns the enabled staff users who can see tenant tenantID
// under a's current grants: the people its alerts can be assigned to.
func (s *Service) StaffSeeing(ctx context.Context, a *authz.Authorizer, tenantID int64) ([]StaffUser, error) {
	all, err := s.ListStaff(ctx)
	if err != nil {
		return nil, err
	}
	var out []StaffUser
	for _, u := range all {
		sub := authz.Subject{Key: u.Subject(), Role: u.Role, Staff: true, Email: u.Email}
		if u.DisabledAt == nil && len(a.VisibleTenants(sub, []int64{tenantID})) == 1 {
			out = append(out, u)
		}
	}
	return out, nil
}
