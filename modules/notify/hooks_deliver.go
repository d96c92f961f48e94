package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
)

// Where a delivery to an MSP-wide webhook stands.
const (
	deliveryPending   = "pending"   // waiting for its first or next attempt
	deliveryDelivered = "delivered" // the receiver answered 2xx
	deliveryFailed    = "failed"    // refused for good, or attempts ran out
)

// hookKind is how MSP-wide webhook deliveries are counted and logged,
// beside the channel kinds.
const hookKind = "msp_webhook"

// orderWindow bounds how long a delivery waits for an earlier one of the
// same alert to the same webhook (see Work): long enough for retries with
// backoff to get one through, short enough that a stuck one does not hold
// the alert's later events for ever.
const orderWindow = 15 * time.Minute

// orderWait is how soon a delivery held back by an earlier one looks again.
const orderWait = 250 * time.Millisecond

// orderBackoff is how long a delivery held back by an earlier one of the
// same alert waits before looking again, after waiting for waited: a
// quarter of that, from orderWait up to 30 s. Behind a receiver that is
// down (the earlier delivery in River's backoff for minutes) the later
// events of each alert look a few times a minute, not four times a second.
func orderBackoff(waited time.Duration) time.Duration {
	return min(max(waited/4, orderWait), 30*time.Second)
}

// hookDeliveryArgs is one round of one delivery: the first, or a redelivery.
type hookDeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id" river:"unique"`
	Round      int   `json:"round" river:"unique"`
}

// Kind names the job in River.
func (hookDeliveryArgs) Kind() string { return "webhook_delivery" }

// Delivery is one event sent (or to be sent) to one MSP-wide webhook, with
// every attempt, for the delivery log.
type Delivery struct {
	ID        int64     `gorm:"column:id" json:"id"`
	WebhookID int64     `gorm:"column:webhook_id" json:"webhook_id"`
	Delivery  string    `gorm:"column:delivery" json:"delivery"` // X-Switchboard-Delivery
	Event     string    `gorm:"column:event" json:"event"`
	Client    string    `gorm:"column:client" json:"client"` // the client's slug
	AlertID   *int64    `gorm:"column:alert_id" json:"alert_id,omitempty"`
	Status    string    `gorm:"column:status" json:"status"`
	Round     int       `gorm:"column:round" json:"round"` // 1, and one more per redelivery
	Payload   string    `gorm:"column:payload" json:"payload"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
	Attempts  []Attempt `gorm:"-" json:"attempts"`
	// TenantID is the client's id (nil for none), for ordering.
	TenantID *int64 `gorm:"column:tenant_id" json:"-"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	DeliveryID int64     `gorm:"column:delivery_id" json:"-"`
	Round      int       `gorm:"column:round" json:"round"`
	Attempt    int       `gorm:"column:attempt" json:"attempt"`
	At         time.Time `gorm:"column:at" json:"at"`
	OK         bool      `gorm:"column:ok" json:"ok"`
	StatusCode *int      `gorm:"column:status_code" json:"status_code,omitempty"`
	Detail     string    `gorm:"column:detail" json:"detail"`
	DurationMS int       `gorm:"column:duration_ms" json:"duration_ms"`
}

// Deliveries returns the newest deliveries (of one webhook, or of all when
// webhookID is 0), newest first, at most limit (1-500), with their attempts.
func (h *Hooks) Deliveries(ctx context.Context, webhookID int64, limit int) ([]Delivery, error) {
	if limit <= 0 || limit > 500 {
		limit = 500
	}
	var out []Delivery
	err := h.control(ctx, func(tx *gorm.DB) error {
		q := `SELECT id, webhook_id, delivery, event, COALESCE(payload::jsonb #>> '{tenant,slug}', '') AS client,
			alert_id, status, round, payload, created_at FROM control.webhook_deliveries`
		args := []any{}
		if webhookID != 0 {
			q += ` WHERE webhook_id = ?`
			args = append(args, webhookID)
		}
		if err := tx.Raw(q+` ORDER BY id DESC LIMIT ?`, append(args, limit)...).Scan(&out).Error; err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		ids := make([]int64, len(out))
		for i, d := range out {
			ids[i] = d.ID
		}
		var attempts []Attempt
		if err := tx.Raw(`SELECT delivery_id, round, attempt, at, ok, status_code, detail, duration_ms
			FROM control.webhook_attempts WHERE delivery_id IN ? ORDER BY id`, ids).Scan(&attempts).Error; err != nil {
			return err
		}
		at := make(map[int64]int, len(out))
		for i, d := range out {
			at[d.ID] = i
		}
		for _, a := range attempts {
			i := at[a.DeliveryID]
			out[i].Attempts = append(out[i].Attempts, a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the webhook delivery log: %w", err)
	}
	return out, nil
}

// Redeliver sends a delivery again: the same payload and delivery id,
// signed afresh, as a new round with attempts of its own. It works on any
// delivery, delivered or failed: the receiver may have lost it.
func (h *Hooks) Redeliver(ctx context.Context, deliveryID int64) (Delivery, error) {
	var d Delivery
	err := h.control(ctx, func(tx *gorm.DB) error {
		res := tx.Raw(`UPDATE control.webhook_deliveries SET round = round + 1, status = 'pending' WHERE id = ?
			RETURNING id, webhook_id, delivery, event, round`, deliveryID).Scan(&d)
		if res.Error != nil {
			return fmt.Errorf("redelivering #%d: %w", deliveryID, res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrHookNotFound, "there is no webhook delivery #%d", deliveryID)
		}
		return audit.RecordPlatform(ctx, tx, "webhook.redelivered", fmt.Sprintf("webhook #%d", d.WebhookID),
			fmt.Sprintf("%s %s, round %d", d.Event, d.Delivery, d.Round))
	})
	if err != nil {
		return Delivery{}, err
	}
	// After the commit: a job that ran before it would find the old round.
	// Should this insert fail, the delivery stays pending with no job, and
	// Redeliver (again) is the remedy the page offers.
	_, err = h.s.jobs.InsertMany(ctx, []river.InsertManyParams{{Args: hookDeliveryArgs{DeliveryID: d.ID, Round: d.Round}, InsertOpts: h.s.insertOpts()}})
	if err != nil {
		return Delivery{}, fmt.Errorf("queueing the redelivery of #%d: %w", deliveryID, err)
	}
	return d, nil
}

// hookWorker sends one round of one delivery to an MSP-wide webhook.
type hookWorker struct {
	river.WorkerDefaults[hookDeliveryArgs]
	h *Hooks
}

// Work reads the delivery and its webhook, holds back while an earlier
// delivery of the same alert to the same webhook is pending (so a receiver
// sees an alert's events in order: created before assigned before
// resolved), sends the stored payload outside any transaction, and logs the
// attempt. Failures are retried with River's backoff until the attempts run
// out; a permanent one (4xx) is not.
func (w *hookWorker) Work(ctx context.Context, job *river.Job[hookDeliveryArgs]) error {
	h, args := w.h, job.Args
	var (
		d     Delivery
		hook  Hook
		early bool
	)
	err := h.control(ctx, func(tx *gorm.DB) error {
		res := tx.Raw(`SELECT id, webhook_id, delivery, event, tenant_id, alert_id, status, round, payload, created_at
			FROM control.webhook_deliveries WHERE id = ?`, args.DeliveryID).Scan(&d)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrHookNotFound, "delivery #%d is gone with its webhook", args.DeliveryID)
		}
		var err error
		if hook, err = h.hook(ctx, tx, d.WebhookID); err != nil {
			return err
		}
		if d.AlertID == nil || d.Status != deliveryPending {
			return nil
		}
		return tx.Raw(`SELECT EXISTS (SELECT 1 FROM control.webhook_deliveries WHERE webhook_id = ? AND tenant_id = ?
			AND alert_id = ? AND id < ? AND status = 'pending' AND created_at > now() - ?::interval)`,
			d.WebhookID, d.TenantID, *d.AlertID, d.ID, fmt.Sprintf("%d seconds", int(orderWindow.Seconds()))).Scan(&early).Error
	})
	if errors.Is(err, ErrHookNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return fmt.Errorf("reading webhook delivery #%d: %w", args.DeliveryID, err)
	}
	switch {
	case args.Round > d.Round:
		return river.JobSnooze(orderWait) // a redelivery whose round has not committed yet
	case args.Round < d.Round:
		return river.JobCancel(fmt.Errorf("delivery #%d was redelivered (round %d)", d.ID, d.Round))
	case d.Status != deliveryPending:
		return nil // this round is over (a retry of a job whose send succeeded)
	case early:
		return river.JobSnooze(orderBackoff(time.Since(job.CreatedAt)))
	}

	log := h.s.log.With("webhook", hook.ID, "delivery", d.Delivery, "event", d.Event, "attempt", job.Attempt)
	start := time.Now()
	code, detail, sendErr := h.s.postSigned(ctx, hook.URL, hook.Secret, d.Delivery, []byte(d.Payload))
	took := time.Since(start)
	status, outcome := deliveryDelivered, "delivered"
	switch {
	case sendErr == nil:
	case isPermanent(sendErr):
		status, outcome, detail = deliveryFailed, "failed", sendErr.Error()+" (permanent; not retried)"
	case job.Attempt >= job.MaxAttempts:
		status, outcome, detail = deliveryFailed, "failed", fmt.Sprintf("%v (giving up after %d attempts)", sendErr, job.Attempt)
	default:
		status, outcome, detail = deliveryPending, "retrying", fmt.Sprintf("%v (attempt %d of %d; will retry)", sendErr, job.Attempt, job.MaxAttempts)
	}
	h.s.deps.Deliveries.Delivery(hookKind, outcome)
	h.logAttempt(ctx, d, job.Attempt, code, sendErr == nil, detail, took, status)
	if sendErr == nil {
		log.InfoContext(ctx, "webhook delivered")
		return nil
	}
	log.WarnContext(ctx, "webhook delivery failed", "err", sendErr, "status", status)
	if status == deliveryFailed {
		return river.JobCancel(sendErr)
	}
	return sendErr
}

// logAttempt writes the attempt and where the delivery now stands, in one
// transaction. It outlives the job's context (a timeout still leaves a
// trace) and only logs a failure: retrying a sent delivery would send it twice.
func (h *Hooks) logAttempt(ctx context.Context, d Delivery, attempt, code int, ok bool, detail string, took time.Duration, status string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var statusCode *int
	if code != 0 {
		statusCode = &code
	}
	err := h.control(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO control.webhook_attempts (delivery_id, round, attempt, ok, status_code, detail, duration_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, d.ID, d.Round, attempt, ok, statusCode, quoteDetail(detail), took.Milliseconds()).Error; err != nil {
			return err
		}
		// Only the current round moves the status: a redelivery may have begun.
		return tx.Exec(`UPDATE control.webhook_deliveries SET status = ? WHERE id = ? AND round = ?`, status, d.ID, d.Round).Error
	})
	if err != nil {
		h.s.log.ErrorContext(ctx, "notify: logging a webhook attempt", "delivery", d.Delivery, "err", err)
	}
}

// quoteDetail keeps a detail to a length the log can show.
func quoteDetail(s string) string {
	if r := []rune(s); len(r) > 500 {
		return string(r[:500]) + "…"
	}
	return s
}
