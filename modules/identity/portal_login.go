package identity

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// AuthenticateClient checks a portal login against the tenant's own users
// only: staff accounts and other clients' users do not exist here. Like
// AuthenticateStaff it throttles per account and per IP and answers
// ErrBadLogin alike for an unknown e-mail, a wrong password and a disabled
// user, after the same hashing work.
func (s *Service) AuthenticateClient(ctx context.Context, t tenancy.Tenant, email, password, ip string) (ClientUser, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		e = "invalid"
	}
	account := accountKey("client:" + strconv.FormatInt(t.ID, 10) + ":" + e)
	var (
		u       ClientUser
		outcome error
	)
	err = s.cluster.ControlDB().WithContext(ctx).Transaction(func(ctl *gorm.DB) error {
		if err := ctl.Exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, account).Error; err != nil {
			return fmt.Errorf("locking login throttle: %w", err)
		}
		if wait, err := blocked(ctx, ctl, account, ipKey(ip)); err != nil {
			return err
		} else if wait > 0 {
			outcome = &ThrottledError{RetryAfter: wait}
			return nil
		}
		return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
			lookup := tx.Where("email = ?", e).Take(&u).Error
			if lookup != nil && !errors.Is(lookup, gorm.ErrRecordNotFound) {
				return fmt.Errorf("reading client user: %w", lookup)
			}
			hash := u.PasswordHash
			if lookup != nil {
				hash = dummyHash
			}
			if !VerifyPassword(hash, password) || lookup != nil || u.DisabledAt != nil {
				if err := recordFailure(ctx, ctl, account, accountLimit); err != nil {
					return err
				}
				if err := recordFailure(ctx, ctl, ipKey(ip), ipLimit); err != nil {
					return err
				}
				outcome = ErrBadLogin
				return nil
			}
			if err := clearFailures(ctx, ctl, account); err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE users SET last_login_at = now() WHERE id = ?`, u.ID).Error; err != nil {
				return err
			}
			// Expired portal sessions are swept here, per tenant, rather
			// than by a job that would have to visit every schema.
			if err := tx.Exec(`DELETE FROM sessions WHERE expiry < now()`).Error; err != nil {
				return err
			}
			return audit.Record(audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip}), tx, "user.login", u.Email, "portal")
		})
	})
	if err != nil {
		return ClientUser{}, fmt.Errorf("signing in: %w", err)
	}
	if outcome != nil {
		if errors.Is(outcome, ErrBadLogin) {
			s.log.WarnContext(ctx, "failed portal login", "tenant", t.Slug, "email", e, "ip", ip)
		}
		return ClientUser{}, outcome
	}
	return u, nil
}
