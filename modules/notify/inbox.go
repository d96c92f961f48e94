package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// inboxKeep is how many messages an inbox channel keeps: enough to follow a
// demo or a lab, never a table that grows with every alert.
const inboxKeep = 100

// InboxMessage is one message an inbox channel received: the webhook
// payload it would have been sent, and the e-mail subject.
type InboxMessage struct {
	ID         int64     `gorm:"column:id" json:"id"`
	Channel    string    `gorm:"column:channel" json:"channel"`
	AlertID    *int64    `gorm:"column:alert_id" json:"alert_id,omitempty"` // nil for a test message
	Event      string    `gorm:"column:event" json:"event"`
	Subject    string    `gorm:"column:subject" json:"subject"`
	Payload    string    `gorm:"column:payload" json:"payload"`
	ReceivedAt time.Time `gorm:"column:received_at" json:"received_at"`
}

// sendInbox records n in the tenant's inbox table: the built-in receiver,
// reached through the same jobs as any other channel, with no network.
func (s *Service) sendInbox(ctx context.Context, t tenancy.Tenant, ch Channel, n notice) (string, error) {
	payload, err := json.Marshal(n.body())
	if err != nil {
		return "", permanent(fmt.Errorf("encoding the payload: %w", err))
	}
	var alertID *int64
	if n.Alert.ID != 0 {
		alertID = &n.Alert.ID
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO notification_inbox (channel_id, alert_id, event, subject, payload) VALUES (?, ?, ?, ?, ?::jsonb)`,
			ch.ID, alertID, n.Event, subject(n.Alert, n.Reason), string(payload)).Error; err != nil {
			return fmt.Errorf("recording in the inbox: %w", err)
		}
		return tx.Exec(`DELETE FROM notification_inbox WHERE channel_id = ? AND id < (
			SELECT id FROM notification_inbox WHERE channel_id = ? ORDER BY id DESC OFFSET ? LIMIT 1)`, ch.ID, ch.ID, inboxKeep-1).Error
	})
	if err != nil {
		return "", err
	}
	return "received in the inbox", nil
}

// Inbox returns the newest messages the tenant's inbox channels received,
// newest first, at most limit (1-100).
func (s *Service) Inbox(ctx context.Context, t tenancy.Tenant, limit int) ([]InboxMessage, error) {
	if limit <= 0 || limit > inboxKeep {
		limit = inboxKeep
	}
	var out []InboxMessage
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT m.id, c.name AS channel, m.alert_id, m.event, m.subject, m.payload::text AS payload, m.received_at
			FROM notification_inbox m JOIN notification_channels c ON c.id = m.channel_id
			ORDER BY m.id DESC LIMIT ?`, limit).Scan(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("reading the inbox: %w", err)
	}
	return out, nil
}

// Pretty is the payload indented for reading.
func (m InboxMessage) Pretty() string {
	var b bytes.Buffer
	if err := json.Indent(&b, []byte(m.Payload), "", "  "); err != nil {
		return m.Payload
	}
	return b.String()
}

// Client is the payload's client display name.
func (m InboxMessage) Client() string { return m.decoded().Client }

// Link is the payload's console link.
func (m InboxMessage) Link() string {
	if a := m.decoded().Alert; a != nil {
		return a.URL
	}
	return ""
}

func (m InboxMessage) decoded() webhookBody {
	var b webhookBody
	_ = json.Unmarshal([]byte(m.Payload), &b) // stored by sendInbox: always decodes
	return b
}

// eventWords name the events for people.
var eventWords = map[string]string{
	AlertCreated: "New alerts", AlertAssigned: "Assignments", AlertNoted: "Notes", AlertAcknowledged: "Acknowledgements",
	AlertResolved: "Resolutions", SLAWarning: "SLA warnings", SLABreached: "SLA breaches",
	ClientCreated: "New clients", ClientSuspended: "Suspended clients", EventTest: "Test",
}

// EventWords names an event for people ("Resolutions").
func EventWords(event string) string {
	if w, ok := eventWords[event]; ok {
		return w
	}
	return event
}
