package agents

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// endpointRow is what a check-in needs to know about its endpoint.
type endpointRow struct {
	ID             int64
	Hostname       string
	CredentialHash []byte
	Status         string
	OfflineAlert   bool
	LastSeenAt     time.Time
}

type stateRow struct {
	Rule   string
	Mount  string
	Since  *time.Time
	Firing bool
}

// CheckIn records an endpoint's report: its inventory row and latest
// metrics, a row of metrics history, and the clock of every threshold that
// applies to it, all in one transaction. Alerts the thresholds (or the
// endpoint's return from offline) call for are raised after that commits.
// It returns when the agent should check in next.
func (s *Service) CheckIn(ctx context.Context, credential string, r Report) (time.Duration, error) {
	next, err := s.checkInReport(ctx, credential, r)
	s.checkIns.CheckedIn(err)
	return next, err
}

func (s *Service) checkInReport(ctx context.Context, credential string, r Report) (time.Duration, error) {
	tenantID, endpointID, secret, ok := parseCredential(credential)
	if !ok {
		return 0, unauthorized("invalid endpoint credential")
	}
	if err := r.normalize(); err != nil {
		return 0, err
	}
	t, err := s.tenant(ctx, tenantID)
	if errors.Is(err, errUnknownTenant) {
		return 0, unauthorized("invalid endpoint credential")
	}
	if errors.Is(err, ErrSuspended) {
		return 0, s.refuseSuspended(ctx, tenantID, endpointID, secret, err)
	}
	if err != nil {
		return 0, err
	}
	eff, err := s.policies.Effective(ctx, t)
	if err != nil {
		return 0, fmt.Errorf("reading policy: %w", err)
	}
	interval, grace := settings(eff)
	items := eff.Thresholds(r.Hostname)
	disks, err := json.Marshal(r.Disks)
	if err != nil {
		return 0, fmt.Errorf("encoding disks: %w", err)
	}
	now := s.now()

	var ps []pending
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		ps = ps[:0]
		var ep endpointRow
		res := tx.Raw(`SELECT id, hostname, credential_hash, status, offline_alert, last_seen_at FROM endpoints WHERE id = ? FOR UPDATE`, endpointID).Scan(&ep)
		if res.Error != nil {
			return fmt.Errorf("reading endpoint: %w", res.Error)
		}
		if res.RowsAffected == 0 || subtle.ConstantTimeCompare(ep.CredentialHash, hashSecret(secret)) != 1 {
			return unauthorized("this endpoint credential is no longer valid (the endpoint was removed or enrolled again); enroll with a new token")
		}
		if ep.Hostname != r.Hostname {
			var taken int64
			if err := tx.Raw(`SELECT count(*) FROM endpoints WHERE hostname = ? AND id <> ?`, r.Hostname, ep.ID).Scan(&taken).Error; err != nil {
				return fmt.Errorf("checking hostname: %w", err)
			}
			if taken > 0 {
				return fault.Newf(ErrConflict, "hostname %q already belongs to another endpoint of this client", r.Hostname)
			}
		}

		var rows []stateRow
		if err := tx.Raw(`SELECT rule, mount, since, firing FROM threshold_states WHERE endpoint_id = ?`, ep.ID).Scan(&rows).Error; err != nil {
			return fmt.Errorf("reading threshold states: %w", err)
		}
		prev := make(map[condKey]condState, len(rows))
		for _, row := range rows {
			prev[condKey{row.Rule, row.Mount}] = condState{Since: row.Since, Firing: row.Firing}
		}
		restart := now.Sub(ep.LastSeenAt) > grace
		for _, tr := range evaluate(observe(items, r), prev, items, now, restart) {
			if err := saveState(tx, ep.ID, tr); err != nil {
				return err
			}
			if tr.emit != emitNone {
				ps = append(ps, pending{signal: thresholdSignal(tr, r.Hostname), confirm: confirmThreshold(ep.ID, tr)})
			}
		}
		if ep.Status == StatusOffline || ep.OfflineAlert {
			ps = append(ps, backOnline(ep.ID, r.Hostname, ep.LastSeenAt))
		}

		err := tx.Exec(`UPDATE endpoints SET hostname = ?, os = ?, last_seen_at = ?, status = 'online',
			uptime_seconds = ?, cpu_percent = ?, memory_percent = ?, disks = ? WHERE id = ?`,
			r.Hostname, r.OS, now, r.UptimeSeconds, r.CPUPercent, r.MemoryPercent, string(disks), ep.ID).Error
		if err != nil {
			return fmt.Errorf("updating endpoint: %w", err)
		}
		err = tx.Exec(`INSERT INTO endpoint_metrics (endpoint_id, at, uptime_seconds, cpu_percent, memory_percent, disks) VALUES (?, ?, ?, ?, ?, ?)`,
			ep.ID, now, r.UptimeSeconds, r.CPUPercent, r.MemoryPercent, string(disks)).Error
		if err != nil {
			return fmt.Errorf("recording metrics: %w", err)
		}
		// Retention, a little at a time: each check-in drops its own
		// endpoint's expired rows (usually one), along the index.
		if err := tx.Exec(`DELETE FROM endpoint_metrics WHERE endpoint_id = ? AND at < ?`, ep.ID, now.Add(-metricsRetention)).Error; err != nil {
			return fmt.Errorf("expiring metrics: %w", err)
		}
		return refreshNextOffline(tx, grace, interval/2)
	})
	if err != nil {
		return 0, err
	}
	// The check-in is stored; a failure to raise is logged, not returned, so
	// that the agent does not send the same report again. Nothing was
	// confirmed, so the next check-in decides the same signals again.
	if err := s.deliver(ctx, t, ps, nil); err != nil {
		s.log.ErrorContext(ctx, "raising endpoint alerts", "tenant", t.Slug, "endpoint", r.Hostname, "err", err)
	}
	return interval, nil
}

// saveState writes a condition's new state if it changed.
func saveState(tx *gorm.DB, endpointID int64, tr transition) error {
	if tr.next.equal(tr.prev) {
		return nil
	}
	var err error
	if tr.next.zero() {
		err = tx.Exec(`DELETE FROM threshold_states WHERE endpoint_id = ? AND rule = ? AND mount = ?`, endpointID, tr.key.Rule, tr.key.Mount).Error
	} else {
		err = tx.Exec(`INSERT INTO threshold_states (endpoint_id, rule, mount, since, firing) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (endpoint_id, rule, mount) DO UPDATE SET since = EXCLUDED.since, firing = EXCLUDED.firing`,
			endpointID, tr.key.Rule, tr.key.Mount, tr.next.Since, tr.next.Firing).Error
	}
	if err != nil {
		return fmt.Errorf("saving threshold state %s: %w", tr.key.Rule, err)
	}
	return nil
}

// confirmThreshold records that the alerts module accepted a transition's
// signal: a raised alert is firing; a resolved one is forgotten, unless the
// condition has started to hold again meanwhile (then only its alert is).
func confirmThreshold(endpointID int64, tr transition) func(tx *gorm.DB) error {
	if tr.emit == emitFiring && tr.prev.Firing {
		return nil // already recorded as firing: a repeat
	}
	return func(tx *gorm.DB) error {
		where := `endpoint_id = ? AND rule = ? AND mount = ?`
		args := []any{endpointID, tr.key.Rule, tr.key.Mount}
		var err error
		if tr.emit == emitFiring {
			err = tx.Exec(`UPDATE threshold_states SET firing = true WHERE `+where+` AND since IS NOT NULL`, args...).Error
		} else {
			err = tx.Exec(`DELETE FROM threshold_states WHERE `+where+` AND since IS NULL`, args...).Error
			if err == nil {
				err = tx.Exec(`UPDATE threshold_states SET firing = false WHERE `+where, args...).Error
			}
		}
		if err != nil {
			return fmt.Errorf("confirming threshold state %s: %w", tr.key.Rule, err)
		}
		return nil
	}
}

// backOnline resolves the endpoint's offline alert; once accepted, the
// endpoint no longer has one (unless it went offline again meanwhile).
func backOnline(endpointID int64, host string, lastSeen time.Time) pending {
	return pending{
		signal: offlineSignal(host, lastSeen, 0, true),
		confirm: func(tx *gorm.DB) error {
			if err := tx.Exec(`UPDATE endpoints SET offline_alert = false WHERE id = ? AND status = 'online'`, endpointID).Error; err != nil {
				return fmt.Errorf("confirming endpoint back online: %w", err)
			}
			return nil
		},
	}
}

// refuseSuspended answers a check-in to a suspended client: only the holder
// of one of its endpoints' credentials is told it is suspended (so that its
// agent keeps its credential and resumes with the client); a made-up
// credential gets the answer an unknown client gets, and learns nothing
// about which clients exist or are suspended.
func (s *Service) refuseSuspended(ctx context.Context, tenantID, endpointID int64, secret string, suspended error) error {
	invalid := unauthorized("invalid endpoint credential")
	found, err := s.tenants.Search(ctx, []int64{tenantID}, "", 1)
	if err != nil {
		return fmt.Errorf("finding tenant %d: %w", tenantID, err)
	}
	if len(found) == 0 {
		return invalid
	}
	var ep struct{ CredentialHash []byte }
	var res *gorm.DB
	err = tenancy.Do(ctx, s.tenants.Scope(found[0]), func(tx *gorm.DB) error {
		res = tx.Raw(`SELECT credential_hash FROM endpoints WHERE id = ?`, endpointID).Scan(&ep)
		return res.Error
	})
	if err != nil {
		return fmt.Errorf("checking a suspended client's credential: %w", err)
	}
	if res.RowsAffected == 0 || subtle.ConstantTimeCompare(ep.CredentialHash, hashSecret(secret)) != 1 {
		return invalid
	}
	return suspended
}
