package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// Limits on enrollment tokens.
const (
	minTokenTTL  = time.Minute
	maxTokenTTL  = 366 * 24 * time.Hour
	maxTokenUses = 100000
)

// CreateToken issues an enrollment token for the tenant, valid for ttl and
// maxUses enrollments. The plaintext is returned once; only its hash is kept.
func (s *Service) CreateToken(ctx context.Context, t tenancy.Tenant, name string, ttl time.Duration, maxUses int) (string, EnrollmentToken, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		return "", EnrollmentToken{}, invalid("a token name must be 1-100 characters")
	}
	if ttl < minTokenTTL || ttl > maxTokenTTL {
		return "", EnrollmentToken{}, invalid("a token must be valid for between %s and %d days", minTokenTTL, maxTokenTTL/(24*time.Hour))
	}
	if maxUses < 1 || maxUses > maxTokenUses {
		return "", EnrollmentToken{}, invalid("maximum uses must be 1-%d", maxTokenUses)
	}
	secret, err := newSecret()
	if err != nil {
		return "", EnrollmentToken{}, err
	}
	plain := formatToken(t.ID, secret)
	tok := EnrollmentToken{Name: name, Prefix: displayPrefix(plain), ExpiresAt: s.now().Add(ttl).UTC().Truncate(time.Microsecond),
		MaxUses: maxUses, CreatedBy: audit.OriginFrom(ctx).Actor}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		err := tx.Raw(`INSERT INTO enrollment_tokens (name, prefix, token_hash, expires_at, max_uses, created_by)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id, created_at`,
			tok.Name, tok.Prefix, hashSecret(plain), tok.ExpiresAt, tok.MaxUses, tok.CreatedBy).Row().Scan(&tok.ID, &tok.CreatedAt)
		if err != nil {
			return fmt.Errorf("storing enrollment token: %w", err)
		}
		return audit.Record(ctx, tx, "enrollment_token.created", tok.Prefix,
			fmt.Sprintf("%s: %s until %s", name, humane.Plural(maxUses, "use", "uses"), tok.ExpiresAt.Format(time.RFC3339)))
	})
	if err != nil {
		return "", EnrollmentToken{}, err
	}
	return plain, tok, nil
}

// ListTokens lists the tenant's enrollment tokens, newest first.
func (s *Service) ListTokens(ctx context.Context, t tenancy.Tenant) ([]EnrollmentToken, error) {
	var out []EnrollmentToken
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Order("id DESC").Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("listing enrollment tokens of %s: %w", t.Slug, err)
	}
	return out, nil
}

// RevokeToken stops a token from enrolling anything more. Endpoints it
// enrolled keep their own credentials.
func (s *Service) RevokeToken(ctx context.Context, t tenancy.Tenant, id int64) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var prefix string
		res := tx.Raw(`UPDATE enrollment_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING prefix`, s.now(), id).Scan(&prefix)
		if res.Error != nil {
			return fmt.Errorf("revoking enrollment token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrNotFound, "no live enrollment token #%d", id)
		}
		return audit.Record(ctx, tx, "enrollment_token.revoked", prefix, "")
	})
}

// claimToken uses one enrollment of the token in the caller's transaction.
// The single UPDATE both checks and counts: concurrent claims queue on the
// row lock and re-check the condition, so a token is never over-used.
func claimToken(tx *gorm.DB, hash []byte, now time.Time) (EnrollmentToken, error) {
	var tok EnrollmentToken
	res := tx.Raw(`UPDATE enrollment_tokens SET uses = uses + 1, last_used_at = ?
		WHERE token_hash = ? AND revoked_at IS NULL AND expires_at > ? AND uses < max_uses
		RETURNING id, name, prefix, expires_at, max_uses, uses`, now, hash, now).Scan(&tok)
	if res.Error != nil {
		return tok, fmt.Errorf("using enrollment token: %w", res.Error)
	}
	if res.RowsAffected == 1 {
		return tok, nil
	}
	// Say why, to the holder of the secret only (the hash matched or nothing did).
	err := tx.Where("token_hash = ?", hash).Take(&tok).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return tok, unauthorized("unknown enrollment token")
	case err != nil:
		return tok, fmt.Errorf("reading enrollment token: %w", err)
	case tok.RevokedAt != nil:
		return tok, unauthorized("this enrollment token was revoked")
	case !now.Before(tok.ExpiresAt):
		return tok, unauthorized("this enrollment token expired at %s", tok.ExpiresAt.UTC().Format(time.RFC3339))
	default:
		return tok, unauthorized("this enrollment token has been used its maximum of %s", humane.Plural(tok.MaxUses, "time", "times"))
	}
}
