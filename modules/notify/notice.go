package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/platform/tenancy"
)

// notice is one message to send, whatever the channel's kind: the alert,
// which event it is about, and what every receiver is told with it.
type notice struct {
	Event    string // AlertCreated … SLABreached, or EventTest
	Reason   string // the delivery's reason: "" for a new alert, else the subject's tag
	ID       string // the event's id (payload "id")
	Tenant   payloadTenant
	Client   string // the client's display name
	Link     string // the alert's page in the console
	Delivery string // X-Switchboard-Delivery: the same on every retry of one delivery
	Alert    alerts.Alert
	What     happening // the event's time and details
}

// newNotice builds the notice of a delivery (alert a, with its timeline, to
// channel ch for reason).
func (s *Service) newNotice(ctx context.Context, t tenancy.Tenant, ch Channel, a alerts.Alert, timeline []alerts.Event, reason string) (notice, error) {
	n, err := s.alertNotice(ctx, t, a, timeline, reason)
	if err != nil {
		return notice{}, err
	}
	n.Delivery = fmt.Sprintf("%d-%d", a.ID, ch.ID)
	if reason != "" {
		n.Delivery += "-" + strings.ReplaceAll(strings.ReplaceAll(reason, " ", "-"), ":", "")
	}
	return n, nil
}

// alertNotice is the notice of an event of alert a, before it is addressed.
func (s *Service) alertNotice(ctx context.Context, t tenancy.Tenant, a alerts.Alert, timeline []alerts.Event, reason string) (notice, error) {
	client, err := clientName(ctx, t)
	if err != nil {
		return notice{}, err
	}
	return notice{Event: eventOf(reason), Reason: reason, ID: eventID(t.ID, a.ID, reason),
		Tenant: payloadTenant{Slug: t.Slug, Name: t.Name}, Client: client,
		Link: s.consoleURL(t, "/alerts/"+strconv.FormatInt(a.ID, 10)), Alert: a,
		What: describe(a, timeline, reason, time.Now())}, nil
}

// testNotice is the message "Send test" delivers: alert #0, a made-up
// alert that says what it is, linking to the channels page.
func (s *Service) testNotice(ctx context.Context, t tenancy.Tenant, ch Channel, now time.Time) (notice, error) {
	client, err := clientName(ctx, t)
	if err != nil {
		return notice{}, err
	}
	a := alerts.Alert{Source: "switchboard", Rule: "switchboard_test", Severity: alerts.SeverityInfo, Status: alerts.StatusFiring,
		Summary: "Test notification from Switchboard: channel " + ch.Name + " works.", Labels: map[string]string{},
		FirstSeenAt: now, LastSeenAt: now}
	delivery := fmt.Sprintf("test-%d-%d", ch.ID, now.UnixNano())
	return notice{Event: EventTest, Reason: EventTest, ID: delivery, Tenant: payloadTenant{Slug: t.Slug, Name: t.Name}, Client: client,
		Link: s.consoleURL(t, "/channels"), Delivery: delivery, Alert: a, What: happening{At: now.UTC()}}, nil
}

// body is the JSON payload of n (webhooks send it, inboxes keep it).
func (n notice) body() webhookBody {
	a := n.Alert
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	b := webhookBody{Event: n.Event, ID: n.ID, OccurredAt: n.What.At, Tenant: n.Tenant, Client: n.Client,
		Alert: &webhookAlert{ID: a.ID, Rule: a.Rule, Severity: a.Severity, Status: a.Status, Summary: a.Summary,
			Endpoint: a.Endpoint, Labels: labels, FirstSeenAt: a.FirstSeenAt.UTC(), Assignee: a.Assignee, URL: n.Link},
		Note: n.What.Note, Assignment: n.What.Assignment, SLA: n.What.SLA}
	if n.Event == SLAWarning || n.Event == SLABreached {
		b.Reason = n.Reason
	}
	return b
}

// consoleURL is a page of the client in the console: notify.base_url plus
// the path, or the bare path when no base URL is configured.
func (s *Service) consoleURL(t tenancy.Tenant, path string) string {
	return strings.TrimRight(s.opts.BaseURL, "/") + "/t/" + t.Slug + path
}

// clientName is the client's display name (its settings' display_name),
// or its name in the control plane when that is unset.
func clientName(ctx context.Context, t tenancy.Tenant) (string, error) {
	var names []string
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT value FROM settings WHERE key = 'display_name'`).Scan(&names).Error
	})
	if err != nil {
		return "", fmt.Errorf("reading the client's display name: %w", err)
	}
	if len(names) == 0 || strings.TrimSpace(names[0]) == "" {
		return t.Name, nil
	}
	return names[0], nil
}

// send delivers n to ch by the channel's kind.
func (s *Service) send(ctx context.Context, t tenancy.Tenant, ch Channel, n notice) (string, error) {
	switch ch.Kind {
	case KindEmail:
		return s.sendEmail(ctx, t, ch, n)
	case KindWebhook:
		return s.sendWebhook(ctx, ch, n)
	case KindInbox:
		return s.sendInbox(ctx, t, ch, n)
	}
	return "", permanent(fmt.Errorf("unknown channel kind %q", ch.Kind))
}
