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
	var u ClientUser
	account := accountKey("client:" + strconv.FormatInt(t.ID, 10) + ":" + e)
	err = s.throttledAttempt(ctx, account, ipKey(portalSurface(t.ID), ip), func(*gorm.DB) (ok bool, err error) {
		err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
			lookup := tx.Where("email = ?", e).Take(&u).Error
			if lookup != nil && !errors.Is(lookup, gorm.ErrRecordNotFound) {
				return fmt.Errorf("reading client user: %w", lookup)
			}
			if ok = passwordMatches(u.PasswordHash, lookup == nil, password) && u.DisabledAt == nil; !ok {
				return nil
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
		return ok, err
	})
	if errors.Is(err, ErrBadLogin) {
		s.log.WarnContext(ctx, "failed portal login", "tenant", t.Slug, "email", e, "ip", ip)
	}
	if err != nil {
		return ClientUser{}, err
	}
	return u, nil
}
