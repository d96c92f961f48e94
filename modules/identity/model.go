// Package identity owns who people are: staff users (control plane) and
// client users (each in its tenant's schema), their passwords, sessions,
// login throttling and staff grants over tenants.
package identity

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"switchboard/platform/fault"
)

// StaffUser is an MSP employee; lives in the control plane.
type StaffUser struct {
	ID           int64      `gorm:"column:id;primaryKey" json:"id"`
	Email        string     `gorm:"column:email" json:"email"`
	Name         string     `gorm:"column:name" json:"name"`
	PasswordHash string     `gorm:"column:password_hash" json:"-"`
	Role         string     `gorm:"column:role" json:"role"`
	TenantScope  string     `gorm:"column:tenant_scope" json:"tenant_scope"`
	DisabledAt   *time.Time `gorm:"column:disabled_at" json:"disabled_at,omitempty"`
	LastLoginAt  *time.Time `gorm:"column:last_login_at" json:"last_login_at,omitempty"`
	CreatedAt    time.Time  `gorm:"column:created_at" json:"created_at"`
	UpdatedAt    time.Time  `gorm:"column:updated_at" json:"updated_at"`
	// SessionsNotBefore voids every session started earlier.
	SessionsNotBefore time.Time `gorm:"column:sessions_not_before" json:"-"`
	// SSOIssuer and SSOSubject bind the user to their account at the
	// identity provider after their first single sign-on (nil: never).
	SSOIssuer  *string `gorm:"column:sso_issuer" json:"-"`
	SSOSubject *string `gorm:"column:sso_subject" json:"-"`
	// TimeZone is the IANA zone the console shows this user's times in.
	TimeZone    string   `gorm:"column:time_zone" json:"time_zone"`
	TenantIDs   []int64  `gorm:"-" json:"tenant_ids"`
	TenantSlugs []string `gorm:"-" json:"tenants"`
}

// TableName maps StaffUser to the control plane.
func (StaffUser) TableName() string { return "control.staff_users" }

// Subject is the authorization subject key of a staff user.
func (u StaffUser) Subject() string { return fmt.Sprintf("staff:%d", u.ID) }

// ClientUser is a person at a client; lives in the tenant's schema.
type ClientUser struct {
	ID           int64      `gorm:"column:id;primaryKey" json:"id"`
	Email        string     `gorm:"column:email" json:"email"`
	Name         string     `gorm:"column:name" json:"name"`
	PasswordHash string     `gorm:"column:password_hash" json:"-"`
	Role         string     `gorm:"column:role" json:"role"`
	DisabledAt   *time.Time `gorm:"column:disabled_at" json:"disabled_at,omitempty"`
	LastLoginAt  *time.Time `gorm:"column:last_login_at" json:"last_login_at,omitempty"`
	CreatedAt    time.Time  `gorm:"column:created_at" json:"created_at"`
	UpdatedAt    time.Time  `gorm:"column:updated_at" json:"updated_at"`
	// SSOIssuer and SSOSubject bind the user to their account at the
	// client's identity provider after their first portal single sign-on.
	SSOIssuer  *string `gorm:"column:sso_issuer" json:"-"`
	SSOSubject *string `gorm:"column:sso_subject" json:"-"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (ClientUser) TableName() string { return "users" }

// Roles and grant scopes.
const (
	RoleOwner       = "owner"
	RoleAdmin       = "admin"
	RoleTechnician  = "technician"
	RoleClientAdmin = "client_admin"
	RoleClientUser  = "client_user"

	ScopeAll       = "all"
	ScopeList      = "list"
	ScopeAllExcept = "all_except"
)

// Errors callers map to user-facing outcomes through their fault kinds.
var (
	ErrInvalid   = fault.Kind(fault.Invalid, "invalid input")
	ErrNotFound  = fault.Kind(fault.NotFound, "not found")
	ErrConflict  = fault.Kind(fault.Conflict, "already exists")
	ErrBadLogin  = fault.Kind(fault.Unauthorized, "invalid email or password")
	ErrLastOwner = fault.Kind(fault.Conflict, "the last active owner cannot be disabled or demoted")
)

// ThrottledError says a login was refused because of repeated failures.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; try again in %s", e.RetryAfter.Round(time.Second))
}

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}

// NormalizeEmail lower-cases and checks an e-mail address.
func NormalizeEmail(s string) (string, error) {
	e := strings.ToLower(strings.TrimSpace(s))
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || len(e) > 254 || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") {
		return "", invalid("%q is not a valid e-mail address", s)
	}
	return e, nil
}

func checkName(name string) error {
	if len(name) > 200 || strings.ContainsAny(name, "\x00\r\n\t") {
		return invalid("name must be at most 200 characters on one line")
	}
	return nil
}
