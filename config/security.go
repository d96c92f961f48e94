package config

import (
	"fmt"
	"slices"
	"strings"
)

// Security configures how staff sign in to the console.
type Security struct {
	// RequireMFA lists the staff roles (owner, admin, technician) that must
	// use a second factor (TOTP or a passkey): someone of such a role who
	// has none may only reach the enrolment page until they add one. In the
	// environment a comma list; "none" requires it of nobody (an empty
	// environment variable means "not set" and keeps the default).
	RequireMFA []string `mapstructure:"require_mfa"`
}

// noRoles is how "nobody" is written where an empty value cannot be.
const noRoles = "none"

// normalize splits an environment variable's comma list, trims and
// lower-cases the roles and turns "none" into the empty list.
func (s *Security) normalize() {
	var roles []string
	for _, item := range s.RequireMFA {
		for _, r := range strings.Split(item, ",") {
			if r = strings.ToLower(strings.TrimSpace(r)); r != "" {
				roles = append(roles, r)
			}
		}
	}
	if len(roles) == 1 && roles[0] == noRoles {
		roles = nil
	}
	slices.Sort(roles)
	s.RequireMFA = slices.Compact(roles)
}

func (s Security) validate() error {
	for _, r := range s.RequireMFA {
		switch r {
		case "owner", "admin", "technician":
		default:
			return fmt.Errorf("%w: security.require_mfa lists staff roles (owner, admin, technician) or is %q, not %q",
				ErrInvalid, noRoles, r)
		}
	}
	return nil
}
