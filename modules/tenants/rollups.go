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
}

// Summaries returns the tenants with the given ids (all when ids is nil),
// with their rollup counters, ordered by name. It reads only the control
// plane: the counters are kept current by tenant-plane writes.
func (s *Service) Summaries(ctx context.Context, ids []int64) ([]Summary, error) {
	q := s.root(ctx).Table("control.tenants t").
		Select("t.*, coalesce(r.active_users, 0) AS active_users, coalesce(r.open_critical, 0) AS open_critical, " +
			"coalesce(r.open_warning, 0) AS open_warning, coalesce(r.open_info, 0) AS open_info").
		Joins("LEFT JOIN control.tenant_rollups r ON r.tenant_id = t.id").
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
