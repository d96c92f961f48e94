// Package alerts turns monitoring signals into deduplicated alerts with a
// lifecycle (firing → acknowledged → resolved), a timeline, notes, an
// assignee, and silences that record matching alerts as suppressed.
package alerts

import (
	"time"
)

// Alert statuses and severities.
const (
	StatusFiring       = "firing"
	StatusAcknowledged = "acknowledged"
	StatusResolved     = "resolved"
	StatusSuppressed   = "suppressed"

	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Alert is one deduplicated alert in a tenant's schema.
type Alert struct {
	ID             int64             `gorm:"column:id;primaryKey" json:"id"`
	Fingerprint    string            `gorm:"column:fingerprint" json:"fingerprint"`
	Source         string            `gorm:"column:source" json:"source"`
	Rule           string            `gorm:"column:rule" json:"rule"`
	Severity       string            `gorm:"column:severity" json:"severity"`
	Status         string            `gorm:"column:status" json:"status"`
	Summary        string            `gorm:"column:summary" json:"summary"`
	Description    string            `gorm:"column:description" json:"description"`
	Labels         map[string]string `gorm:"column:labels;serializer:json" json:"labels"`
	Endpoint       string            `gorm:"column:endpoint" json:"endpoint"`
	Occurrences    int               `gorm:"column:occurrences" json:"occurrences"`
	FirstSeenAt    time.Time         `gorm:"column:first_seen_at" json:"first_seen_at"`
	LastSeenAt     time.Time         `gorm:"column:last_seen_at" json:"last_seen_at"`
	AcknowledgedAt *time.Time        `gorm:"column:acknowledged_at" json:"acknowledged_at,omitempty"`
	ResolvedAt     *time.Time        `gorm:"column:resolved_at" json:"resolved_at,omitempty"`
	Assignee       string            `gorm:"column:assignee" json:"assignee"`
	SilenceID      *int64            `gorm:"column:silence_id" json:"silence_id,omitempty"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (Alert) TableName() string { return "alerts" }

// Open reports whether the alert still needs attention.
func (a Alert) Open() bool { return a.Status == StatusFiring || a.Status == StatusAcknowledged }

// Event is one entry on an alert's timeline.
type Event struct {
	ID      int64     `gorm:"column:id;primaryKey" json:"id"`
	AlertID int64     `gorm:"column:alert_id" json:"alert_id"`
	At      time.Time `gorm:"column:at" json:"at"`
	Kind    string    `gorm:"column:kind" json:"kind"` // created, repeated, acknowledged, resolved, reopened, note, assigned, suppressed
	Actor   string    `gorm:"column:actor" json:"actor"`
	Body    string    `gorm:"column:body" json:"body"`
	// ClientVisible marks a note the client may read in its portal.
	ClientVisible bool `gorm:"column:client_visible" json:"client_visible"`
}

// TableName maps Event.
func (Event) TableName() string { return "alert_events" }

// Matcher selects alerts by one label: equal (=), not equal (!=), or regular
// expression (=~). The pseudo-labels source, rule and severity match those fields.
type Matcher struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

// Silence suppresses matching alerts between StartsAt and EndsAt.
type Silence struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"id"`
	Matchers  []Matcher `gorm:"column:matchers;serializer:json" json:"matchers"`
	StartsAt  time.Time `gorm:"column:starts_at" json:"starts_at"`
	EndsAt    time.Time `gorm:"column:ends_at" json:"ends_at"`
	Comment   string    `gorm:"column:comment" json:"comment"`
	CreatedBy string    `gorm:"column:created_by" json:"created_by"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
}

// TableName maps Silence.
func (Silence) TableName() string { return "silences" }

// Signal is one incoming observation: an alert firing or resolving.
type Signal struct {
	Source      string            `json:"source"`
	Rule        string            `json:"rule"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"` // firing (default) or resolved
	Summary     string            `json:"summary"`
	Description string            `json:"description"`
	Endpoint    string            `json:"endpoint"`
	Labels      map[string]string `json:"labels"`
}

// Outcome says what ingesting a signal did.
type Outcome struct {
	AlertID  int64  `json:"alert_id"`
	Action   string `json:"action"` // created, repeated, resolved, suppressed, ignored
	Status   string `json:"status"`
	Occurred int    `json:"occurrences"`
}
