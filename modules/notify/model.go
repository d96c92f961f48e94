// Package notify delivers a tenant's alerts to its notification channels:
// e-mail over SMTP and signed webhooks. Channels live in the tenant's
// schema; routing comes from the tenant's effective policy; each delivery is
// a River job (platform/jobs) that names its tenant and enters the tenant
// plane through tenancy.Do, with retries and backoff in PostgreSQL.
package notify

import (
	"fmt"
	"time"

	"switchboard/platform/fault"
)

// Channel kinds.
const (
	KindEmail   = "email"
	KindWebhook = "webhook"
)

// Alert timeline event kinds written for each delivery attempt.
const (
	EventNotified     = "notified"
	EventNotifyFailed = "notify_failed"
)

// Channel is one destination for a tenant's alerts.
type Channel struct {
	ID        int64     `gorm:"column:id;primaryKey" json:"id"`
	Name      string    `gorm:"column:name" json:"name"`
	Kind      string    `gorm:"column:kind" json:"kind"`
	EmailTo   []string  `gorm:"column:email_to;serializer:json" json:"email_to,omitempty"`
	URL       string    `gorm:"column:webhook_url" json:"url,omitempty"`
	Secret    string    `gorm:"column:webhook_secret" json:"-"` // signs webhook bodies; never listed
	Enabled   bool      `gorm:"column:enabled" json:"enabled"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
	UpdatedAt time.Time `gorm:"column:updated_at" json:"updated_at"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (Channel) TableName() string { return "notification_channels" }

// Target describes where the channel sends, for lists and audit entries. A
// webhook shows only its scheme and host: paths and queries often carry tokens.
func (c Channel) Target() string {
	switch c.Kind {
	case KindEmail:
		return fmt.Sprintf("e-mail to %d address(es)", len(c.EmailTo))
	case KindWebhook:
		return "webhook " + redactURL(c.URL)
	}
	return c.Kind
}

// ChannelInput is what creating a channel takes.
type ChannelInput struct {
	Name    string
	Kind    string   // email or webhook
	EmailTo []string // email: 1-20 addresses
	URL     string   // webhook: http or https, no credentials
	Secret  string   // webhook: empty to generate one
}

// Errors of the service; the web layer maps their fault kinds to status.
var (
	ErrInvalid  = fault.Kind(fault.Invalid, "invalid notification channel")
	ErrNotFound = fault.Kind(fault.NotFound, "notification channel not found")
	ErrConflict = fault.Kind(fault.Conflict, "notification channel already exists")
)

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}
