// Package tenants owns the control-plane records of clients: provisioning,
// status, hostnames, API keys, export and fleet migrations.
package tenants

import (
	"time"

	"switchboard/platform/tenancy"
)

// Tenant is a client's control-plane record.
type Tenant struct {
	ID             int64      `gorm:"column:id;primaryKey" json:"id"`
	Slug           string     `gorm:"column:slug" json:"slug"`
	Name           string     `gorm:"column:name" json:"name"`
	Status         string     `gorm:"column:status" json:"status"`
	SchemaName     string     `gorm:"column:schema_name" json:"schema"`
	RoleName       string     `gorm:"column:role_name" json:"role"`
	Cell           string     `gorm:"column:cell" json:"cell"`
	SchemaVersion  int        `gorm:"column:schema_version" json:"schema_version"`
	MigrationError *string    `gorm:"column:migration_error" json:"migration_error,omitempty"`
	MigratedAt     *time.Time `gorm:"column:migrated_at" json:"migrated_at,omitempty"`
	CreatedAt      time.Time  `gorm:"column:created_at" json:"created_at"`
	UpdatedAt      time.Time  `gorm:"column:updated_at" json:"updated_at"`
	Domains        []Domain   `gorm:"-" json:"domains"`
}

// TableName maps Tenant to the control plane.
func (Tenant) TableName() string { return "control.tenants" }

// Domain is a hostname that routes to a tenant's portal.
type Domain struct {
	Hostname  string    `gorm:"column:hostname;primaryKey" json:"hostname"`
	TenantID  int64     `gorm:"column:tenant_id" json:"-"`
	IsPrimary bool      `gorm:"column:is_primary" json:"primary"`
	Verified  bool      `gorm:"column:verified" json:"verified"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
	// VerifyToken is the value the TXT record at ChallengeName must hold.
	VerifyToken string     `gorm:"column:verify_token" json:"verify_token"`
	VerifiedAt  *time.Time `gorm:"column:verified_at" json:"verified_at,omitempty"`
	CheckedAt   *time.Time `gorm:"column:checked_at" json:"checked_at,omitempty"`
	CheckError  *string    `gorm:"column:check_error" json:"check_error,omitempty"`
}

// TableName maps Domain to the control plane.
func (Domain) TableName() string { return "control.tenant_domains" }

// APIKey is the stored (hashed) form of a tenant's API key.
type APIKey struct {
	ID         int64      `gorm:"column:id;primaryKey" json:"id"`
	TenantID   int64      `gorm:"column:tenant_id" json:"-"`
	Name       string     `gorm:"column:name" json:"name"`
	Prefix     string     `gorm:"column:prefix" json:"prefix"`
	KeyHash    []byte     `gorm:"column:key_hash" json:"-"`
	CreatedAt  time.Time  `gorm:"column:created_at" json:"created_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at" json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `gorm:"column:last_used_at" json:"last_used_at,omitempty"`
}

// TableName maps APIKey to the control plane.
func (APIKey) TableName() string { return "control.api_keys" }

// scope turns the record into the value tenancy.Do accepts.
func (t Tenant) scope() tenancy.Tenant {
	return tenancy.Tenant{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status, SchemaVersion: t.SchemaVersion, Cell: t.Cell}
}
