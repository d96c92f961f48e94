package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/slas"
	"switchboard/platform/tenancy"
)

// The outbox subscriptions of MSP-wide webhooks. Each builds the payload
// once per event (the alert as it stands when the event is handled, the
// event's own time in occurred_at), stores one delivery per webhook that
// chose the event, and inserts the delivery jobs. A re-drained event finds
// its deliveries stored (webhook and delivery id are unique) and only
// re-inserts their jobs, which River's unique keys make no-ops: nothing is
// sent twice, and nothing is lost if the process dies between the two.

func (h *Hooks) opened(ctx context.Context, t tenancy.Tenant, events []alerts.Opened) error {
	todo := make([]followUp, len(events))
	for i, e := range events {
		todo[i] = followUp{alertID: e.Alert.ID, reason: reasonCreated}
	}
	return h.alertEvents(ctx, t, todo)
}

func (h *Hooks) changed(ctx context.Context, t tenancy.Tenant, events []alerts.Changed) error {
	var todo []followUp
	for _, e := range events {
		switch e.Action {
		case alerts.ActionAcknowledge:
			todo = append(todo, followUp{alertID: e.AlertID, reason: reasonAcknowledged})
		case alerts.ActionResolve:
			todo = append(todo, followUp{alertID: e.AlertID, reason: reasonResolved})
		}
	}
	return h.alertEvents(ctx, t, todo)
}

func (h *Hooks) reached(ctx context.Context, t tenancy.Tenant, events []slas.Reached) error {
	todo := make([]followUp, len(events))
	for i, e := range events {
		todo[i] = followUp{alertID: e.AlertID, reason: e.Reason()}
	}
	return h.alertEvents(ctx, t, todo)
}

func (h *Hooks) timeline(ctx context.Context, t tenancy.Tenant, events []TimelineEntry) error {
	todo := make([]followUp, len(events))
	for i, e := range events {
		todo[i] = followUp{alertID: e.AlertID, reason: entryReason(e)}
	}
	return h.alertEvents(ctx, t, todo)
}

func (h *Hooks) clientCreated(ctx context.Context, _ tenancy.Tenant, events []ClientCreatedEvent) error {
	out := make([]ClientChange, len(events))
	for i, e := range events {
		out[i] = e.ClientChange
	}
	return h.clientEvents(ctx, ClientCreated, out)
}

func (h *Hooks) clientSuspended(ctx context.Context, _ tenancy.Tenant, events []ClientSuspendedEvent) error {
	out := make([]ClientChange, len(events))
	for i, e := range events {
		out[i] = e.ClientChange
	}
	return h.clientEvents(ctx, ClientSuspended, out)
}

// pendingDelivery is a delivery to store: one event to one webhook.
type pendingDelivery struct {
	webhookID int64
	delivery  string // X-Switchboard-Delivery
	event     string
	tenantID  int64
	alertID   *int64
	payload   []byte
}

// subscribed returns the webhooks that chose event.
func subscribed(hooks []Hook, event string) []Hook {
	var out []Hook
	for _, hk := range hooks {
		if hk.Receives(event) {
			out = append(out, hk)
		}
	}
	return out
}

// alertEvents delivers events of t's alerts to the webhooks that chose
// them. Like a client's channels, webhooks only hear of alerts that were
// announced (opened firing, not suppressed).
func (h *Hooks) alertEvents(ctx context.Context, t tenancy.Tenant, todo []followUp) error {
	if len(todo) == 0 {
		return nil
	}
	hooks, err := h.List(ctx)
	if err != nil || len(hooks) == 0 {
		return err // the common case costs one control-plane read
	}
	var rows []pendingDelivery
	for _, f := range todo {
		event := eventOf(f.reason)
		subs := subscribed(hooks, event)
		if len(subs) == 0 {
			continue
		}
		a, timeline, err := h.s.deps.Alerts.Get(ctx, t, f.alertID)
		if errors.Is(err, alerts.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if !announced(timeline) {
			continue
		}
		n, err := h.s.alertNotice(ctx, t, a, timeline, f.reason)
		if err != nil {
			return err
		}
		body, err := json.Marshal(n.body())
		if err != nil {
			return fmt.Errorf("encoding the %s payload: %w", event, err)
		}
		for _, hk := range subs {
			rows = append(rows, pendingDelivery{webhookID: hk.ID, delivery: hookDelivery(hk.ID, n.ID), event: event,
				tenantID: t.ID, alertID: &a.ID, payload: body})
		}
	}
	return h.store(ctx, rows)
}

// clientEvents delivers client.created or client.suspended.
func (h *Hooks) clientEvents(ctx context.Context, event string, changes []ClientChange) error {
	hooks, err := h.List(ctx)
	if err != nil {
		return err
	}
	subs := subscribed(hooks, event)
	if len(subs) == 0 {
		return nil
	}
	var rows []pendingDelivery
	for _, c := range changes {
		verb := event[len("client."):]
		id := "client-" + strconv.FormatInt(c.TenantID, 10) + "-" + verb + "-" + strconv.FormatInt(c.At.UnixMicro(), 10)
		body, err := json.Marshal(webhookBody{Event: event, ID: id, OccurredAt: c.At.UTC(),
			Tenant: payloadTenant{Slug: c.Slug, Name: c.Name}, Client: c.Name})
		if err != nil {
			return fmt.Errorf("encoding the %s payload: %w", event, err)
		}
		for _, hk := range subs {
			rows = append(rows, pendingDelivery{webhookID: hk.ID, delivery: hookDelivery(hk.ID, id), event: event,
				tenantID: c.TenantID, payload: body})
		}
	}
	return h.store(ctx, rows)
}

// hookDelivery is a webhook delivery's X-Switchboard-Delivery: the webhook
// and the event, the same on every retry and redelivery.
func hookDelivery(hookID int64, eventID string) string {
	return "w" + strconv.FormatInt(hookID, 10) + "-" + eventID
}

// store records the deliveries (those stored before are kept as they are)
// and inserts a job for each that is still pending.
func (h *Hooks) store(ctx context.Context, rows []pendingDelivery) error {
	if len(rows) == 0 {
		return nil
	}
	var params []river.InsertManyParams
	err := h.control(ctx, func(tx *gorm.DB) error {
		params = params[:0]
		for _, r := range rows {
			var got []struct {
				ID     int64
				Round  int
				Status string
			}
			// A webhook deleted meanwhile selects nothing: no row, no job.
			err := tx.Raw(`INSERT INTO control.webhook_deliveries (webhook_id, delivery, event, tenant_id, alert_id, payload)
				SELECT id, ?, ?, ?, ?, ? FROM control.webhooks WHERE id = ?
				ON CONFLICT (webhook_id, delivery) DO UPDATE SET event = EXCLUDED.event
				RETURNING id, round, status`, r.delivery, r.event, r.tenantID, r.alertID, string(r.payload), r.webhookID).Scan(&got).Error
			if err != nil {
				return fmt.Errorf("storing a webhook delivery: %w", err)
			}
			for _, g := range got {
				if g.Status == deliveryPending {
					params = append(params, river.InsertManyParams{Args: hookDeliveryArgs{DeliveryID: g.ID, Round: g.Round}, InsertOpts: h.s.insertOpts()})
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	_, err = h.s.jobs.InsertMany(ctx, params)
	return err
}
