// Package certcache is an autocert.Cache kept in the control plane
// (control.acme_cache), so every serve replica shares one ACME account, one
// certificate per hostname and the challenge tokens in flight.
package certcache

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/crypto/acme/autocert"
	"gorm.io/gorm"
)

// Cache stores autocert's entries in control.acme_cache.
type Cache struct {
	db *gorm.DB
}

var _ autocert.Cache = (*Cache)(nil)

// New returns a cache over the control-plane handle root.
func New(root *gorm.DB) *Cache { return &Cache{db: root} }

// entry is one row of control.acme_cache.
type entry struct {
	Data []byte
}

// Get returns the data stored under key, or autocert.ErrCacheMiss.
func (c *Cache) Get(ctx context.Context, key string) ([]byte, error) {
	var rows []entry
	err := c.db.WithContext(ctx).Raw(`SELECT data FROM control.acme_cache WHERE key = ?`, key).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("reading certificate cache entry %q: %w", key, err)
	}
	if len(rows) == 0 {
		return nil, autocert.ErrCacheMiss
	}
	return rows[0].Data, nil
}

// Put stores data under key, replacing what was there.
func (c *Cache) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return errors.New("certificate cache: empty key")
	}
	if data == nil {
		data = []byte{} // the column is NOT NULL; autocert never stores nil, but an empty value is still a value
	}
	err := c.db.WithContext(ctx).Exec(`INSERT INTO control.acme_cache (key, data) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET data = EXCLUDED.data, updated_at = now()`, key, data).Error
	if err != nil {
		return fmt.Errorf("writing certificate cache entry %q: %w", key, err)
	}
	return nil
}

// ForgetHost removes every certificate stored for host (autocert keeps an
// ECDSA one under the bare name and an RSA one under "<host>+rsa"), so a
// removed domain's certificate is neither served from the cache nor renewed
// by a replica that starts later.
func (c *Cache) ForgetHost(ctx context.Context, host string) error {
	if err := c.db.WithContext(ctx).Exec(`DELETE FROM control.acme_cache WHERE key IN (?, ?)`, host, host+"+rsa").Error; err != nil {
		return fmt.Errorf("forgetting the certificates of %s: %w", host, err)
	}
	return nil
}

// Delete removes key; a missing key is not an error.
func (c *Cache) Delete(ctx context.Context, key string) error {
	if err := c.db.WithContext(ctx).Exec(`DELETE FROM control.acme_cache WHERE key = ?`, key).Error; err != nil {
		return fmt.Errorf("deleting certificate cache entry %q: %w", key, err)
	}
	return nil
}
