package alerts

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// QueueFilter selects a tenant's alerts for the cross-client work queue.
type QueueFilter struct {
	// Assignee keeps only the alerts assigned to this person (compared
	// without regard to case, as e-mail addresses are typed); empty keeps all.
	Assignee string
	// Oldest takes the longest-open alerts first instead of the most
	// severe and most recently seen: a queue sorted by age needs those.
	Oldest bool
	Limit  int
}

// OpenForQueue returns up to f.Limit of the tenant's open critical and
// warning alerts with their timelines (for the SLA clocks; entries without
// actor and body), in one transaction.
func (s *Service) OpenForQueue(ctx context.Context, t tenancy.Tenant, f QueueFilter) ([]Alert, map[int64][]Event, error) {
	var list []Alert
	events := map[int64][]Event{}
	limit := f.Limit
	if limit <= 0 || limit > 500 {
		limit = 200
	}
	order := "CASE severity WHEN 'critical' THEN 0 ELSE 1 END, last_seen_at DESC, id"
	if f.Oldest {
		order = "first_seen_at, id"
	}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		q := tx.Where("status IN ('firing', 'acknowledged') AND severity IN ('critical', 'warning')")
		if f.Assignee != "" {
			q = q.Where("lower(assignee) = lower(?)", f.Assignee)
		}
		if err := q.Order(order).Limit(limit).Find(&list).Error; err != nil {
			return err
		}
		// The clocks need when and what happened, not what was said.
		var err error
		events, err = timelinesOf(tx, list, "id, alert_id, at, kind")
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading open alerts of %s: %w", t.Slug, err)
	}
	return list, events, nil
}
