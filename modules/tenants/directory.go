package tenants

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// Directory answers the resolver's lookups from the control plane.
type Directory struct{ s *Service }

// Directory returns the tenancy.Directory backed by this service.
func (s *Service) Directory() Directory { return Directory{s: s} }

var _ tenancy.Directory = Directory{}

// BySlug finds a tenant by its slug.
func (d Directory) BySlug(ctx context.Context, slug string) (tenancy.Tenant, error) {
	if ValidateSlug(slug) != nil {
		return tenancy.Tenant{}, tenancy.ErrUnknownTenant
	}
	return d.one(ctx, d.s.root(ctx).Where("slug = ?", slug))
}

// ByHost finds the tenant whose verified domain is host.
func (d Directory) ByHost(ctx context.Context, host string) (tenancy.Tenant, error) {
	h, err := NormalizeHostname(host)
	if err != nil {
		return tenancy.Tenant{}, tenancy.ErrUnknownTenant
	}
	return d.one(ctx, d.s.root(ctx).
		Where("id = (SELECT tenant_id FROM control.tenant_domains WHERE hostname = ? AND verified)", h))
}

// ByAPIKey finds the tenant owning a live API key and records its use.
func (d Directory) ByAPIKey(ctx context.Context, key string) (tenancy.Tenant, error) {
	id, err := d.s.useAPIKey(ctx, key)
	if err != nil {
		return tenancy.Tenant{}, err
	}
	return d.one(ctx, d.s.root(ctx).Where("id = ?", id))
}

func (d Directory) one(ctx context.Context, q *gorm.DB) (tenancy.Tenant, error) {
	var t Tenant
	err := q.Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return tenancy.Tenant{}, tenancy.ErrUnknownTenant
	}
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("resolving tenant: %w", err)
	}
	return d.s.scopeWithMove(ctx, t)
}

// scopeWithMove is Scope for the resolver and jobs: a tenant being moved is
// admitted as what it was before the move (a suspended one stays refused),
// marked Moving so that changes wait.
func (s *Service) scopeWithMove(ctx context.Context, t Tenant) (tenancy.Tenant, error) {
	scope := s.Scope(t)
	if t.Status != tenancy.StatusMoving {
		return scope, nil
	}
	var prior []string
	if err := s.root(ctx).Raw(`SELECT prior_status FROM control.tenant_moves WHERE tenant_id = ?`, t.ID).Scan(&prior).Error; err != nil {
		return tenancy.Tenant{}, fmt.Errorf("reading the move of %s: %w", t.Slug, err)
	}
	scope.Status, scope.Moving = tenancy.StatusActive, true
	if len(prior) == 1 {
		scope.Status = prior[0]
	}
	return scope, nil
}

// ByID returns the tenant with the given id bound to its cluster, or an
// error wrapping tenancy.ErrUnknownTenant (background jobs resolve their tenant with it).
func (s *Service) ByID(ctx context.Context, id int64) (tenancy.Tenant, error) {
	var t Tenant
	err := s.root(ctx).Where("id = ?", id).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return tenancy.Tenant{}, fmt.Errorf("%w: id %d", tenancy.ErrUnknownTenant, id)
	}
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("reading tenant %d: %w", id, err)
	}
	return s.scopeWithMove(ctx, t)
}
