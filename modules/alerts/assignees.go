package alerts

import (
	"context"
	"fmt"
	"slices"

	"switchboard/platform/tenancy"
)

// Assignee is someone an alert of a client can be given to.
type Assignee struct {
	Email string
	Name  string
}

// AssigneeSource lists who may be given the alerts of t: the staff who can
// see that client. The app wires it from identity and the authorizer.
type AssigneeSource func(ctx context.Context, t tenancy.Tenant) ([]Assignee, error)

// SetAssignees makes Assign accept only the people src lists (and clearing).
// Call it once, before the service is used; without it any address is taken.
func (s *Service) SetAssignees(src AssigneeSource) { s.assignees = src }

// Assignees returns who may be given the alerts of t, or nil when no
// source is wired.
func (s *Service) Assignees(ctx context.Context, t tenancy.Tenant) ([]Assignee, error) {
	if s.assignees == nil {
		return nil, nil
	}
	people, err := s.assignees(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("listing who can be assigned: %w", err)
	}
	return people, nil
}

// checkAssignee refuses an assignee who cannot see the client: an alert
// given to a typo, or to someone who cannot open it, is an alert nobody works.
func (s *Service) checkAssignee(ctx context.Context, t tenancy.Tenant, email string) error {
	if email == "" || s.assignees == nil {
		return nil
	}
	people, err := s.Assignees(ctx, t)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(people, func(p Assignee) bool { return p.Email == email }) {
		return invalid("%s cannot be assigned this alert: only staff who can see this client can (pick one from the list)", email)
	}
	return nil
}
