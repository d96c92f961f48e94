package tenants

import (
	"context"
	"fmt"
)

// Summary is a tenant with the control-plane counters the cross-client home shows.
type Summary struct {
	Tenant
	ActiveUsers  int `gorm:"column:active_users" json:"active_users"`
	OpenCritical int `gorm:"column:open_critical" json:"open_critical"`
	OpenWarning  int `gorm:"column:open_warning" json:"open_warning"`
	OpenInfo     int `gorm:"column:open_info" json:"open_info"`
	// This month's SLA outcomes (alerts opened this month, UTC).
	SLAAlerts            int `gorm:"column:sla_alerts" json:"sla_alerts"`
	SLAResponseDecided   int `gorm:"column:response_decided" json:"sla_response_decided"`
	SLAResponseMet       int `gorm:"column:response_met" json:"sla_response_met"`
	SLAResolutionDecided int `gorm:"column:resolution_decided" json:"sla_resolution_decided"`
	SLAResolutionMet     int `gorm:"column:resolution_met" json:"sla_resolution_met"`
}

// SLAResponsePercent is this month's share of decided response clocks met (100 when none).
func (s Summary) SLAResponsePercent() float64 { return percent(s.SLAResponseMet, s.SLAResponseDecided) }

// SLAResolutionPercent is this month's share of decided resolution clocks met (100 when none).
func (s Summary) SLAResolutionPercent() float64 {
	return percent(s.SLAResolutionMet, s.SLAResolutionDecided)
}

func percent(met, decided int) float64 {
	if decided == 0 {
		return 100
	}
	return 100 * float64(met) / float64(decided)
}

// Summaries returns the tenants with the given ids (all when ids is nil),
// with their rollup counters, ordered by name. It reads only the control
// plane: the counters are kept current by tenant-plane writes.
func (s *Service) Summaries(ctx context.Context, ids []int64) ([]Summary, error) {
	q := s.root(ctx).Table("control.tenants t").
		Select("t.*, coalesce(r.active_users, 0) AS active_users, coalesce(r.open_critical, 0) AS open_critical, " +
			"coalesce(r.open_warning, 0) AS open_warning, coalesce(r.open_info, 0) AS open_info, coalesce(s.alerts, 0) AS sla_alerts, " +
			"coalesce(s.response_decided, 0) AS response_decided, coalesce(s.response_met, 0) AS response_met, " +
			"coalesce(s.resolution_decided, 0) AS resolution_decided, coalesce(s.resolution_met, 0) AS resolution_met").
		Joins("LEFT JOIN control.tenant_rollups r ON r.tenant_id = t.id").
		Joins("LEFT JOIN control.sla_rollups s ON s.tenant_id = t.id AND s.month = date_trunc('month', now() AT TIME ZONE 'UTC')::date").
		Where("t.status <> 'deleting'").Order("lower(t.name), t.slug")
	if ids != nil {
		q = q.Where("t.id IN ?", append(ids, 0))
	}
	var out []Summary
	if err := q.Scan(&out).Error; err != nil {
		return nil, fmt.Errorf("reading tenant summaries: %w", err)
	}
	return out, nil
}

// IDs returns every tenant id, for filtering by what a user may see.
func (s *Service) IDs(ctx context.Context) ([]int64, error) {
	var ids []int64
	if err := s.root(ctx).Raw(`SELECT id FROM control.tenants WHERE status <> 'deleting' ORDER BY id`).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("listing tenant ids: %w", err)
	}
	return ids, nil
}

// Search returns up to limit tenants among ids whose name or slug contains q.
func (s *Service) Search(ctx context.Context, ids []int64, q string, limit int) ([]Tenant, error) {
	var out []Tenant
	query := s.root(ctx).Where("status <> 'deleting' AND id IN ?", append(ids, 0)).Order("lower(name), slug").Limit(limit)
	if q != "" {
		like := "%" + likeEscape(q) + "%"
		query = query.Where("(name ILIKE ? OR slug ILIKE ?)", like, like)
	}
	if err := query.Find(&out).Error; err != nil {
		return nil, fmt.Errorf("searching tenants: %w", err)
	}
	return out, nil
}

// OfflineDue returns up to 1,000 active tenants whose earliest endpoint
// offline deadline has passed, soonest first. Suspended tenants are left out:
// their endpoints cannot check in, so they would be due forever.
func (s *Service) OfflineDue(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.root(ctx).Raw(`SELECT r.tenant_id FROM control.tenant_rollups r JOIN control.tenants t ON t.id = r.tenant_id
		WHERE r.next_offline_at <= now() AND t.status = 'active' ORDER BY r.next_offline_at LIMIT 1000`).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("finding tenants with offline endpoints due: %w", err)
	}
	return ids, nil
}

// WithOpenAlerts returns the active tenants whose rollups count open alerts:
// the ones a baseline SLA change concerns.
func (s *Service) WithOpenAlerts(ctx context.Context) ([]int64, error) {
	var ids []int64
	err := s.root(ctx).Raw(`SELECT r.tenant_id FROM control.tenant_rollups r JOIN control.tenants t ON t.id = r.tenant_id
		WHERE r.open_critical + r.open_warning + r.open_info > 0 AND t.status = 'active' ORDER BY r.tenant_id`).Scan(&ids).Error
	if err != nil {
		return nil, fmt.Errorf("finding tenants with open alerts: %w", err)
	}
	return ids, nil
}
