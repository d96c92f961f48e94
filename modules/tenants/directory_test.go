package tenants

import (
	"context"
	"errors"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/platform/tenancy"
)

func TestDirectoryLookups(t *testing.T) {
	ctx := context.Background()
	s, _ := openService(t, db.Tenant())
	slug := uniqueSlug("dir")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Dir", Domain: "portal." + slug + ".example", TrustDomain: true})
	if err != nil {
		t.Fatal(err)
	}
	key, err := s.APIKeyCreate(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	d := s.Directory()
	cases := []struct {
		name   string
		lookup func() (tenancy.Tenant, error)
		want   int64 // 0: unknown
	}{
		{"slug", func() (tenancy.Tenant, error) { return d.BySlug(ctx, slug) }, tn.ID},
		{"unknown slug", func() (tenancy.Tenant, error) { return d.BySlug(ctx, "no-such-tenant") }, 0},
		{"invalid slug", func() (tenancy.Tenant, error) { return d.BySlug(ctx, "../etc") }, 0},
		{"host", func() (tenancy.Tenant, error) { return d.ByHost(ctx, "portal."+slug+".example") }, tn.ID},
		{"host any case", func() (tenancy.Tenant, error) { return d.ByHost(ctx, "PORTAL."+slug+".EXAMPLE.") }, tn.ID},
		{"unknown host", func() (tenancy.Tenant, error) { return d.ByHost(ctx, "nobody.example") }, 0},
		{"api key", func() (tenancy.Tenant, error) { return d.ByAPIKey(ctx, key) }, tn.ID},
		{"wrong api key", func() (tenancy.Tenant, error) { return d.ByAPIKey(ctx, key+"x") }, 0},
		{"not a key", func() (tenancy.Tenant, error) { return d.ByAPIKey(ctx, "hello") }, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.lookup()
			if tc.want == 0 {
				if !errors.Is(err, tenancy.ErrUnknownTenant) {
					t.Fatalf("want ErrUnknownTenant, got %+v %v", got, err)
				}
				return
			}
			if err != nil || got.ID != tc.want || !got.Bound() {
				t.Fatalf("got %+v %v, want id %d bound", got, err, tc.want)
			}
		})
	}
	keys, err := s.ListAPIKeys(ctx, slug)
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil {
		t.Fatalf("last use not recorded: %+v %v", keys, err)
	}

	// Last use is written at most once a minute: a busy sender's requests
	// read the key's row and do not queue on it.
	lastUse := func() time.Time {
		t.Helper()
		keys, err := s.ListAPIKeys(ctx, slug)
		if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil {
			t.Fatalf("keys: %+v %v", keys, err)
		}
		return *keys[0].LastUsedAt
	}
	first := lastUse()
	if _, err := d.ByAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if again := lastUse(); !again.Equal(first) {
		t.Errorf("a use within the minute rewrote last use: %s, then %s", first, again)
	}
	if err := s.root(ctx).Exec(`UPDATE control.api_keys SET last_used_at = last_used_at - interval '2 minutes' WHERE tenant_id = ?`, tn.ID).Error; err != nil {
		t.Fatal(err)
	}
	if _, err := d.ByAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if later := lastUse(); !later.After(first) {
		t.Errorf("a use two minutes on left last use at %s (first %s)", later, first)
	}
}

// A change made through the control plane reaches a resolver's cache through
// LISTEN/NOTIFY, as it would on every replica.
func TestResolverCacheFollowsControlPlaneChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, cluster := openService(t, db.Tenant())
	slug := uniqueSlug("cache")
	if _, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Cache"}); err != nil {
		t.Fatal(err)
	}
	key, err := s.APIKeyCreate(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	r := tenancy.NewResolver(s.Directory(), s.TargetVersion(), nil)
	ready := make(chan struct{})
	go cluster.Listen(ctx, tenancy.ChangeChannel, func(string) { r.Invalidate() }, ready)
	<-ready

	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("cache did not follow: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got, err := r.BySlug(ctx, slug); err != nil || got.Status != tenancy.StatusActive {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := s.Suspend(ctx, slug); err != nil {
		t.Fatal(err)
	}
	eventually("suspension", func() bool { got, _ := r.BySlug(ctx, slug); return got.Status == tenancy.StatusSuspended })

	if _, err := r.ByAPIKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	keys, _ := s.ListAPIKeys(ctx, slug)
	if err := s.RevokeAPIKey(ctx, slug, keys[0].Prefix); err != nil {
		t.Fatal(err)
	}
	eventually("key revocation", func() bool { _, err := r.ByAPIKey(ctx, key); return errors.Is(err, tenancy.ErrUnknownTenant) })

	if err := s.Delete(ctx, slug, slug); err != nil {
		t.Fatal(err)
	}
	eventually("deletion", func() bool { _, err := r.BySlug(ctx, slug); return errors.Is(err, tenancy.ErrUnknownTenant) })
}
