package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
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
// with their rollup counters, ordered by name. It reads the tenants from
// the control plane and the counters with one read per cell server (each
// server keeps the counters of its own tenants, written by their
// transactions), so its cost grows with servers, never with schemas.
func (s *Service) Summaries(ctx context.Context, ids []int64) ([]Summary, error) {
	q := s.root(ctx).Where("status NOT IN ('deleting', 'provisioning')").Order("lower(name), slug")
	if ids != nil {
		q = q.Where("id IN (SELECT unnest(CAST(? AS bigint[])))", idArray(ids))
	}
	var list []Tenant
	if err := q.Find(&list).Error; err != nil {
		return nil, fmt.Errorf("reading tenants: %w", err)
	}
	counters := make(map[int64]*Summary, len(list))
	out := make([]Summary, len(list))
	for i, t := range list {
		out[i].Tenant = t
		counters[t.ID] = &out[i]
	}
	var cells []Cell
	if err := s.root(ctx).Select("name", "server").Find(&cells).Error; err != nil {
		return nil, fmt.Errorf("reading cells: %w", err)
	}
	serverOf := make(map[string]string, len(cells))
	for _, c := range cells {
		serverOf[c.Name] = c.Server
	}
	if err := s.verifiedDomains(ctx, list, counters); err != nil {
		return nil, err
	}
	var mu sync.Mutex
	err := s.eachServer(ctx, func(srv *tenancy.Server, server *gorm.DB) error {
		var rows []Summary
		// The filter goes inside both sides of the join: on the join's result
		// it made every call read every row of both tables.
		only, args := "", []any{}
		if ids != nil {
			only, args = " AND tenant_id IN (SELECT unnest(CAST(@ids AS bigint[])))", []any{sql.Named("ids", idArray(ids))}
		}
		err := server.Raw(`SELECT coalesce(r.tenant_id, s.tenant_id) AS id,
				coalesce(r.active_users, 0) AS active_users, coalesce(r.open_critical, 0) AS open_critical,
				coalesce(r.open_warning, 0) AS open_warning, coalesce(r.open_info, 0) AS open_info, coalesce(s.alerts, 0) AS sla_alerts,
				coalesce(s.response_decided, 0) AS response_decided, coalesce(s.response_met, 0) AS response_met,
				coalesce(s.resolution_decided, 0) AS resolution_decided, coalesce(s.resolution_met, 0) AS resolution_met
			FROM (SELECT * FROM control.tenant_rollups WHERE true`+only+`) r
			FULL JOIN (SELECT * FROM control.sla_rollups WHERE month = date_trunc('month', now() AT TIME ZONE 'UTC')::date`+only+`) s
				ON s.tenant_id = r.tenant_id`, args...).Scan(&rows).Error
		if err != nil {
			return fmt.Errorf("reading rollups: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rows {
			// A server also keeps rows of tenants it no longer holds only
			// until their move or deletion removes them; the control
			// plane's directory decides whose counters count.
			if sum, ok := counters[r.ID]; ok && serverOf[sum.Cell] == srv.Ref() {
				tenant := sum.Tenant
				*sum = r
				sum.Tenant = tenant
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
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

// IDsCreatedBefore returns the ids of every tenant created before at,
// except those being deleted, in id order.
func (s *Service) IDsCreatedBefore(ctx context.Context, at time.Time) ([]int64, error) {
	var ids []int64
	if err := s.root(ctx).Raw(`SELECT id FROM control.tenants WHERE status <> 'deleting' AND created_at < ? ORDER BY id`, at).Scan(&ids).Error; err != nil {
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
// offline deadline has passed, soonest first, reading each cell server's
// rollups. Suspended tenants are left out: their endpoints cannot check in,
// so they would be due forever.
func (s *Service) OfflineDue(ctx context.Context) ([]int64, error) {
	return s.activeFromServers(ctx, `SELECT tenant_id FROM control.tenant_rollups
		WHERE next_offline_at <= now() ORDER BY next_offline_at LIMIT 1000`, 1000)
}

// WithOpenAlerts returns the active tenants whose rollups count open alerts:
// the ones a baseline SLA change concerns.
func (s *Service) WithOpenAlerts(ctx context.Context) ([]int64, error) {
	return s.activeFromServers(ctx, `SELECT tenant_id FROM control.tenant_rollups
		WHERE open_critical + open_warning + open_info > 0 ORDER BY tenant_id`, 0)
}

// activeFromServers runs query (which returns tenant ids) on every cell
// server and keeps the ids of active tenants, at most limit (0: all).
func (s *Service) activeFromServers(ctx context.Context, query string, limit int) ([]int64, error) {
	var mu sync.Mutex
	var found []int64
	err := s.eachServer(ctx, func(_ *tenancy.Server, server *gorm.DB) error {
		var ids []int64
		if err := server.Raw(query).Scan(&ids).Error; err != nil {
			return err
		}
		mu.Lock()
		found = append(found, ids...)
		mu.Unlock()
		return nil
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	var active []int64
	if err := s.root(ctx).Raw(`SELECT id FROM control.tenants WHERE id IN ? AND status = 'active'`, found).Scan(&active).Error; err != nil {
		return nil, fmt.Errorf("keeping active tenants: %w", err)
	}
	keep := make(map[int64]bool, len(active))
	for _, id := range active {
		keep[id] = true
	}
	ids := []int64{}
	for _, id := range found {
		if keep[id] && (limit == 0 || len(ids) < limit) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// eachServer runs read on every cell server (the control plane's included)
// in parallel, one read each.
func (s *Service) eachServer(ctx context.Context, read func(srv *tenancy.Server, server *gorm.DB) error) error {
	servers, err := s.cluster.CellServers(ctx)
	if err != nil {
		// The others still answer: their clients are shown, the unreachable
		// server's with zero counters until it is back.
		s.log.WarnContext(ctx, "cross-client view without a cell server", "err", err)
	}
	errs := make([]error, len(servers))
	var wg sync.WaitGroup
	for i, srv := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := read(srv, srv.Admin().WithContext(ctx)); err != nil {
				errs[i] = fmt.Errorf("reading from %s: %w", srv.Location(), err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// verifiedDomains fills in each summary's verified portal domains (primary
// first), in one control-plane read for the whole list.
func (s *Service) verifiedDomains(ctx context.Context, list []Tenant, into map[int64]*Summary) error {
	if len(list) == 0 {
		return nil
	}
	ids := make([]int64, len(list))
	for i, t := range list {
		ids[i] = t.ID
	}
	var domains []Domain
	if err := s.root(ctx).Where("verified AND tenant_id IN (SELECT unnest(CAST(? AS bigint[])))", idArray(ids)).
		Order("is_primary DESC, hostname").Find(&domains).Error; err != nil {
		return fmt.Errorf("reading portal domains: %w", err)
	}
	for _, d := range domains {
		if sum, ok := into[d.TenantID]; ok {
			sum.Domains = append(sum.Domains, d)
		}
	}
	return nil
}
