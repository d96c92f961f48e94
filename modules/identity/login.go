package identity

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"switchboard/modules/audit"
)

// AuthenticateStaff checks a staff login. It refuses with *ThrottledError
// while the account or the client IP is blocked, and answers ErrBadLogin for
// an unknown e-mail, a wrong password and a disabled account alike, after the
// same amount of hashing work, so that the answer never tells whether an
// e-mail exists.
func (s *Service) AuthenticateStaff(ctx context.Context, email, password, ip string) (StaffUser, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		e = "invalid" // still count the attempt against the IP
	}
	var (
		u       StaffUser
		outcome error
	)
	// One transaction per attempt, serialised per account by an advisory
	// lock: check, verify and count happen as one step, so parallel guesses
	// cannot all slip past the limit while each one is being hashed.
	err = s.cluster.ControlDB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, accountKey(e)).Error; err != nil {
			return fmt.Errorf("locking login throttle: %w", err)
		}
		if wait, err := blocked(ctx, tx, accountKey(e), ipKey(ip)); err != nil {
			return err
		} else if wait > 0 {
			outcome = &ThrottledError{RetryAfter: wait}
			return nil
		}
		lookup := tx.Where("email = ?", e).Take(&u).Error
		if lookup != nil && !errors.Is(lookup, gorm.ErrRecordNotFound) {
			return fmt.Errorf("reading staff user: %w", lookup)
		}
		hash := u.PasswordHash
		if lookup != nil {
			hash = dummyHash
		}
		if !VerifyPassword(hash, password) || lookup != nil || u.DisabledAt != nil {
			if err := recordFailure(ctx, tx, accountKey(e), accountLimit); err != nil {
				return err
			}
			if err := recordFailure(ctx, tx, ipKey(ip), ipLimit); err != nil {
				return err
			}
			outcome = ErrBadLogin
			return nil
		}
		if err := clearFailures(ctx, tx, accountKey(e)); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE control.staff_users SET last_login_at = now() WHERE id = ?`, u.ID).Error; err != nil {
			return err
		}
		return audit.RecordPlatform(audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip}), tx, "staff.login", u.Email, "")
	})
	if err != nil {
		return StaffUser{}, fmt.Errorf("signing in: %w", err)
	}
	if outcome != nil {
		if errors.Is(outcome, ErrBadLogin) {
			s.log.WarnContext(ctx, "failed staff login", "email", e, "ip", ip)
		}
		return StaffUser{}, outcome
	}
	return u, nil
}
