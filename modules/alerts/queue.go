package alerts

import (
	"context"
	"fmt"
	"time"

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

// clockKinds are the timeline entries the SLA clocks and the waiting flag
// replay; the queue reads no others (notes and assignments can be many).
var clockKinds = []string{"created", "acknowledged", "resolved", "waiting", "resumed"}

// OpenForQueue returns up to f.Limit of the tenant's open critical and
// warning alerts with the timeline entries their SLA clocks replay (kind
// and time only). The alerts carry what the queue shows (no description,
// labels, fingerprint or source). It is one statement in one transaction:
// the console home runs it for each of the busiest clients on every load.
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
	assignee := ""
	args := []any{}
	if f.Assignee != "" {
		assignee, args = " AND lower(assignee) = lower(?)", append(args, f.Assignee)
	}
	args = append(args, limit, clockKinds)
	q := `SELECT a.id, a.rule, a.severity, a.status, a.summary, a.endpoint, a.first_seen_at, a.last_seen_at,
			a.acknowledged_at, a.assignee, e.id, e.at, e.kind
		FROM (SELECT *, row_number() OVER (ORDER BY ` + order + `) AS n FROM alerts
			WHERE status IN ('firing', 'acknowledged') AND severity IN ('critical', 'warning')` + assignee + `
			ORDER BY n LIMIT ?) a
		LEFT JOIN alert_events e ON e.alert_id = a.id AND e.kind IN ?
		ORDER BY a.n, e.id`
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		rows, err := tx.Raw(q, args...).Rows()
		if err != nil {
			return err
		}
		defer rows.Close()
		// Scanned by hand: gorm's reflection was most of the home's cost.
		for rows.Next() {
			var a Alert
			var eid *int64
			var at *time.Time
			var kind *string
			if err := rows.Scan(&a.ID, &a.Rule, &a.Severity, &a.Status, &a.Summary, &a.Endpoint, &a.FirstSeenAt, &a.LastSeenAt,
				&a.AcknowledgedAt, &a.Assignee, &eid, &at, &kind); err != nil {
				return err
			}
			if n := len(list); n == 0 || list[n-1].ID != a.ID {
				list = append(list, a)
			}
			if eid != nil {
				events[a.ID] = append(events[a.ID], Event{ID: *eid, AlertID: a.ID, At: *at, Kind: *kind})
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading open alerts of %s: %w", t.Slug, err)
	}
	return list, events, nil
}
