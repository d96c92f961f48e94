package agents

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// ListEndpoints returns the tenant's endpoints with their latest metrics,
// offline ones first, then by hostname.
func (s *Service) ListEndpoints(ctx context.Context, t tenancy.Tenant) ([]Endpoint, error) {
	var out []Endpoint
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Order("status DESC, hostname").Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("listing endpoints of %s: %w", t.Slug, err)
	}
	return out, nil
}

// History returns an endpoint's metrics since the given time, oldest first.
func (s *Service) History(ctx context.Context, t tenancy.Tenant, endpointID int64, since time.Time) ([]Sample, error) {
	var out []Sample
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Where("endpoint_id = ? AND at >= ?", endpointID, since).Order("at").Limit(20000).Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("reading metrics of endpoint #%d: %w", endpointID, err)
	}
	return out, nil
}

// DeleteEndpoint removes an endpoint with its history; its credential stops
// working at once (an agent still running gets 401 and stops).
func (s *Service) DeleteEndpoint(ctx context.Context, t tenancy.Tenant, id int64) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var host string
		res := tx.Raw(`DELETE FROM endpoints WHERE id = ? RETURNING hostname`, id).Scan(&host)
		if res.Error != nil {
			return fmt.Errorf("deleting endpoint: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrNotFound, "endpoint #%d", id)
		}
		return audit.Record(ctx, tx, "endpoint.deleted", host, "")
	})
}
