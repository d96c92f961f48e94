// Package notify delivers a tenant's alerts to its notification channels:
// e-mail over SMTP, signed webhooks, and a built-in inbox that records
// what it is sent (for demos and labs). Channels live in the tenant's
// schema; routing comes from the tenant's effective policy; each delivery is
// a River job (platform/jobs) that names its tenant and enters the tenant
// plane through tenancy.Do, with retries and backoff in PostgreSQL.
package notify

import (
	"fmt"
	"slices"
	"time"

	"switchboard/platform/fault"
)

// Channel kinds.
const (
	KindEmail   = "email"
	KindWebhook = "webhook"
	KindInbox   = "inbox" // records its messages in the tenant's schema, sends nothing
)

// The events subscriptions receive, as payloads name them in "event". A
// client's channels receive the alert and SLA events of that client (as its
// routing sends them); MSP-wide webhooks (hooks.go) any of them for every
// client, and the client events besides.
const (
	AlertCreated      = "alert.created"      // a new alert fired (was alert.firing)
	AlertAcknowledged = "alert.acknowledged" // someone took the alert
	AlertResolved     = "alert.resolved"     // the alert is over
	AlertAssigned     = "alert.assigned"     // the alert's assignee changed
	AlertNoted        = "alert.noted"        // a note on the alert (see Channel.ClientFacing)
	SLAWarning        = "sla.warning"        // an open alert's clock used its warning share
	SLABreached       = "sla.breached"       // an open alert's clock missed its target
	ClientCreated     = "client.created"     // a client was onboarded (MSP-wide webhooks only)
	ClientSuspended   = "client.suspended"   // a client was suspended (MSP-wide webhooks only)
	// EventTest is a test message sent from the channels page; every
	// channel receives it, whatever its events.
	EventTest = "test"
)

// AllEvents lists the events a client's channel can receive, in lifecycle order.
var AllEvents = []string{AlertCreated, AlertAssigned, AlertNoted, AlertAcknowledged, AlertResolved, SLAWarning, SLABreached}

// HookEvents lists the events an MSP-wide webhook can receive.
var HookEvents = append(slices.Clone(AllEvents), ClientCreated, ClientSuspended)

// DefaultEvents is what a channel receives when its creator does not say:
// what every channel received before channels chose.
var DefaultEvents = []string{AlertCreated, SLAWarning, SLABreached}

// legacyEvents are the names channels subscribed with before the full event
// set, still accepted from forms and scripts.
var legacyEvents = map[string][]string{"alert.firing": {AlertCreated}, "alert.escalated": {SLAWarning, SLABreached}}

// Alert timeline event kinds written for each delivery attempt.
const (
	EventNotified     = "notified"
	EventNotifyFailed = "notify_failed"
)

// Channel is one destination for a tenant's alerts.
type Channel struct {
	ID      int64    `gorm:"column:id;primaryKey" json:"id"`
	Name    string   `gorm:"column:name" json:"name"`
	Kind    string   `gorm:"column:kind" json:"kind"`
	EmailTo []string `gorm:"column:email_to;serializer:json" json:"email_to,omitempty"`
	URL     string   `gorm:"column:webhook_url" json:"url,omitempty"`
	Secret  string   `gorm:"column:webhook_secret" json:"-"` // signs webhook bodies; never listed
	Enabled bool     `gorm:"column:enabled" json:"enabled"`
	Events  []string `gorm:"column:events;serializer:json" json:"events"`
	// ClientFacing marks a channel that reaches the client's own people or
	// tools: it receives only notes the client may read. Other channels are
	// the MSP's own and receive internal notes too.
	ClientFacing bool      `gorm:"column:client_facing" json:"client_facing"`
	CreatedAt    time.Time `gorm:"column:created_at" json:"created_at"`
	UpdatedAt    time.Time `gorm:"column:updated_at" json:"updated_at"`
	// Warning, set by Create, says why deliveries will fail as things stand
	// (a webhook address this server refuses to reach); never stored.
	Warning string `gorm:"-" json:"warning,omitempty"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (Channel) TableName() string { return "notification_channels" }

// Receives reports whether the channel is subscribed to event.
func (c Channel) Receives(event string) bool {
	return event == EventTest || slices.Contains(c.Events, event)
}

// Target describes where the channel sends, for lists and audit entries. A
// webhook shows only its scheme and host: paths and queries often carry tokens.
func (c Channel) Target() string {
	switch c.Kind {
	case KindEmail:
		return fmt.Sprintf("e-mail to %d address(es)", len(c.EmailTo))
	case KindWebhook:
		return "webhook " + redactURL(c.URL)
	case KindInbox:
		return "built-in inbox"
	}
	return c.Kind
}

// ChannelInput is what creating a channel takes.
type ChannelInput struct {
	Name    string
	Kind    string   // email, webhook or inbox
	EmailTo []string // email: 1-20 addresses
	URL     string   // webhook: http or https, no credentials
	Secret  string   // webhook: empty to generate one
	Events  []string // of AllEvents; none: DefaultEvents
	// ClientFacing: the channel reaches the client; internal notes are not sent to it.
	ClientFacing bool
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
