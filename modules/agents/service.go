package agents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// PolicySource gives a tenant's effective policy; *policies.Service is one.
type PolicySource interface {
	Effective(ctx context.Context, t tenancy.Tenant) (policies.Effective, error)
}

// Alerter records alert signals for a tenant; *alerts.Service is one.
type Alerter interface {
	Ingest(ctx context.Context, t tenancy.Tenant, signals []alerts.Signal) ([]alerts.Outcome, error)
}

// Options are the services an agents Service works with.
type Options struct {
	Tenants  *tenants.Service // finds the tenant named in a token or credential
	Policies PolicySource
	Alerts   Alerter
	Logger   *slog.Logger
	Now      func() time.Time // the clock; tests inject one
	CheckIns CheckInCounter   // counts check-ins for metrics (nil: not counted)
}

// CheckInCounter counts check-ins by how they ended (err nil: stored);
// *metrics.Metrics is one.
type CheckInCounter interface {
	CheckedIn(err error)
}

// uncounted is the CheckInCounter of a service built without one.
type uncounted struct{}

func (uncounted) CheckedIn(error) {}

// Service enrolls agents and handles their check-ins. Every read and write
// of agent data is tenant-plane work inside tenancy.Do.
type Service struct {
	tenants  *tenants.Service
	policies PolicySource
	alerts   Alerter
	log      *slog.Logger
	now      func() time.Time
	checkIns CheckInCounter

	mu    sync.Mutex
	cache map[int64]cachedTenant
}

type cachedTenant struct {
	t  tenancy.Tenant
	at time.Time
}

// tenantTTL bounds how long a tenant's status is trusted without a change
// notification (Invalidate is the fast path).
const tenantTTL = 30 * time.Second

// NewService returns the agents service.
func NewService(opts Options) *Service {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CheckIns == nil {
		opts.CheckIns = uncounted{}
	}
	return &Service{tenants: opts.Tenants, policies: opts.Policies, alerts: opts.Alerts, log: opts.Logger, now: opts.Now,
		checkIns: opts.CheckIns, cache: map[int64]cachedTenant{}}
}

// Invalidate forgets cached tenants; call it when the control plane
// announces a change (a suspended tenant's agents are then refused at once).
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.cache = map[int64]cachedTenant{}
	s.mu.Unlock()
}

// errUnknownTenant means the id in a token or credential names no tenant;
// callers turn it into the 401 that fits what was presented.
var errUnknownTenant = errors.New("unknown tenant")

// tenant finds the tenant with id and refuses those that must not be served,
// as the request resolver does for API keys.
func (s *Service) tenant(ctx context.Context, id int64) (tenancy.Tenant, error) {
	s.mu.Lock()
	c, ok := s.cache[id]
	s.mu.Unlock()
	t := c.t
	if !ok || time.Since(c.at) > tenantTTL {
		found, err := s.tenants.Search(ctx, []int64{id}, "", 1)
		if err != nil {
			return tenancy.Tenant{}, fmt.Errorf("finding tenant %d: %w", id, err)
		}
		if len(found) == 0 {
			return tenancy.Tenant{}, errUnknownTenant
		}
		t = s.tenants.Scope(found[0])
		s.mu.Lock()
		s.cache[id] = cachedTenant{t: t, at: time.Now()}
		s.mu.Unlock()
	}
	switch t.Status {
	case tenancy.StatusActive:
	case tenancy.StatusSuspended:
		return tenancy.Tenant{}, fault.Newf(ErrSuspended, "this account is suspended; contact your service provider")
	default:
		return tenancy.Tenant{}, errUnknownTenant
	}
	if t.SchemaVersion != s.tenants.TargetVersion() {
		return tenancy.Tenant{}, fault.Newf(ErrUnavailable, "this account's data is being upgraded; try again shortly")
	}
	return t, nil
}

// settings returns the tenant's agent settings and the silence after which an
// endpoint counts as offline.
func settings(eff policies.Effective) (interval, grace time.Duration) {
	a := eff.Agent()
	if a.CheckInInterval <= 0 {
		a.CheckInInterval = policies.DefaultAgentSettings.CheckInInterval
	}
	if a.OfflineAfterMissed <= 0 {
		a.OfflineAfterMissed = policies.DefaultAgentSettings.OfflineAfterMissed
	}
	return a.CheckInInterval, time.Duration(a.OfflineAfterMissed) * a.CheckInInterval
}

// pending is a signal to send once the transaction that decided it has
// committed, and what to record in the tenant schema once it was accepted.
type pending struct {
	signal  alerts.Signal
	confirm func(tx *gorm.DB) error // nil: nothing to record
}

// deliver sends signals to the alerts module and then, in one transaction,
// records that they were accepted. It runs after the deciding transaction
// committed (alerts.Ingest opens a transaction of its own, and holding one
// connection while waiting for a second could exhaust the pool), and without
// the request's cancellation: the data it follows is already stored. If
// delivery fails nothing is confirmed, so the next check-in or sweep decides
// the same signals again.
func (s *Service) deliver(ctx context.Context, t tenancy.Tenant, ps []pending, after func(tx *gorm.DB) error) error {
	if len(ps) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	signals := make([]alerts.Signal, len(ps))
	for i, p := range ps {
		signals[i] = p.signal
	}
	if _, err := s.alerts.Ingest(ctx, t, signals); err != nil {
		return fmt.Errorf("raising alerts for %s: %w", t.Slug, err)
	}
	confirms := after != nil
	for _, p := range ps {
		confirms = confirms || p.confirm != nil
	}
	if !confirms {
		return nil
	}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		for _, p := range ps {
			if p.confirm != nil {
				if err := p.confirm(tx); err != nil {
					return err
				}
			}
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording raised alerts for %s: %w", t.Slug, err)
	}
	return nil
}

// refreshNextOffline stores in the control plane when this tenant's sweep is
// next due: the earliest moment a watched endpoint becomes overdue. slack
// lets a later deadline wait (see control_api.set_next_offline).
func refreshNextOffline(tx *gorm.DB, grace, slack time.Duration) error {
	var row struct{ Oldest *time.Time }
	if err := tx.Raw(`SELECT min(last_seen_at) AS oldest FROM endpoints WHERE status = 'online' OR NOT offline_alert`).Scan(&row).Error; err != nil {
		return fmt.Errorf("finding the next offline deadline: %w", err)
	}
	var deadline *time.Time
	if row.Oldest != nil {
		d := row.Oldest.Add(grace)
		deadline = &d
	}
	if err := tx.Exec(`SELECT control_api.set_next_offline(?, make_interval(secs => ?))`, deadline, slack.Seconds()).Error; err != nil {
		return fmt.Errorf("recording the next offline deadline: %w", err)
	}
	return nil
}
