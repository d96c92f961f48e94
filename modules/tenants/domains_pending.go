package tenants

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Pending domains are re-checked in the background, so a portal goes live
// soon after the client creates its TXT record even if nobody presses
// Verify. Each check claims its rows first (SKIP LOCKED), so replicas share
// the work instead of repeating it.
const (
	pendingRecheckEvery = 5 * time.Minute    // per domain
	pendingGiveUpAfter  = 7 * 24 * time.Hour // then only staff's Verify checks it
	pendingBatch        = 50                 // domains per run
)

// VerifyPending checks the TXT records of unverified domains added in the
// last week and not checked for a while, verifying those that hold their
// token. It returns how many it checked and how many became verified.
func (s *Service) VerifyPending(ctx context.Context) (checked, verified int, err error) {
	var claimed []struct {
		Domain
		Slug string `gorm:"column:slug"`
	}
	err = s.root(ctx).Raw(`UPDATE control.tenant_domains d SET checked_at = now()
		FROM control.tenants t
		WHERE t.id = d.tenant_id AND d.hostname IN (
			SELECT hostname FROM control.tenant_domains
			WHERE NOT verified AND created_at > now() - make_interval(secs => ?)
			  AND (checked_at IS NULL OR checked_at < now() - make_interval(secs => ?))
			ORDER BY checked_at NULLS FIRST LIMIT ? FOR UPDATE SKIP LOCKED)
		RETURNING d.*, t.slug`, pendingGiveUpAfter.Seconds(), pendingRecheckEvery.Seconds(), pendingBatch).Scan(&claimed).Error
	if err != nil {
		return 0, 0, fmt.Errorf("claiming pending domains: %w", err)
	}
	for _, c := range claimed {
		if ctx.Err() != nil {
			return checked, verified, ctx.Err()
		}
		d, err := s.recordCheck(ctx, c.Slug, c.Domain, s.checkTXT(ctx, c.Domain), false)
		checked++
		switch {
		case err == nil && d.Verified:
			verified++
		case err != nil && !errors.Is(err, ErrUnverified) && !errors.Is(err, ErrNotFound):
			s.log.WarnContext(ctx, "re-checking a pending domain", "host", c.Hostname, "err", err)
		}
	}
	return checked, verified, nil
}
