package agents

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

func TestTokenLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	tn := f.tenant(t)

	plain, tok, err := f.agents.CreateToken(ctx, tn, " office laptops ", 24*time.Hour, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, fmt.Sprintf("sbe_%d_", tn.ID)) || !strings.HasPrefix(plain, tok.Prefix) || len(plain) <= len(tok.Prefix) {
		t.Fatalf("token %q, prefix %q", plain, tok.Prefix)
	}
	if tok.Name != "office laptops" || tok.MaxUses != 10 || tok.CreatedBy != "tech@msp.example" || !tok.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Fatalf("record %+v", tok)
	}
	// Only the hash is stored.
	if n := count(t, tn, `SELECT count(*) FROM enrollment_tokens WHERE token_hash = ?`, hashSecret(plain)); n != 1 {
		t.Fatalf("stored hash rows: %d", n)
	}

	list, err := f.agents.ListTokens(ctx, tn)
	if err != nil || len(list) != 1 || list[0].ID != tok.ID || !list[0].Usable(t0) {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := f.agents.RevokeToken(ctx, tn, tok.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.agents.RevokeToken(ctx, tn, tok.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revoke: %v", err)
	}
	list, _ = f.agents.ListTokens(ctx, tn)
	if list[0].RevokedAt == nil || list[0].Usable(t0) {
		t.Fatalf("after revoke %+v", list[0])
	}
	if n := count(t, tn, `SELECT count(*) FROM audit_log WHERE action IN ('enrollment_token.created', 'enrollment_token.revoked') AND actor = 'tech@msp.example'`); n != 2 {
		t.Fatalf("audit entries: %d", n)
	}

	for name, in := range map[string]struct {
		name string
		ttl  time.Duration
		uses int
	}{
		"no name":      {"  ", time.Hour, 1},
		"long name":    {strings.Repeat("x", 101), time.Hour, 1},
		"short ttl":    {"x", time.Second, 1},
		"long ttl":     {"x", 400 * 24 * time.Hour, 1},
		"zero uses":    {"x", time.Hour, 0},
		"endless uses": {"x", time.Hour, maxTokenUses + 1},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := f.agents.CreateToken(ctx, tn, in.name, in.ttl, in.uses); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

func TestEnroll(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn, other := f.tenant(t), f.tenant(t)

	newToken := func(t *testing.T, tn tenancy.Tenant, ttl time.Duration, uses int) (string, EnrollmentToken) {
		t.Helper()
		plain, tok, err := f.agents.CreateToken(ctx, tn, "t", ttl, uses)
		if err != nil {
			t.Fatal(err)
		}
		return plain, tok
	}

	t.Run("new endpoint, then the same hostname again", func(t *testing.T) {
		plain, _ := newToken(t, tn, time.Hour, 2)
		first, err := f.agents.Enroll(ctx, plain, "web1", "Ubuntu 24.04")
		if err != nil {
			t.Fatal(err)
		}
		if first.Reenrolled || first.CheckInInterval != time.Minute || !strings.HasPrefix(first.Credential, fmt.Sprintf("sbc_%d_%d_", tn.ID, first.EndpointID)) {
			t.Fatalf("enrollment %+v", first)
		}
		f.checkIn(t, first.Credential, report("web1"))
		again, err := f.agents.Enroll(ctx, plain, "web1", "Ubuntu 24.10")
		if err != nil {
			t.Fatal(err)
		}
		if !again.Reenrolled || again.EndpointID != first.EndpointID || again.Credential == first.Credential {
			t.Fatalf("re-enrollment %+v (first %+v)", again, first)
		}
		// The old credential stopped working; the new one works.
		if _, err := f.agents.CheckIn(ctx, first.Credential, report("web1")); !errors.Is(err, ErrUnauthorized) {
			t.Fatalf("old credential: %v", err)
		}
		f.checkIn(t, again.Credential, report("web1"))
		if n := count(t, tn, `SELECT count(*) FROM endpoints WHERE hostname = 'web1'`); n != 1 {
			t.Fatalf("%d endpoints named web1", n)
		}
		if n := count(t, tn, `SELECT count(*) FROM audit_log WHERE action IN ('endpoint.enrolled', 'endpoint.reenrolled') AND target = 'web1'`); n != 2 {
			t.Fatalf("audit entries: %d", n)
		}
	})

	expired, _ := newToken(t, tn, time.Hour, 5)
	revoked, revokedTok := newToken(t, tn, time.Hour, 5)
	if err := f.agents.RevokeToken(ctx, tn, revokedTok.ID); err != nil {
		t.Fatal(err)
	}
	used, _ := newToken(t, tn, time.Hour, 1)
	if _, err := f.agents.Enroll(ctx, used, "used-1", "linux"); err != nil {
		t.Fatal(err)
	}
	foreign, _ := newToken(t, other, time.Hour, 5)
	_, foreignSecret, _ := parseToken(foreign)
	guessed, _ := newSecret()

	cases := []struct {
		name, token, host string
		advance           time.Duration
		want              error
		msg               string
	}{
		{"expired", expired, "a1", 2 * time.Hour, ErrUnauthorized, "expired"},
		{"revoked", revoked, "a2", 0, ErrUnauthorized, "revoked"},
		{"used up", used, "a3", 0, ErrUnauthorized, "maximum of 1"},
		{"unknown secret", formatToken(tn.ID, guessed), "a4", 0, ErrUnauthorized, "unknown"},
		{"another tenant's secret", formatToken(tn.ID, foreignSecret), "a5", 0, ErrUnauthorized, "unknown"},
		{"no such tenant", formatToken(999999, guessed), "a6", 0, ErrUnauthorized, "unknown"},
		{"malformed", "sbe_x_y", "a7", 0, ErrUnauthorized, "unknown"},
		{"empty", "", "a8", 0, ErrUnauthorized, "unknown"},
		{"bad hostname", expired, "has space", 0, ErrInvalid, "hostname"},
		{"empty hostname", expired, " ", 0, ErrInvalid, "hostname"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f.clock.Set(t0.Add(tc.advance))
			t.Cleanup(func() { f.clock.Set(t0) })
			_, err := f.agents.Enroll(ctx, tc.token, tc.host, "linux")
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("want %v mentioning %q, got %v", tc.want, tc.msg, err)
			}
			if n := count(t, tn, `SELECT count(*) FROM endpoints WHERE hostname = ?`, tc.host); n != 0 {
				t.Fatalf("a refused enrollment stored endpoint %s", tc.host)
			}
		})
	}
	if n := count(t, tn, `SELECT coalesce(sum(uses), 0) FROM enrollment_tokens WHERE id = ?`, revokedTok.ID); n != 0 {
		t.Fatalf("a revoked token was counted as used: %d", n)
	}
}

func TestEnrollConcurrentMaxUses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	plain, tok, err := f.agents.CreateToken(ctx, tn, "five", time.Hour, 5)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.agents.Enroll(ctx, plain, fmt.Sprintf("host-%02d", i), "linux")
		}()
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrUnauthorized):
			t.Errorf("unexpected error: %v", err)
		}
	}
	if ok != tok.MaxUses {
		t.Fatalf("%d enrollments succeeded, want exactly %d", ok, tok.MaxUses)
	}
	if uses := count(t, tn, `SELECT uses FROM enrollment_tokens WHERE id = ?`, tok.ID); uses != 5 {
		t.Fatalf("uses = %d", uses)
	}
	if eps := count(t, tn, `SELECT count(*) FROM endpoints`); eps != 5 {
		t.Fatalf("endpoints = %d", eps)
	}
}

func TestSuspendedTenantIsRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	en := f.enroll(t, tn, "web1")
	if _, err := f.tenants.Suspend(ctx, tn.Slug); err != nil {
		t.Fatal(err)
	}
	f.agents.Invalidate()
	if _, err := f.agents.CheckIn(ctx, en.Credential, report("web1")); !errors.Is(err, ErrSuspended) {
		t.Fatalf("suspended tenant's check-in: %v", err)
	}
	// A made-up credential naming the suspended client (a wrong secret, an
	// endpoint that does not exist) is told what an unknown client's is.
	tenantID, endpointID, _, _ := parseCredential(en.Credential)
	for name, cred := range map[string]string{
		"wrong secret":     fmt.Sprintf("%s%d_%d_%s", credentialPrefix, tenantID, endpointID, strings.Repeat("a", secretLen)),
		"unknown endpoint": fmt.Sprintf("%s%d_%d_%s", credentialPrefix, tenantID, endpointID+1000, strings.Repeat("a", secretLen)),
		"unknown client":   fmt.Sprintf("%s%d_%d_%s", credentialPrefix, tenantID+100000, endpointID, strings.Repeat("a", secretLen)),
	} {
		_, err := f.agents.CheckIn(ctx, cred, report("web1"))
		if errors.Is(err, ErrSuspended) || !errors.Is(err, ErrUnauthorized) {
			t.Errorf("%s: err = %v, want the unknown client's answer", name, err)
		}
	}
	if _, err := f.tenants.Resume(ctx, tn.Slug); err != nil {
		t.Fatal(err)
	}
	f.agents.Invalidate()
	f.checkIn(t, en.Credential, report("web1"))
}

// A credential names its tenant and endpoint; changing the tenant id to
// another tenant's (where an endpoint with the same id exists) must not
// let it check in there.
func TestCredentialCannotCrossTenants(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	a, b := f.tenant(t), f.tenant(t)
	ea := f.enroll(t, a, "shared-name")
	eb := f.enroll(t, b, "shared-name")
	if ea.EndpointID != eb.EndpointID {
		t.Fatalf("expected the same endpoint id in both schemas, got %d and %d", ea.EndpointID, eb.EndpointID)
	}
	_, _, secretA, _ := parseCredential(ea.Credential)
	forged := formatCredential(b.ID, eb.EndpointID, secretA)
	if _, err := f.agents.CheckIn(ctx, forged, report("shared-name")); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("tenant A's secret checked in as tenant B: %v", err)
	}
	if n := count(t, b, `SELECT count(*) FROM endpoint_metrics`); n != 0 {
		t.Fatalf("tenant B got %d metric rows from a forged credential", n)
	}
	for _, bad := range []string{"", "sbc_1_1", "sbc_01_1_" + secretA, ea.Credential + "x", strings.Replace(ea.Credential, "sbc_", "sbe_", 1)} {
		if _, err := f.agents.CheckIn(ctx, bad, report("shared-name")); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("credential %q: %v", bad, err)
		}
	}
	f.checkIn(t, ea.Credential, report("shared-name"))
	f.checkIn(t, eb.Credential, report("shared-name"))
	var n int64
	_ = tenancy.Do(ctx, a, func(tx *gorm.DB) error { return tx.Raw(`SELECT count(*) FROM endpoint_metrics`).Scan(&n).Error })
	if n != 1 {
		t.Fatalf("tenant A has %d metric rows, want 1", n)
	}
}
