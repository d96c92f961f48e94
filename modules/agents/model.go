// Package agents enrolls endpoint agents with per-tenant tokens, keeps each
// tenant's endpoint inventory and metrics history from their check-ins,
// evaluates the tenant's thresholds with for-duration semantics, and raises
// "endpoint offline" alerts for endpoints that stop checking in.
package agents

import (
	"time"

	"switchboard/platform/fault"
)

// Errors of the service; the web layer maps their fault kinds to status.
var (
	ErrInvalid      = fault.Kind(fault.Invalid, "invalid request")             // 400: the sender must fix the input
	ErrUnauthorized = fault.Kind(fault.Unauthorized, "not authorized")         // 401: bad token or credential
	ErrSuspended    = fault.Kind(fault.Forbidden, "account suspended")         // 403: the tenant is suspended
	ErrNotFound     = fault.Kind(fault.NotFound, "not found")                  // 404
	ErrConflict     = fault.Kind(fault.Conflict, "conflict")                   // 409
	ErrUnavailable  = fault.Kind(fault.Unavailable, "temporarily unavailable") // 503: the tenant's schema is being upgraded
)

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}

func unauthorized(format string, args ...any) error {
	return fault.Newf(ErrUnauthorized, format, args...)
}

// Endpoint statuses.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Alert vocabulary shared by threshold and offline signals.
const (
	alertSource      = "agent"
	ruleOffline      = "endpoint_offline"
	metricDisk       = "disk_percent"
	metricCPU        = "cpu_percent"
	metricMemory     = "memory_percent"
	metricUptime     = "uptime_seconds"
	metricsRetention = 7 * 24 * time.Hour
)

// EnrollmentToken is the stored form of a token (never its secret).
type EnrollmentToken struct {
	ID         int64      `gorm:"column:id;primaryKey" json:"id"`
	Name       string     `gorm:"column:name" json:"name"`
	Prefix     string     `gorm:"column:prefix" json:"prefix"`
	ExpiresAt  time.Time  `gorm:"column:expires_at" json:"expires_at"`
	MaxUses    int        `gorm:"column:max_uses" json:"max_uses"`
	Uses       int        `gorm:"column:uses" json:"uses"`
	CreatedBy  string     `gorm:"column:created_by" json:"created_by"`
	CreatedAt  time.Time  `gorm:"column:created_at" json:"created_at"`
	RevokedAt  *time.Time `gorm:"column:revoked_at" json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `gorm:"column:last_used_at" json:"last_used_at,omitempty"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (EnrollmentToken) TableName() string { return "enrollment_tokens" }

// Usable reports whether the token can still enroll an endpoint at now.
func (t EnrollmentToken) Usable(now time.Time) bool {
	return t.RevokedAt == nil && now.Before(t.ExpiresAt) && t.Uses < t.MaxUses
}

// Disk is one mount's usage.
type Disk struct {
	Mount       string  `json:"mount"`
	UsedPercent float64 `json:"used_percent"`
}

// Report is what an agent sends on each check-in.
type Report struct {
	Hostname      string  `json:"hostname"`
	OS            string  `json:"os"`
	UptimeSeconds int64   `json:"uptime_seconds"`
	CPUPercent    float64 `json:"cpu_percent"`
	MemoryPercent float64 `json:"memory_percent"`
	Disks         []Disk  `json:"disks"`
}

// Endpoint is one enrolled machine with its latest metrics.
type Endpoint struct {
	ID            int64     `gorm:"column:id;primaryKey" json:"id"`
	Hostname      string    `gorm:"column:hostname" json:"hostname"`
	OS            string    `gorm:"column:os" json:"os"`
	EnrolledAt    time.Time `gorm:"column:enrolled_at" json:"enrolled_at"`
	LastSeenAt    time.Time `gorm:"column:last_seen_at" json:"last_seen_at"`
	Status        string    `gorm:"column:status" json:"status"`
	UptimeSeconds *int64    `gorm:"column:uptime_seconds" json:"uptime_seconds"`
	CPUPercent    *float64  `gorm:"column:cpu_percent" json:"cpu_percent"`
	MemoryPercent *float64  `gorm:"column:memory_percent" json:"memory_percent"`
	Disks         []Disk    `gorm:"column:disks;serializer:json" json:"disks"`
}

// TableName maps Endpoint.
func (Endpoint) TableName() string { return "endpoints" }

// Sample is one check-in in an endpoint's metrics history.
type Sample struct {
	At            time.Time `gorm:"column:at" json:"at"`
	UptimeSeconds int64     `gorm:"column:uptime_seconds" json:"uptime_seconds"`
	CPUPercent    float64   `gorm:"column:cpu_percent" json:"cpu_percent"`
	MemoryPercent float64   `gorm:"column:memory_percent" json:"memory_percent"`
	Disks         []Disk    `gorm:"column:disks;serializer:json" json:"disks"`
}

// TableName maps Sample.
func (Sample) TableName() string { return "endpoint_metrics" }

// Enrollment is what a successful enrollment hands the agent.
type Enrollment struct {
	EndpointID      int64         `json:"endpoint_id"`
	Credential      string        `json:"credential"`
	CheckInInterval time.Duration `json:"-"`
	Reenrolled      bool          `json:"reenrolled"`
}
