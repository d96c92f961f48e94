package identity

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"switchboard/platform/fault"
)

func TestTokenLifecycle(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	tn, _ := e.newTenant(t, "tok")
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("tok"), Role: RoleTechnician})

	tok, plain, err := e.svc.CreateToken(ctx, u.Email, TokenInput{Name: "psa", Scopes: []string{ScopeAlertsRead, ScopeAlertsRead}, Clients: []string{tn.Slug}, Lifetime: 90 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) < 30 || !strings.HasPrefix(plain, tok.Prefix) {
		t.Fatalf("secret %q, prefix %q", plain, tok.Prefix)
	}
	if len(tok.Scopes) != 1 || !tok.Covers(tn.ID) || tok.Covers(tn.ID+1000) {
		t.Fatalf("token %+v", tok)
	}
	// Only the hash is stored.
	var stored int
	if err := e.cluster.ControlDB().Raw(`SELECT count(*) FROM control.staff_api_tokens WHERE token_hash = ? OR prefix = ?`, []byte(plain), plain).Scan(&stored).Error; err != nil || stored != 0 {
		t.Fatalf("plaintext found in the table: %d %v", stored, err)
	}

	now := time.Now()
	got, user, err := e.svc.AuthenticateToken(ctx, plain, now)
	if err != nil || got.ID != tok.ID || user.ID != u.ID {
		t.Fatalf("authenticate: %+v %+v %v", got, user, err)
	}
	list, err := e.svc.ListTokens(ctx, u.Email)
	if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || len(list[0].Clients) != 1 || list[0].Clients[0] != tn.Slug {
		t.Fatalf("list after use: %+v %v", list, err)
	}
	first := *list[0].LastUsedAt
	// Within a minute: no write. After a minute: one.
	if _, _, err := e.svc.AuthenticateToken(ctx, plain, now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	list, _ = e.svc.ListTokens(ctx, u.Email)
	if !list[0].LastUsedAt.Equal(first) {
		t.Fatalf("last use rewritten within a minute: %v then %v", first, list[0].LastUsedAt)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, _ = e.svc.ListTokens(ctx, u.Email)
	if !list[0].LastUsedAt.After(first) {
		t.Fatalf("last use not recorded after a minute: %v", list[0].LastUsedAt)
	}

	for name, tc := range map[string]struct {
		plain string
		at    time.Time
	}{
		"expired":   {plain, now.Add(91 * 24 * time.Hour)},
		"unknown":   {TokenPrefix + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", now},
		"not a sbt": {"sbk_abc", now},
	} {
		if _, _, err := e.svc.AuthenticateToken(ctx, tc.plain, tc.at); !errors.Is(err, ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}

	// A disabled user's tokens stop; re-enabled, they work again.
	if _, err := e.svc.SetStaffDisabled(ctx, u.Email, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain, now); !errors.Is(err, ErrBadToken) {
		t.Fatalf("disabled user's token: %v", err)
	}
	if _, err := e.svc.SetStaffDisabled(ctx, u.Email, false); err != nil {
		t.Fatal(err)
	}

	// Revoking: another user's id is not found; twice is harmless.
	other, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("tok-other"), Role: RoleTechnician})
	if err := e.svc.RevokeToken(ctx, other.Email, tok.ID); !errors.Is(err, fault.NotFound) {
		t.Fatalf("revoking another user's token: %v", err)
	}
	for range 2 {
		if err := e.svc.RevokeToken(ctx, u.Email, tok.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := e.svc.AuthenticateToken(ctx, plain, now); !errors.Is(err, ErrBadToken) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestCreateTokenRejectsBadInput(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("tokbad"), Role: RoleAdmin})
	good := TokenInput{Name: "ok", Scopes: []string{ScopeClientsRead}, Lifetime: time.Hour}
	for name, change := range map[string]func(*TokenInput){
		"no name":         func(in *TokenInput) { in.Name = " " },
		"long name":       func(in *TokenInput) { in.Name = strings.Repeat("n", 101) },
		"no scope":        func(in *TokenInput) { in.Scopes = nil },
		"unknown scope":   func(in *TokenInput) { in.Scopes = []string{"admin:all"} },
		"no expiry":       func(in *TokenInput) { in.Lifetime = 0 },
		"too long":        func(in *TokenInput) { in.Lifetime = MaxTokenLifetime + time.Hour },
		"unknown client":  func(in *TokenInput) { in.Clients = []string{"no-such-client-xyz"} },
		"newline in name": func(in *TokenInput) { in.Name = "a\nb" },
	} {
		in := good
		change(&in)
		if _, _, err := e.svc.CreateToken(ctx, u.Email, in); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: %v, want invalid", name, err)
		}
	}
	if _, _, err := e.svc.CreateToken(ctx, "nobody@example.com", good); !errors.Is(err, fault.NotFound) {
		t.Errorf("unknown user: %v", err)
	}
	if list, err := e.svc.ListTokens(ctx, u.Email); err != nil || len(list) != 0 {
		t.Fatalf("refusals wrote tokens: %+v %v", list, err)
	}
}

func TestParseLifetime(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "12h": 12 * time.Hour, "1d": 24 * time.Hour} {
		if got, err := ParseLifetime(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "0d", "-1d", "d", "1.5d", "forever", "-2h", "01d"} {
		if _, err := ParseLifetime(bad); !errors.Is(err, fault.Invalid) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}
