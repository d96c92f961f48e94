package identity

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// ClientInput describes a client user to create.
type ClientInput struct {
	Email    string
	Name     string
	Role     string // client_admin or client_user
	Password string // empty: generate one
}

// CreateClientUser creates a user in the tenant's own schema and returns the
// password (generated when none was given; shown once).
func (s *Service) CreateClientUser(ctx context.Context, t tenancy.Tenant, in ClientInput) (ClientUser, string, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return ClientUser{}, "", err
	}
	if err := checkName(in.Name); err != nil {
		return ClientUser{}, "", err
	}
	if in.Role != RoleClientAdmin && in.Role != RoleClientUser {
		return ClientUser{}, "", invalid("client role must be client_admin or client_user, not %q", in.Role)
	}
	password, err := choosePassword(in.Password)
	if err != nil {
		return ClientUser{}, "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return ClientUser{}, "", err
	}
	u := ClientUser{Email: email, Name: in.Name, PasswordHash: hash, Role: in.Role}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Select("Email", "Name", "PasswordHash", "Role").Create(&u).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Newf(ErrConflict, "this client already has a user %s", email)
			}
			return fmt.Errorf("creating client user: %w", err)
		}
		return audit.Record(ctx, tx, "user.created", email, "role "+clientRoleWords(in.Role))
	})
	if err != nil {
		return ClientUser{}, "", err
	}
	return u, password, nil
}

// ListClientUsers lists a tenant's users.
func (s *Service) ListClientUsers(ctx context.Context, t tenancy.Tenant) ([]ClientUser, error) {
	var users []ClientUser
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tx.Order("email").Find(&users).Error })
	if err != nil {
		return nil, fmt.Errorf("listing users of %s: %w", t.Slug, err)
	}
	return users, nil
}

// ClientUserByEmail returns one of a tenant's users.
func (s *Service) ClientUserByEmail(ctx context.Context, t tenancy.Tenant, email string) (ClientUser, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return ClientUser{}, err
	}
	var u ClientUser
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tx.Where("email = ?", e).Take(&u).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ClientUser{}, fault.Newf(ErrNotFound, "%s has no user %s", t.Slug, e)
	}
	return u, err
}

// SetClientDisabled disables or re-enables a client user; disabling ends their sessions.
func (s *Service) SetClientDisabled(ctx context.Context, t tenancy.Tenant, email string, disabled bool) (ClientUser, error) {
	u, err := s.ClientUserByEmail(ctx, t, email)
	if err != nil {
		return ClientUser{}, err
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		q := `UPDATE users SET disabled_at = now(), updated_at = now() WHERE id = ? AND disabled_at IS NULL`
		action := "user.disabled"
		if !disabled {
			q = `UPDATE users SET disabled_at = NULL, updated_at = now() WHERE id = ? AND disabled_at IS NOT NULL`
			action = "user.enabled"
		}
		res := tx.Exec(q, u.ID)
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		if disabled {
			if err := tx.Exec(`DELETE FROM sessions WHERE subject = ?`, ClientSubject(t.ID, u.ID)).Error; err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, action, u.Email, "")
	})
	if err != nil {
		return ClientUser{}, fmt.Errorf("updating user: %w", err)
	}
	return s.ClientUserByEmail(ctx, t, email)
}

// ResetClientPassword sets a new password (generated when empty), ends the
// user's sessions and returns the password.
func (s *Service) ResetClientPassword(ctx context.Context, t tenancy.Tenant, email, password string) (string, error) {
	u, err := s.ClientUserByEmail(ctx, t, email)
	if err != nil {
		return "", err
	}
	password, err = choosePassword(password)
	if err != nil {
		return "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return "", err
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE users SET password_hash = ?, updated_at = now() WHERE id = ?`, hash, u.ID).Error; err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM sessions WHERE subject = ?`, ClientSubject(t.ID, u.ID)).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "user.password_reset", u.Email, "password replaced; sessions ended")
	})
	if err != nil {
		return "", fmt.Errorf("resetting password: %w", err)
	}
	return password, nil
}

// ClientSubject is the authorization subject key of a client user.
func ClientSubject(tenantID, userID int64) string {
	return fmt.Sprintf("client:%d:%d", tenantID, userID)
}

// ActiveUsers counts the tenant's enabled client users.
func (s *Service) ActiveUsers(ctx context.Context, t tenancy.Tenant) (int, error) {
	var n int
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM users WHERE disabled_at IS NULL`).Scan(&n).Error
	})
	return n, err
}

// clientRoleWords is a client role as the audit log's readers say it.
func clientRoleWords(role string) string {
	if role == RoleClientAdmin {
		return "client admin"
	}
	return "client user"
}
