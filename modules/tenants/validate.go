package tenants

import (
	"net"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"switchboard/platform/fault"
)

// Errors callers map to user-facing outcomes (HTTP 4xx, CLI exit status 2)
// through their fault kinds.
var (
	ErrNotFound = fault.Kind(fault.NotFound, "no such tenant")
	ErrConflict = fault.Kind(fault.Conflict, "already exists")
	// ErrStatus refuses a change the tenant's current status does not allow
	// (resuming a tenant that is being deleted).
	ErrStatus  = fault.Kind(fault.Conflict, "wrong status")
	ErrInvalid = fault.Kind(fault.Invalid, "invalid input")
)

var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{1,38}[a-z0-9]$`)

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}

// ValidateSlug checks a tenant slug: 3–40 characters, lower-case letters,
// digits and inner hyphens, starting with a letter.
func ValidateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return invalid("slug %q must be 3-40 characters of a-z, 0-9 and '-', start with a letter and not end with '-'", slug)
	}
	if strings.Contains(slug, "--") {
		return invalid("slug %q must not contain '--'", slug)
	}
	return nil
}

// ValidateName checks a tenant's display name.
func ValidateName(name string) error {
	if strings.TrimSpace(name) != name || name == "" {
		return invalid("name must not be empty or start/end with spaces")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200 {
		return invalid("name must be valid UTF-8 of at most 200 characters")
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return invalid("name must not contain control characters")
		}
	}
	return nil
}

var hostLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NormalizeHostname lower-cases a hostname and checks it is a plausible DNS
// name with at least two labels (no IP addresses, ports, or wildcards).
func NormalizeHostname(host string) (string, error) {
	h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if h == "" || len(h) > 253 {
		return "", invalid("hostname %q must be 1-253 characters", host)
	}
	if net.ParseIP(h) != nil {
		return "", invalid("hostname %q is an IP address; use a DNS name", host)
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return "", invalid("hostname %q must have at least two labels, like portal.example.com", host)
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) {
			return "", invalid("hostname %q has an invalid label %q", host, l)
		}
	}
	return h, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
