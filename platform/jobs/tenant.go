package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"switchboard/platform/tenancy"
)

// TenantArgs is embedded in the args of every job that works on one
// tenant's data. The id is part of the job's unique key, so the same work
// for two tenants never collapses into one job.
type TenantArgs struct {
	TenantID int64 `json:"tenant_id" river:"unique"`
}

// TenantLookup finds a tenant by id, bound to its cluster so that
// tenancy.Do accepts it. The tenants module implements it; platform code may
// not import modules, so app wires it in. It returns an error wrapping
// tenancy.ErrUnknownTenant when no such tenant exists.
type TenantLookup interface {
	ByID(ctx context.Context, id int64) (tenancy.Tenant, error)
}

// ErrTenantGone is wrapped in the cancel error of a job whose tenant was
// deleted or is no longer active.
var ErrTenantGone = errors.New("tenant is gone or not active")

// movingSnooze is how long a job of a tenant being moved waits before it
// looks again.
const movingSnooze = 5 * time.Second

// ResolveTenant returns the job's tenant, ready for tenancy.Do. A deleted,
// suspended or deleting tenant cancels the job (River's JobCancel: no
// retries), because retrying cannot make it deliverable and work for a
// suspended client must not run behind the operator's back. A tenant being
// moved between servers snoozes the job until the move is over. Lookup failures
// are returned as they are, so River retries them.
func ResolveTenant(ctx context.Context, lookup TenantLookup, args TenantArgs) (tenancy.Tenant, error) {
	if args.TenantID <= 0 {
		return tenancy.Tenant{}, river.JobCancel(fmt.Errorf("%w: job has no tenant id", ErrTenantGone))
	}
	t, err := lookup.ByID(ctx, args.TenantID)
	if errors.Is(err, tenancy.ErrUnknownTenant) {
		return tenancy.Tenant{}, river.JobCancel(fmt.Errorf("%w: tenant %d: %w", ErrTenantGone, args.TenantID, err))
	}
	if err != nil {
		return tenancy.Tenant{}, fmt.Errorf("looking up tenant %d: %w", args.TenantID, err)
	}
	if t.Status != tenancy.StatusActive {
		return tenancy.Tenant{}, river.JobCancel(fmt.Errorf("%w: tenant %s is %s", ErrTenantGone, t.Slug, t.Status))
	}
	if t.Moving {
		// Its writes are fenced for a few seconds while it is copied to
		// another server: come back after the move rather than fail.
		return tenancy.Tenant{}, river.JobSnooze(movingSnooze)
	}
	if !t.Bound() {
		return tenancy.Tenant{}, fmt.Errorf("looking up tenant %d: %w", args.TenantID, tenancy.ErrUnboundTenant)
	}
	return t, nil
}
