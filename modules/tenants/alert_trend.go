package tenants

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// snapshotRetention is how long daily open-alert snapshots are kept: the
// home shows two weeks; a quarter leaves room for a longer view.
const snapshotRetention = 92 * 24 * time.Hour

// OpenAlertDay is the open critical and warning alerts of some clients at
// the last snapshot of one UTC day. Recorded is false for a day on which no
// snapshot was taken (the platform was not running): its counts are unknown,
// not zero.
type OpenAlertDay struct {
	Day               time.Time
	Critical, Warning int
	Recorded          bool
}

// Day is t's UTC calendar day at midnight, the key of the daily snapshots.
func Day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// SnapshotOpenAlerts records every active client's open critical and warning
// counts (from the rollups, one read per cell server, busy clients only) as
// now's UTC day, replacing what an earlier run of the same day recorded, and
// forgets days older than the retention. It returns how many clients had
// something open. Run periodically, it leaves each day with its last counts.
func (s *Service) SnapshotOpenAlerts(ctx context.Context, now time.Time) (int, error) {
	busy, err := s.busy(ctx, nil)
	if err != nil {
		return 0, err
	}
	ids, crit, warn := make([]int64, len(busy)), make([]int64, len(busy)), make([]int64, len(busy))
	for i, b := range busy {
		ids[i], crit[i], warn[i] = b.ID, int64(b.OpenCritical), int64(b.OpenWarning)
	}
	// Dates travel as text: a time would be cast to a date in the session's zone.
	day, cutoff := Day(now).Format(time.DateOnly), Day(now.Add(-snapshotRetention)).Format(time.DateOnly)
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM control.open_alert_snapshots WHERE day = CAST(? AS date)`, day).Error; err != nil {
			return err
		}
		// A client deleted since the rollups were read is left out by the join.
		if err := tx.Exec(`INSERT INTO control.open_alert_snapshots (day, tenant_id, open_critical, open_warning)
			SELECT CAST(@day AS date), b.id, b.critical, b.warning
			FROM unnest(CAST(@ids AS bigint[]), CAST(@crit AS integer[]), CAST(@warn AS integer[])) AS b (id, critical, warning)
			JOIN control.tenants t ON t.id = b.id`,
			sql.Named("day", day), sql.Named("ids", idArray(ids)), sql.Named("crit", idArray(crit)), sql.Named("warn", idArray(warn))).Error; err != nil {
			return err
		}
		if err := tx.Exec(`INSERT INTO control.open_alert_snapshot_days (day, taken_at) VALUES (CAST(? AS date), ?)
			ON CONFLICT (day) DO UPDATE SET taken_at = EXCLUDED.taken_at`, day, now).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM control.open_alert_snapshots WHERE day < CAST(? AS date)`, cutoff).Error; err != nil {
			return err
		}
		return tx.Exec(`DELETE FROM control.open_alert_snapshot_days WHERE day < CAST(? AS date)`, cutoff).Error
	})
	if err != nil {
		return 0, fmt.Errorf("recording open alert counts: %w", err)
	}
	return len(busy), nil
}

// OpenAlertTrend returns one entry per UTC day from from's day up to and
// including to's day: the open critical and warning alerts of the clients
// ids (nil: all) at that day's last snapshot, summed. One control-plane
// query over the busy clients' rows of those days.
func (s *Service) OpenAlertTrend(ctx context.Context, ids []int64, from, to time.Time) ([]OpenAlertDay, error) {
	first, last := Day(from), Day(to)
	var rows []struct {
		Day      string
		Critical int
		Warning  int
	}
	if err := s.root(ctx).Raw(`SELECT to_char(d.day, 'YYYY-MM-DD') AS day, coalesce(sum(s.open_critical), 0) AS critical, coalesce(sum(s.open_warning), 0) AS warning
		FROM control.open_alert_snapshot_days d
		LEFT JOIN control.open_alert_snapshots s ON s.day = d.day
			AND (CAST(@ids AS bigint[]) IS NULL OR s.tenant_id IN (SELECT unnest(CAST(@ids AS bigint[]))))
		WHERE d.day BETWEEN CAST(@first AS date) AND CAST(@last AS date)
		GROUP BY d.day`,
		sql.Named("ids", idArray(ids)), sql.Named("first", first.Format(time.DateOnly)), sql.Named("last", last.Format(time.DateOnly))).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading open alert counts over time: %w", err)
	}
	byDay := make(map[time.Time]OpenAlertDay, len(rows))
	for _, r := range rows {
		d, err := time.Parse(time.DateOnly, r.Day)
		if err != nil {
			return nil, fmt.Errorf("reading open alert counts over time: day %q: %w", r.Day, err)
		}
		byDay[d] = OpenAlertDay{Critical: r.Critical, Warning: r.Warning, Recorded: true}
	}
	var out []OpenAlertDay
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		e := byDay[d]
		e.Day = d
		out = append(out, e)
	}
	return out, nil
}
