package tenants

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// keyPrefix marks Switchboard API keys so secret scanners can find leaked ones.
const keyPrefix = "sbk_"

// CreateAPIKey issues a new API key for the tenant. The plaintext is returned
// once; only its SHA-256 is stored (the key has 160 random bits, so a fast
// hash is enough — there is nothing to brute-force).
func (s *Service) CreateAPIKey(ctx context.Context, slug, name string) (APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return APIKey{}, "", invalid("API key name must be 1-100 characters")
	}
	t, err := s.Get(ctx, slug)
	if err != nil {
		return APIKey{}, "", err
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return APIKey{}, "", fmt.Errorf("generating API key: %w", err)
	}
	plain := keyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	k := APIKey{TenantID: t.ID, Name: name, Prefix: plain[:len(keyPrefix)+6], KeyHash: hashKey(plain)}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Select("TenantID", "Name", "Prefix", "KeyHash").Create(&k).Error; err != nil {
			return fmt.Errorf("storing API key: %w", err)
		}
		return audit.RecordPlatform(ctx, tx, "apikey.created", slug, fmt.Sprintf("%s (%s)", name, k.Prefix))
	})
	if err != nil {
		return APIKey{}, "", err
	}
	s.log.InfoContext(ctx, "api key created", "tenant", slug, "key", k.Prefix)
	return k, plain, nil
}

// ErrAPIKeyRevoked is RevokeAPIKey's answer for a key of the tenant that was
// revoked before: there is no live key, as for an unknown prefix, but the
// key is dead, which a form may say (revoking twice is harmless).
var ErrAPIKeyRevoked = fault.Kind(fault.NotFound, "API key already revoked")

// RevokeAPIKey revokes the tenant's key whose prefix (as listed) matches. A
// prefix that names no key of this tenant, another tenant's included, is
// ErrNotFound, and a key revoked before is ErrAPIKeyRevoked, so nobody is
// told a key was just revoked while it still works or never existed.
func (s *Service) RevokeAPIKey(ctx context.Context, slug, prefix string) error {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return err
	}
	return s.root(ctx).Transaction(func(tx *gorm.DB) error {
		var states []bool // revoked, per key of this tenant with the prefix
		if err := tx.Raw(`SELECT revoked_at IS NOT NULL FROM control.api_keys WHERE tenant_id = ? AND prefix = ? FOR UPDATE`,
			t.ID, prefix).Scan(&states).Error; err != nil {
			return fmt.Errorf("finding API key: %w", err)
		}
		if len(states) == 0 {
			return fault.Newf(ErrNotFound, "no live API key %q for %s", prefix, slug)
		}
		res := tx.Exec(`UPDATE control.api_keys SET revoked_at = now() WHERE tenant_id = ? AND prefix = ? AND revoked_at IS NULL`, t.ID, prefix)
		if res.Error != nil {
			return fmt.Errorf("revoking API key: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrAPIKeyRevoked, "no live API key %q for %s", prefix, slug)
		}
		return audit.RecordPlatform(ctx, tx, "apikey.revoked", slug, prefix)
	})
}

// ListAPIKeys lists a tenant's keys (never their secrets).
func (s *Service) ListAPIKeys(ctx context.Context, slug string) ([]APIKey, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	var keys []APIKey
	if err := s.root(ctx).Where("tenant_id = ?", t.ID).Order("id").Find(&keys).Error; err != nil {
		return nil, fmt.Errorf("listing API keys: %w", err)
	}
	return keys, nil
}

// useAPIKey returns the tenant id of a live key and stamps its last use, at
// most once a minute (as staff tokens do): a lookup is then a read, and
// replicas whose resolver caches expire together do not queue on the row.
func (s *Service) useAPIKey(ctx context.Context, plain string) (int64, error) {
	if !strings.HasPrefix(plain, keyPrefix) || len(plain) > 100 {
		return 0, tenancy.ErrUnknownTenant
	}
	var keys []struct {
		TenantID   int64
		LastUsedAt *time.Time
	}
	hash := hashKey(plain)
	if err := s.root(ctx).Raw(`SELECT tenant_id, last_used_at FROM control.api_keys WHERE key_hash = ? AND revoked_at IS NULL`, hash).
		Scan(&keys).Error; err != nil {
		return 0, fmt.Errorf("checking API key: %w", err)
	}
	if len(keys) == 0 {
		return 0, tenancy.ErrUnknownTenant
	}
	if k := keys[0]; k.LastUsedAt == nil || time.Since(*k.LastUsedAt) >= keyUseGranularity {
		// The condition repeats in SQL so concurrent requests write once.
		if err := s.root(ctx).Exec(`UPDATE control.api_keys SET last_used_at = now()
			WHERE key_hash = ? AND (last_used_at IS NULL OR last_used_at <= now() - make_interval(secs => ?))`,
			hash, keyUseGranularity.Seconds()).Error; err != nil {
			s.log.WarnContext(ctx, "recording API key use", "err", err)
		}
	}
	return keys[0].TenantID, nil
}

// keyUseGranularity: a key's last use is written at most this often.
const keyUseGranularity = time.Minute

func hashKey(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}
