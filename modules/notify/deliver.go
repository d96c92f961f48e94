package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/platform/failpoint"
	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// actor is who the timeline says delivered a notification.
const actor = "notify"

// worker delivers one alert to one channel.
type worker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// Work resolves the tenant, reads the channel and the alert inside the
// tenant's schema, delivers outside any transaction (never hold one open
// across the network), and records the outcome on the alert's timeline.
// A permanent failure cancels the job; any other failure returns the error
// so that River retries it with backoff until the attempts run out.
func (w *worker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s, args := w.s, job.Args
	t, err := jobs.ResolveTenant(ctx, s.deps.Tenants, args.TenantArgs)
	if err != nil {
		return err
	}
	log := s.log.With("tenant", t.Slug, "alert", args.AlertID, "channel", args.ChannelID, "attempt", job.Attempt)
	ch, err := channel(ctx, t, args.ChannelID)
	if errors.Is(err, ErrNotFound) {
		s.record(ctx, log, t, args.AlertID, EventNotifyFailed, fmt.Sprintf("channel #%d was deleted before delivery", args.ChannelID))
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if !ch.Enabled {
		s.record(ctx, log, t, args.AlertID, EventNotifyFailed, fmt.Sprintf("%s %s: disabled before delivery", ch.Kind, ch.Name))
		return river.JobCancel(fmt.Errorf("channel %s is disabled", ch.Name))
	}
	a, timeline, err := s.deps.Alerts.Get(ctx, t, args.AlertID)
	if errors.Is(err, alerts.ErrNotFound) {
		return river.JobCancel(err) // no alert, no timeline to write on
	}
	if err != nil {
		return fmt.Errorf("reading alert #%d: %w", args.AlertID, err)
	}

	// The job's unique key stops a second job while River keeps the first;
	// this row stops a second delivery for good (a re-drained event, a
	// job retried after its send succeeded but before it finished).
	done, err := delivered(ctx, t, args)
	if err != nil {
		return err
	}
	if done {
		log.InfoContext(ctx, "notification already delivered; not sending again")
		return nil
	}

	n, err := s.newNotice(ctx, t, ch, a, timeline, args.Reason)
	if err != nil {
		return err
	}
	if n.What.Internal && ch.ClientFacing {
		// The channel became client-facing after the note was routed.
		return river.JobCancel(fmt.Errorf("an internal note is not sent to client-facing channel %s", ch.Name))
	}
	detail, err := s.send(ctx, t, ch, n)
	if err == nil {
		failpoint.Hit(failpoint.DeliverySent)
		s.recordDelivery(ctx, log, t, args, fmt.Sprintf("%s %s: %s (attempt %d)", ch.Kind, ch.Name, detail, job.Attempt))
		s.deps.Deliveries.Delivery(ch.Kind, "delivered")
		log.InfoContext(ctx, "notification delivered", "kind", ch.Kind)
		return nil
	}
	final := isPermanent(err)
	var next string
	outcome := "failed"
	switch {
	case final:
		next = "permanent; not retried"
	case job.Attempt >= job.MaxAttempts:
		next = fmt.Sprintf("giving up after %d attempts", job.Attempt)
	default:
		next = fmt.Sprintf("attempt %d of %d; will retry", job.Attempt, job.MaxAttempts)
		outcome = "retrying"
	}
	s.deps.Deliveries.Delivery(ch.Kind, outcome)
	s.record(ctx, log, t, a.ID, EventNotifyFailed, fmt.Sprintf("%s %s: %v (%s)", ch.Kind, ch.Name, err, next))
	log.WarnContext(ctx, "notification failed", "kind", ch.Kind, "err", err, "next", next)
	if final {
		return river.JobCancel(err)
	}
	return err
}

// record appends to the alert's timeline. It outlives the job's context so
// a timeout still leaves a trace, and a failure here is logged, never
// returned: retrying a delivery that succeeded would send it twice.
func (s *Service) record(ctx context.Context, log *slog.Logger, t tenancy.Tenant, alertID int64, kind, body string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.deps.Alerts.AddEvent(ctx, t, alertID, kind, actor, body); err != nil {
		log.ErrorContext(ctx, "notify: recording on the alert timeline", "event", kind, "err", err)
	}
}

// delivered reports whether this delivery was already made.
func delivered(ctx context.Context, t tenancy.Tenant, args deliveryArgs) (bool, error) {
	var n int64
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM notification_deliveries WHERE alert_id = ? AND channel_id = ? AND reason = ?`,
			args.AlertID, args.ChannelID, args.Reason).Scan(&n).Error
	})
	if err != nil {
		return false, fmt.Errorf("checking earlier deliveries: %w", err)
	}
	return n > 0, nil
}

// recordDelivery remembers a delivery and notes it on the alert's timeline,
// in one transaction. Like record, it outlives the job's context and only
// logs a failure: the message has gone out, and a retry would send it again.
func (s *Service) recordDelivery(ctx context.Context, log *slog.Logger, t tenancy.Tenant, args deliveryArgs, body string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO notification_deliveries (alert_id, channel_id, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`,
			args.AlertID, args.ChannelID, args.Reason).Error; err != nil {
			return fmt.Errorf("recording the delivery: %w", err)
		}
		return alerts.AppendEvent(tx, args.AlertID, EventNotified, actor, body)
	})
	if err != nil {
		log.ErrorContext(ctx, "notify: recording a delivery", "err", err)
	}
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

func isPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
