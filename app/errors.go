package main

import (
	"errors"
	"fmt"

	"switchboard/config"
	"switchboard/modules/agents"
	"switchboard/modules/identity"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
)

// errUsage marks command-line mistakes.
var errUsage = errors.New("usage")

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// isUserError reports whether err is the user's to fix (exit status 2).
func isUserError(err error) bool {
	for _, target := range []error{errUsage, config.ErrInvalid, tenants.ErrInvalid, tenants.ErrNotFound, tenants.ErrConflict,
		identity.ErrInvalid, identity.ErrNotFound, identity.ErrConflict, identity.ErrLastOwner, agents.ErrInvalid, agents.ErrNotFound,
		policies.ErrInvalid, policies.ErrNotFound, policies.ErrLocked} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
