package certcache

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/acme/autocert"
	"gorm.io/gorm"

	"switchboard/db/dbtest"
	"switchboard/platform/tenancy"
)

func TestGetPutDelete(t *testing.T) {
	cache, _ := openCache(t)
	ctx := context.Background()
	const key = "portal.get-put-delete.example"

	if _, err := cache.Get(ctx, key); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get of an absent key: got %v, want autocert.ErrCacheMiss", err)
	}
	// Binary data with a NUL and bytes that are not UTF-8 must come back unchanged.
	first := []byte("-----BEGIN EC PRIVATE KEY-----\x00\xff\xfe")
	if err := cache.Put(ctx, key, first); err != nil {
		t.Fatal(err)
	}
	if got, err := cache.Get(ctx, key); err != nil || !bytes.Equal(got, first) {
		t.Fatalf("Get after Put = %q, %v; want %q", got, err, first)
	}
	second := []byte("renewed")
	if err := cache.Put(ctx, key, second); err != nil {
		t.Fatalf("Put over an existing key (upsert): %v", err)
	}
	if got, err := cache.Get(ctx, key); err != nil || !bytes.Equal(got, second) {
		t.Fatalf("Get after the second Put = %q, %v; want %q", got, err, second)
	}
	if err := cache.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Get(ctx, key); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get after Delete: got %v, want autocert.ErrCacheMiss", err)
	}
	if err := cache.Delete(ctx, key); err != nil {
		t.Fatalf("Delete of an absent key: %v", err)
	}
}

func TestPutRefreshesUpdatedAt(t *testing.T) {
	cache, c := openCache(t)
	ctx := context.Background()
	const key = "portal.updated-at.example"
	updatedAt := func() time.Time {
		var at time.Time
		if err := c.ControlDB().Raw(`SELECT updated_at FROM control.acme_cache WHERE key = ?`, key).Row().Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	if err := cache.Put(ctx, key, []byte("one")); err != nil {
		t.Fatal(err)
	}
	before := updatedAt()
	time.Sleep(10 * time.Millisecond)
	if err := cache.Put(ctx, key, []byte("two")); err != nil {
		t.Fatal(err)
	}
	if after := updatedAt(); !after.After(before) {
		t.Fatalf("updated_at did not move on upsert: %v then %v", before, after)
	}
}

// Two caches over two pools (two replicas) see each other's writes at once.
func TestSharedBetweenReplicas(t *testing.T) {
	a, _ := openCache(t)
	b, _ := openCache(t)
	ctx := context.Background()
	const key = "acme_account+key"
	if err := a.Put(ctx, key, []byte("account")); err != nil {
		t.Fatal(err)
	}
	if got, err := b.Get(ctx, key); err != nil || string(got) != "account" {
		t.Fatalf("replica b read %q, %v; want what replica a wrote", got, err)
	}
	if err := b.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, key); !errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("replica a after b deleted: %v, want a miss", err)
	}
}

func TestEmptyKeyRefused(t *testing.T) {
	cache, _ := openCache(t)
	if err := cache.Put(context.Background(), "", []byte("x")); err == nil {
		t.Fatal("Put with an empty key succeeded")
	}
}

// Errors other than a miss are reported as errors, never as a miss (a miss
// would make autocert order a new certificate whenever the database hiccups).
func TestDatabaseErrorIsNotAMiss(t *testing.T) {
	cache, c := openCache(t)
	_ = c.Close()
	_, err := cache.Get(context.Background(), "anything")
	if err == nil || errors.Is(err, autocert.ErrCacheMiss) {
		t.Fatalf("Get on a closed pool: got %v, want an error that is not a miss", err)
	}
}

// Tenant roles (members of PUBLIC) cannot read the private keys.
func TestTenantRolesCannotRead(t *testing.T) {
	cache, c := openCache(t)
	ctx := context.Background()
	if err := cache.Put(ctx, "portal.secret.example", []byte("private key")); err != nil {
		t.Fatal(err)
	}
	tn := dbtest.NewSchema(t, c, nil)
	err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		var n int
		return tx.Raw(`SELECT count(*) FROM control.acme_cache`).Row().Scan(&n)
	})
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("a tenant role reading control.acme_cache: got %v, want permission denied", err)
	}
}

// TestForgetHost drops both of a host's certificates and nothing else.
func TestForgetHost(t *testing.T) {
	cache, _ := openCache(t)
	ctx := context.Background()
	const host = "portal.forget.example"
	keys := []string{host, host + "+rsa", "other." + host, "acme_account+key"}
	for _, k := range keys {
		if err := cache.Put(ctx, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	if err := cache.ForgetHost(ctx, host); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		_, err := cache.Get(ctx, k)
		if gone := errors.Is(err, autocert.ErrCacheMiss); gone != (i < 2) {
			t.Errorf("after ForgetHost(%s), %s gone = %v (%v)", host, k, gone, err)
		}
	}
}
