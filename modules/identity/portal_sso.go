package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Portal single sign-on: each client's own OpenID Connect provider (their
// Entra ID, Google Workspace …), configured on the client's settings and
// kept in the client's own schema (sso_settings). Its users sign in to the
// client's portal with it; nobody signs in to any other portal with it.

// PortalSSO is a client's sign-on configuration as shown (never the secret).
type PortalSSO struct {
	Issuer          string
	ClientID        string
	Label           string // "Sign in with <Label>"
	CreateUsers     bool   // just-in-time client users
	SecretEncrypted bool   // the stored secret is ciphertext (sso.secret_key)
	UpdatedAt       time.Time
}

// PortalSSOInput is a configuration to save. An empty ClientSecret keeps the
// one stored.
type PortalSSOInput struct {
	Issuer, ClientID, ClientSecret, Label string
	CreateUsers                           bool
}

// ssoSettingsRow maps the tenant's sso_settings table (one row at most).
type ssoSettingsRow struct {
	ID           bool      `gorm:"column:id;primaryKey"`
	Issuer       string    `gorm:"column:issuer"`
	ClientID     string    `gorm:"column:client_id"`
	ClientSecret string    `gorm:"column:client_secret"`
	Label        string    `gorm:"column:label"`
	CreateUsers  bool      `gorm:"column:create_users"`
	UpdatedAt    time.Time `gorm:"column:updated_at"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (ssoSettingsRow) TableName() string { return "sso_settings" }

func (r ssoSettingsRow) public() PortalSSO {
	return PortalSSO{Issuer: r.Issuer, ClientID: r.ClientID, Label: r.Label, CreateUsers: r.CreateUsers,
		SecretEncrypted: strings.HasPrefix(r.ClientSecret, sealedPrefix), UpdatedAt: r.UpdatedAt}
}

// SSOSecretsEncrypted reports whether portal client secrets are encrypted
// at rest (sso.secret_key is configured).
func (s *Service) SSOSecretsEncrypted() bool { return len(s.sso.opts.SecretKey) == 32 }

func (s *Service) portalSSORow(ctx context.Context, t tenancy.Tenant) (ssoSettingsRow, bool, error) {
	var r ssoSettingsRow
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tx.Take(&r).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ssoSettingsRow{}, false, nil
	}
	if err != nil {
		return ssoSettingsRow{}, false, fmt.Errorf("reading the sign-on settings of %s: %w", t.Slug, err)
	}
	return r, true, nil
}

// PortalSSOSettings returns the client's sign-on configuration, and whether
// it has one.
func (s *Service) PortalSSOSettings(ctx context.Context, t tenancy.Tenant) (PortalSSO, bool, error) {
	r, ok, err := s.portalSSORow(ctx, t)
	return r.public(), ok, err
}

// SavePortalSSO checks and stores the client's sign-on configuration: an
// https issuer that answers OpenID Connect discovery, a client id, and a
// secret (encrypted when sso.secret_key is configured). Audited, without
// the secret.
func (s *Service) SavePortalSSO(ctx context.Context, t tenancy.Tenant, in PortalSSOInput) (PortalSSO, error) {
	in.Issuer, in.ClientID, in.Label = strings.TrimSpace(in.Issuer), strings.TrimSpace(in.ClientID), strings.TrimSpace(in.Label)
	in.ClientSecret = strings.TrimSpace(in.ClientSecret)
	if err := s.sso.checkIssuerURL(in.Issuer); err != nil {
		return PortalSSO{}, err
	}
	if !printable(in.ClientID, 1, 500) {
		return PortalSSO{}, invalid("the client id must be 1-500 printable characters")
	}
	if !printable(in.Label, 0, 60) {
		return PortalSSO{}, invalid("the button label must be at most 60 printable characters")
	}
	if in.ClientSecret != "" && !printable(in.ClientSecret, 1, 2000) {
		return PortalSSO{}, invalid("the client secret must be at most 2000 printable characters")
	}
	old, exists, err := s.portalSSORow(ctx, t)
	if err != nil {
		return PortalSSO{}, err
	}
	sealed := old.ClientSecret
	if in.ClientSecret != "" {
		if sealed, err = s.sealSecret(t.ID, in.ClientSecret); err != nil {
			return PortalSSO{}, err
		}
	} else if !exists {
		return PortalSSO{}, invalid("enter the client secret the identity provider gave for this portal")
	}
	if _, err := s.sso.provider(ctx, relyingParty{issuer: in.Issuer, clientID: in.ClientID, tenantID: t.ID}); err != nil {
		return PortalSSO{}, fault.Newf(ErrInvalid, "%s does not answer OpenID Connect discovery (%s/.well-known/openid-configuration); check the issuer URL",
			in.Issuer, strings.TrimSuffix(in.Issuer, "/"))
	}
	row := ssoSettingsRow{ID: true, Issuer: in.Issuer, ClientID: in.ClientID, ClientSecret: sealed, Label: in.Label, CreateUsers: in.CreateUsers}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO sso_settings (id, issuer, client_id, client_secret, label, create_users, updated_at)
			VALUES (true, ?, ?, ?, ?, ?, now())
			ON CONFLICT (id) DO UPDATE SET issuer = EXCLUDED.issuer, client_id = EXCLUDED.client_id, client_secret = EXCLUDED.client_secret,
				label = EXCLUDED.label, create_users = EXCLUDED.create_users, updated_at = now()`,
			row.Issuer, row.ClientID, row.ClientSecret, row.Label, row.CreateUsers).Error; err != nil {
			return fmt.Errorf("saving the sign-on settings: %w", err)
		}
		detail := fmt.Sprintf("issuer %s, client %s, new users %t", in.Issuer, in.ClientID, in.CreateUsers)
		if in.ClientSecret != "" {
			detail += ", new secret"
		}
		return audit.Record(ctx, tx, "sso.configured", "portal sign-on", detail)
	})
	if err != nil {
		return PortalSSO{}, err
	}
	return row.public(), nil
}

// RemovePortalSSO removes the client's sign-on configuration (its users
// sign in with passwords again). ErrNotFound when there is none.
func (s *Service) RemovePortalSSO(ctx context.Context, t tenancy.Tenant) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM sso_settings`)
		if res.Error != nil {
			return fmt.Errorf("removing the sign-on settings: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.New(ErrNotFound, "single sign-on is not set up for this client")
		}
		return audit.Record(ctx, tx, "sso.removed", "portal sign-on", "")
	})
}

// portalRelyingParty is the client's registration at its provider, with
// the secret decrypted; ok is false when the client has none.
func (s *Service) portalRelyingParty(ctx context.Context, t tenancy.Tenant) (relyingParty, PortalSSO, bool, error) {
	r, ok, err := s.portalSSORow(ctx, t)
	if err != nil || !ok {
		return relyingParty{}, PortalSSO{}, ok, err
	}
	secret, err := s.openSecret(t.ID, r.ClientSecret)
	if err != nil {
		s.log.ErrorContext(ctx, "portal single sign-on: the client secret cannot be read", "tenant", t.Slug, "err", err)
		return relyingParty{}, PortalSSO{}, false, fault.New(fault.Unavailable,
			"single sign-on is not available right now; sign in with your password, or ask your administrator to save the sign-on settings again")
	}
	return relyingParty{issuer: r.Issuer, clientID: r.ClientID, clientSecret: secret, tenantID: t.ID}, r.public(), true, nil
}

// SignInClientSSO signs in the user of t the client's provider vouched for:
// the one bound to the provider's subject, or else the one with the token's
// verified e-mail address (then bound to it). With createUsers, someone with
// no user yet becomes a client_user. Only t's own users: another client's
// users, and staff, do not exist here.
func (s *Service) SignInClientSSO(ctx context.Context, t tenancy.Tenant, id ssoIdentity, createUsers bool, ip string) (ClientUser, error) {
	email, err := NormalizeEmail(id.Email)
	if err != nil || !id.EmailVerified {
		return ClientUser{}, fault.New(ErrSSOAccount, "Your identity provider did not send a verified e-mail address for this account, so it cannot be matched to a user here.")
	}
	var u ClientUser
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: email, ClientIP: ip})
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		err := tx.Where("sso_issuer = ? AND sso_subject = ?", id.Issuer, id.Subject).Take(&u).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			err = tx.Where("email = ?", email).Take(&u).Error
			if err == nil && u.SSOSubject != nil && (*u.SSOSubject != id.Subject || u.SSOIssuer == nil || *u.SSOIssuer != id.Issuer) {
				return fault.Newf(ErrSSOAccount, "The user %s is bound to another account at your identity provider.", email)
			}
		}
		switch {
		case errors.Is(err, gorm.ErrRecordNotFound) && createUsers:
			hash, err := HashPassword(newSecret()) // never told to anyone: this user signs in with the provider
			if err != nil {
				return err
			}
			u = ClientUser{Email: email, Name: nameClaim(id), PasswordHash: hash, Role: RoleClientUser}
			if err := tx.Select("Email", "Name", "PasswordHash", "Role").Create(&u).Error; err != nil {
				return fmt.Errorf("creating %s at their first sign-on: %w", email, err)
			}
			if err := audit.Record(ctx, tx, "user.created", email, "role client_user, at their first single sign-on"); err != nil {
				return err
			}
		case errors.Is(err, gorm.ErrRecordNotFound):
			return fault.Newf(ErrSSOAccount, "There is no user %s here. Ask your administrator to add you.", email)
		case err != nil:
			return fmt.Errorf("reading client user: %w", err)
		case u.DisabledAt != nil:
			return fault.New(ErrSSOAccount, "This account is disabled.")
		}
		// last_login_at and the binding only: updated_at stays, as it
		// voids the sessions started before a password reset.
		if err := tx.Exec(`UPDATE users SET last_login_at = now(), sso_issuer = ?, sso_subject = ? WHERE id = ?`, id.Issuer, id.Subject, u.ID).Error; err != nil {
			return fmt.Errorf("recording the sign-in of %s: %w", u.Email, err)
		}
		if err := tx.Exec(`DELETE FROM sessions WHERE expiry < now()`).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "user.login", u.Email, "portal, single sign-on")
	})
	if err != nil {
		return ClientUser{}, err
	}
	return u, nil
}

func nameClaim(id ssoIdentity) string {
	if name, _ := id.Claims["name"].(string); checkName(name) == nil {
		return name
	}
	return ""
}

// printable reports whether v has between min and max characters, none of
// them a control character.
func printable(v string, min, max int) bool {
	n := len([]rune(v))
	return n >= min && n <= max && !strings.ContainsFunc(v, unicode.IsControl)
}

// Stored secrets: "v1:" + base64(nonce ‖ AES-256-GCM ciphertext), the
// tenant's id as additional data (a secret copied into another client's row
// does not open), or "plain:" + the secret when no key is configured.
const (
	sealedPrefix = "v1:"
	plainPrefix  = "plain:"
)

func (s *Service) secretAEAD() (cipher.AEAD, error) {
	block, err := aes.NewCipher(s.sso.opts.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("sso.secret_key: %w", err)
	}
	return cipher.NewGCM(block)
}

func secretAD(tenantID int64) []byte {
	return []byte("switchboard portal sso secret, tenant " + strconv.FormatInt(tenantID, 10))
}

func (s *Service) sealSecret(tenantID int64, secret string) (string, error) {
	if !s.SSOSecretsEncrypted() {
		return plainPrefix + secret, nil
	}
	aead, err := s.secretAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypting the client secret: %w", err)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), secretAD(tenantID))), nil
}

func (s *Service) openSecret(tenantID int64, stored string) (string, error) {
	if secret, ok := strings.CutPrefix(stored, plainPrefix); ok {
		return secret, nil
	}
	b64, ok := strings.CutPrefix(stored, sealedPrefix)
	if !ok || !s.SSOSecretsEncrypted() {
		return "", errors.New("the secret is encrypted and sso.secret_key is not configured")
	}
	aead, err := s.secretAEAD()
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize() {
		return "", errors.New("decrypting the client secret: malformed")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], secretAD(tenantID))
	if err != nil {
		return "", errors.New("the secret does not decrypt with sso.secret_key (was the key changed?)")
	}
	return string(plain), nil
}
