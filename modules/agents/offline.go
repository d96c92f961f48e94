package agents

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/platform/tenancy"
)

// sweepParallelism bounds how many tenants one sweep visits at once.
const sweepParallelism = 4

// DetectOffline marks the tenant's endpoints that have been silent for the
// policy's missed check-ins as offline, raises one "endpoint offline" alert
// for each, and records when the tenant is next due. An alert that could
// not be raised is tried again at the next sweep (the tenant stays due).
func (s *Service) DetectOffline(ctx context.Context, t tenancy.Tenant) error {
	eff, err := s.policies.Effective(ctx, t)
	if err != nil {
		return fmt.Errorf("reading policy: %w", err)
	}
	interval, grace := settings(eff)
	missed := int(grace / interval)
	now := s.now()
	var due []struct {
		ID         int64
		Hostname   string
		LastSeenAt time.Time
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE endpoints SET status = 'offline' WHERE status = 'online' AND last_seen_at <= ?`, now.Add(-grace)).Error; err != nil {
			return fmt.Errorf("marking endpoints offline: %w", err)
		}
		if err := tx.Raw(`SELECT id, hostname, last_seen_at FROM endpoints WHERE status = 'offline' AND NOT offline_alert ORDER BY id`).Scan(&due).Error; err != nil {
			return fmt.Errorf("finding offline endpoints: %w", err)
		}
		if len(due) == 0 {
			return refreshNextOffline(tx, grace, 0)
		}
		return nil
	})
	if err != nil || len(due) == 0 {
		return err
	}
	ps := make([]pending, len(due))
	ids := make([]int64, len(due))
	for i, d := range due {
		ps[i] = pending{signal: offlineSignal(d.Hostname, d.LastSeenAt, missed, false)}
		ids[i] = d.ID
	}
	err = s.deliver(ctx, t, ps, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE endpoints SET offline_alert = true WHERE id IN ?`, ids).Error; err != nil {
			return fmt.Errorf("confirming offline alerts: %w", err)
		}
		return refreshNextOffline(tx, grace, 0)
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "endpoints offline", "tenant", t.Slug, "count", len(due))
	return nil
}

// DetectOfflineDue runs DetectOffline for each tenant id, a few at a time.
// The ids come from the control plane (agents may not read it):
// SELECT tenant_id FROM control.tenant_rollups WHERE next_offline_at <= now(). Tenants that cannot be served right
// now (suspended, being upgraded, gone) are skipped.
func (s *Service) DetectOfflineDue(ctx context.Context, ids []int64) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, sweepParallelism)
	)
	for _, id := range ids {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return ctx.Err()
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t, err := s.tenant(ctx, id)
			if err == nil {
				err = s.DetectOffline(ctx, t)
			} else if errors.Is(err, errUnknownTenant) || errors.Is(err, ErrSuspended) || errors.Is(err, ErrUnavailable) {
				return
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("tenant %d: %w", id, err))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// offlineSignal is the "endpoint offline" alert of host, firing or resolved.
func offlineSignal(host string, lastSeen time.Time, missed int, resolved bool) alerts.Signal {
	sig := alerts.Signal{Source: alertSource, Rule: ruleOffline, Severity: alerts.SeverityCritical, Status: alerts.StatusFiring,
		Endpoint: endpointName(host), Labels: map[string]string{"host": host}}
	if resolved {
		sig.Status = alerts.StatusResolved
		sig.Summary = fmt.Sprintf("%s is checking in again", host)
		return sig
	}
	sig.Summary = fmt.Sprintf("%s has not checked in since %s (%d check-ins missed)", host, lastSeen.UTC().Format(time.RFC3339), missed)
	return sig
}
