package audit

import (
	"context"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// Service reads and writes audit logs. It owns control.audit_log (the
// platform log) and each tenant's audit_log.
type Service struct {
	cluster *tenancy.Cluster
}

// NewService returns the audit service.
func NewService(cluster *tenancy.Cluster) *Service { return &Service{cluster: cluster} }

// Record appends an entry to the tenant log of the schema tx is scoped to
// (inside tenancy.Do), in the caller's transaction, so the change and its
// record commit or roll back together.
func Record(ctx context.Context, tx *gorm.DB, action, target, summary string) error {
	return insert(ctx, tx, "audit_log", action, target, summary)
}

// RecordPlatform appends an entry to the platform log in the caller's
// control-plane transaction tx.
func RecordPlatform(ctx context.Context, tx *gorm.DB, action, target, summary string) error {
	return insert(ctx, tx, "control.audit_log", action, target, summary)
}

func insert(ctx context.Context, tx *gorm.DB, table, action, target, summary string) error {
	o := OriginFrom(ctx)
	err := tx.Exec(`INSERT INTO `+table+` (actor, action, target, summary, client_ip) VALUES (?, ?, ?, ?, ?)`,
		o.Actor, action, target, truncate(summary, 2000), o.ClientIP).Error
	if err != nil {
		return fmt.Errorf("writing audit entry %s: %w", action, err)
	}
	return nil
}

// Changed formats a short before/after summary: "role: technician → admin".
func Changed(field string, before, after any) string {
	return fmt.Sprintf("%s: %v → %v", field, before, after)
}

// Platform lists platform entries, newest first (by time, then id).
func (s *Service) Platform(ctx context.Context, f Filter) ([]Entry, error) {
	var out []Entry
	err := f.apply(s.cluster.ControlDB().WithContext(ctx).Table("control.audit_log")).Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("reading platform audit log: %w", err)
	}
	return out, nil
}

// Tenant lists one tenant's entries, newest first (by time, then id).
func (s *Service) Tenant(ctx context.Context, t tenancy.Tenant, f Filter) ([]Entry, error) {
	var out []Entry
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return f.apply(tx.Table("audit_log")).Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("reading audit log of %s: %w", t.Slug, err)
	}
	return out, nil
}

func (f Filter) apply(q *gorm.DB) *gorm.DB {
	limit := f.Limit
	if limit <= 0 {
		limit = 200
	}
	q = q.Order("at DESC, id DESC").Limit(min(limit, 10000))
	if f.Action != "" {
		q = q.Where("action LIKE ?", likeEscape(f.Action)+"%")
	}
	if f.Actor != "" {
		q = q.Where("actor ILIKE ?", "%"+likeEscape(f.Actor)+"%")
	}
	if f.Text != "" {
		q = q.Where("(target ILIKE ? OR summary ILIKE ?)", "%"+likeEscape(f.Text)+"%", "%"+likeEscape(f.Text)+"%")
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until)
	}
	if f.Before.ID > 0 {
		// "at <= ?" lets the index on at bound the scan; the rest breaks ties.
		q = q.Where("at <= ? AND (at < ? OR id < ?)", f.Before.At, f.Before.At, f.Before.ID)
	}
	return q
}

// Each calls fn for every entry matching f, newest first, paging through the
// log so that exports of any size use bounded memory.
func Each(list func(Filter) ([]Entry, error), f Filter, fn func(Entry) error) error {
	f.Limit = 1000
	for {
		page, err := list(f)
		if err != nil {
			return err
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		f.Before = CursorOf(page[len(page)-1])
	}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
