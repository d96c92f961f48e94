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
	var u StaffUser
	err = s.throttledAttempt(ctx, accountKey(e), ipKey(consoleSurface, ip), func(tx *gorm.DB) (bool, error) {
		lookup := tx.Where("email = ?", e).Take(&u).Error
		if lookup != nil && !errors.Is(lookup, gorm.ErrRecordNotFound) {
			return false, fmt.Errorf("reading staff user: %w", lookup)
		}
		if !passwordMatches(u.PasswordHash, lookup == nil, password) || u.DisabledAt != nil || s.staffPasswordRefused(u) {
			return false, nil
		}
		if err := tx.Exec(`UPDATE control.staff_users SET last_login_at = now() WHERE id = ?`, u.ID).Error; err != nil {
			return false, err
		}
		return true, audit.RecordPlatform(audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip}), tx, "staff.login", u.Email, "")
	})
	if errors.Is(err, ErrBadLogin) {
		s.log.WarnContext(ctx, "failed staff login", "email", e, "ip", ip)
	}
	if err != nil {
		return StaffUser{}, err
	}
	return u, nil
}

// throttledAttempt runs one sign-in attempt in a control-plane transaction,
// serialised per account by an advisory lock, so that check, verify and
// count happen as one step and parallel guesses cannot all slip past the
// limit while each one is being hashed. It answers *ThrottledError while the
// account or the IP is blocked; otherwise verify says whether the password
// was right (a false counts a failure against both and answers ErrBadLogin;
// a true clears the account's failures). ipCounter is the client address's
// key on the surface signed in to (ipKey).
func (s *Service) throttledAttempt(ctx context.Context, account, ipCounter string, verify func(ctl *gorm.DB) (bool, error)) error {
	var outcome error
	err := s.cluster.ControlDB().WithContext(ctx).Transaction(func(ctl *gorm.DB) error {
		if err := ctl.Exec(`SELECT pg_advisory_xact_lock(hashtext(?))`, account).Error; err != nil {
			return fmt.Errorf("locking login throttle: %w", err)
		}
		if wait, err := blocked(ctx, ctl, account, ipCounter); err != nil {
			return err
		} else if wait > 0 {
			outcome = &ThrottledError{RetryAfter: wait}
			return nil
		}
		ok, err := verify(ctl)
		if err != nil {
			return err
		}
		if ok {
			return clearFailures(ctx, ctl, account)
		}
		if err := recordFailure(ctx, ctl, account, accountLimit); err != nil {
			return err
		}
		if err := recordFailure(ctx, ctl, ipCounter, ipLimit); err != nil {
			return err
		}
		outcome = ErrBadLogin
		return nil
	})
	if err != nil {
		return fmt.Errorf("signing in: %w", err)
	}
	return outcome
}

// passwordMatches verifies password against hash, or against a dummy hash
// when the user does not exist, so both cost the same hashing work.
func passwordMatches(hash string, exists bool, password string) bool {
	if !exists {
		VerifyPassword(dummyHash, password)
		return false
	}
	return VerifyPassword(hash, password)
}
