package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// Enroll spends one use of an enrollment token on the endpoint called
// hostname: a new endpoint, or (same hostname) the existing one, whose
// previous credential stops working. It returns the endpoint's credential,
// shown only this once, and the check-in interval of the tenant's policy.
func (s *Service) Enroll(ctx context.Context, token, hostname, osName string) (Enrollment, error) {
	host, err := checkHostname(hostname)
	if err != nil {
		return Enrollment{}, err
	}
	if osName, err = checkOS(osName); err != nil {
		return Enrollment{}, err
	}
	token = strings.TrimSpace(token)
	tenantID, _, ok := parseToken(token)
	if !ok {
		return Enrollment{}, unauthorized("unknown enrollment token")
	}
	t, err := s.tenant(ctx, tenantID)
	if errors.Is(err, errUnknownTenant) || errors.Is(err, ErrSuspended) {
		// The tenant id in a token is readable by anyone who makes one up:
		// a suspended client's token answers as an unknown one, so the
		// answer says nothing about which clients exist or are suspended.
		return Enrollment{}, unauthorized("unknown enrollment token")
	}
	if err != nil {
		return Enrollment{}, err
	}
	eff, err := s.policies.Effective(ctx, t)
	if err != nil {
		return Enrollment{}, fmt.Errorf("reading agent policy: %w", err)
	}
	interval, grace := settings(eff)
	secret, err := newSecret()
	if err != nil {
		return Enrollment{}, err
	}
	now := s.now()
	var row struct {
		ID       int64
		Inserted bool
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		tok, err := claimToken(tx, hashSecret(token), now)
		if err != nil {
			return err
		}
		err = tx.Raw(`INSERT INTO endpoints (hostname, os, credential_hash, token_id, enrolled_at, last_seen_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (hostname) DO UPDATE SET os = EXCLUDED.os, credential_hash = EXCLUDED.credential_hash,
				token_id = EXCLUDED.token_id, enrolled_at = EXCLUDED.enrolled_at, last_seen_at = EXCLUDED.last_seen_at, status = 'online'
			RETURNING id, (xmax = 0) AS inserted`, host, osName, hashSecret(secret), tok.ID, now, now).Scan(&row).Error
		if err != nil {
			return fmt.Errorf("recording endpoint %s: %w", host, err)
		}
		action := "endpoint.enrolled"
		if !row.Inserted {
			action = "endpoint.reenrolled"
		}
		if err := audit.Record(ctx, tx, action, host, "with enrollment token "+tok.Prefix); err != nil {
			return err
		}
		return refreshNextOffline(tx, grace, interval/2)
	})
	if err != nil {
		return Enrollment{}, err
	}
	s.log.InfoContext(ctx, "endpoint enrolled", "tenant", t.Slug, "endpoint", host, "id", row.ID, "reenrolled", !row.Inserted)
	return Enrollment{EndpointID: row.ID, Credential: formatCredential(t.ID, row.ID, secret), CheckInInterval: interval,
		Reenrolled: !row.Inserted}, nil
}
