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
	db := s.cluster.ControlDB()
	keys := []string{accountKey(e), ipKey(ip)}
	if wait, err := blocked(ctx, db, keys...); err != nil {
		return StaffUser{}, err
	} else if wait > 0 {
		return StaffUser{}, &ThrottledError{RetryAfter: wait}
	}

	var u StaffUser
	lookup := db.WithContext(ctx).Where("email = ?", e).Take(&u).Error
	if lookup != nil && !errors.Is(lookup, gorm.ErrRecordNotFound) {
		return StaffUser{}, fmt.Errorf("reading staff user: %w", lookup)
	}
	hash := u.PasswordHash
	if lookup != nil {
		hash = dummyHash
	}
	ok := VerifyPassword(hash, password) && lookup == nil && u.DisabledAt == nil
	if !ok {
		if err := recordFailure(ctx, db, accountKey(e), accountLimit); err != nil {
			return StaffUser{}, err
		}
		if err := recordFailure(ctx, db, ipKey(ip), ipLimit); err != nil {
			return StaffUser{}, err
		}
		s.log.WarnContext(ctx, "failed staff login", "email", e, "ip", ip)
		return StaffUser{}, ErrBadLogin
	}
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := clearFailures(ctx, tx, accountKey(e)); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE control.staff_users SET last_login_at = now() WHERE id = ?`, u.ID).Error; err != nil {
			return err
		}
		return audit.RecordPlatform(audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip}), tx, "staff.login", u.Email, "")
	})
	if err != nil {
		return StaffUser{}, fmt.Errorf("recording login: %w", err)
	}
	return u, nil
}
