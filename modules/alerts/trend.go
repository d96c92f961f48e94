package alerts

import (
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// OpenByDay counts, for each instant in ends (the ends of days, oldest
// first), the alerts open then: first seen before it and not resolved by
// it. Suppressed alerts are left out, as everywhere alerts are counted for
// people: they were never the provider's to handle. An alert is never
// reopened (a signal after resolution opens a new one), so first_seen_at
// and resolved_at say exactly when it was open. tx is a tenancy.Do
// transaction: the caller reads several things in one.
func (s *Service) OpenByDay(tx *gorm.DB, ends []time.Time) ([]int, error) {
	out := make([]int, len(ends))
	if len(ends) == 0 {
		return out, nil
	}
	// One array parameter: GORM would spread a slice into a row "(a, b)".
	stamps := make([]string, len(ends))
	for i, e := range ends {
		stamps[i] = e.UTC().Format(time.RFC3339Nano)
	}
	var rows []struct {
		I int
		N int
	}
	err := tx.Raw(`SELECT d.i, count(a.id) AS n
		FROM unnest(?::timestamptz[]) WITH ORDINALITY AS d(day_end, i)
		LEFT JOIN alerts a ON a.status <> 'suppressed' AND a.first_seen_at < d.day_end
			AND (a.resolved_at IS NULL OR a.resolved_at >= d.day_end)
		GROUP BY d.i`, "{"+strings.Join(stamps, ",")+"}").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("counting open alerts by day: %w", err)
	}
	for _, r := range rows {
		out[r.I-1] = r.N
	}
	return out, nil
}

// OpenBySeverity is OpenCounts inside the caller's tenancy.Do transaction.
func (s *Service) OpenBySeverity(tx *gorm.DB) (map[string]int, error) {
	out := map[string]int{SeverityCritical: 0, SeverityWarning: 0, SeverityInfo: 0}
	var rows []struct {
		Severity string
		N        int
	}
	if err := tx.Raw(`SELECT severity, count(*) AS n FROM alerts WHERE status IN ('firing', 'acknowledged') GROUP BY severity`).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("counting open alerts: %w", err)
	}
	for _, r := range rows {
		out[r.Severity] = r.N
	}
	return out, nil
}
