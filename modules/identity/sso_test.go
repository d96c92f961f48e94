package identity

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestStaffGrantFromClaims: the provider's claims map to the highest role
// and a technician's clients; no role, or a technician without clients,
// is refused.
func TestStaffGrantFromClaims(t *testing.T) {
	cfg := StaffSSOConfig{RoleClaim: "groups", Roles: map[string]string{"owners": RoleOwner, "admins": RoleAdmin, "noc": RoleTechnician},
		GrantClaim: "teams", Grants: map[string][]string{"acme": {"acme"}, "both": {"acme", "borealis"}, "all": {"*"}}}
	for _, tc := range []struct {
		name    string
		claims  map[string]any
		role    string
		scope   string
		tenants []string
		refused string
	}{
		{"highest role wins", map[string]any{"groups": []any{"noc", "owners", "admins"}}, RoleOwner, ScopeAll, nil, ""},
		{"a single string claim", map[string]any{"groups": "admins"}, RoleAdmin, ScopeAll, nil, ""},
		{"technician of listed clients", map[string]any{"groups": []any{"noc"}, "teams": []any{"both", "acme"}}, RoleTechnician, ScopeList, []string{"acme", "borealis"}, ""},
		{"technician of every client", map[string]any{"groups": []any{"noc"}, "teams": []any{"acme", "all"}}, RoleTechnician, ScopeAll, nil, ""},
		{"no role", map[string]any{"groups": []any{"Owners"}}, "", "", nil, "no role"}, // values match exactly
		{"a technician without clients", map[string]any{"groups": []any{"noc"}}, "", "", nil, "no clients"},
		{"a claim of another type", map[string]any{"groups": 42}, "", "", nil, "no role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := cfg.staffGrant(ssoIdentity{Claims: tc.claims}, "x@msp.example")
			if tc.refused != "" {
				if !errors.Is(err, ErrSSOAccount) || !strings.Contains(err.Error(), tc.refused) {
					t.Fatalf("err %v, want a refusal saying %q", err, tc.refused)
				}
				return
			}
			if err != nil || in.Role != tc.role || in.Scope != tc.scope || !slices.Equal(in.Tenants, tc.tenants) {
				t.Fatalf("%+v %v, want %s %s %v", in, err, tc.role, tc.scope, tc.tenants)
			}
		})
	}
	if in, err := (StaffSSOConfig{}).staffGrant(ssoIdentity{Claims: map[string]any{"name": "Ann"}}, "x@msp.example"); err != nil || in.Role != "" || in.Name != "Ann" {
		t.Fatalf("without sso.roles: %+v %v, want no role (Switchboard's own)", in, err)
	}
}

// TestPortalSecretSealing: with a key, a secret is ciphertext that opens
// only for its own client; without one it is stored as given, and a sealed
// secret cannot be opened.
func TestPortalSecretSealing(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	keyed := NewService(nil, nil, nil, WithSSO(SSOOptions{SecretKey: key}))
	sealed, err := keyed.sealSecret(7, "s3cret")
	if err != nil || !strings.HasPrefix(sealed, sealedPrefix) || strings.Contains(sealed, "s3cret") {
		t.Fatalf("sealed %q (%v)", sealed, err)
	}
	if got, err := keyed.openSecret(7, sealed); err != nil || got != "s3cret" {
		t.Fatalf("opened %q (%v)", got, err)
	}
	if _, err := keyed.openSecret(8, sealed); err == nil {
		t.Fatal("a secret copied into another client's row opened")
	}
	other := NewService(nil, nil, nil, WithSSO(SSOOptions{SecretKey: []byte("fedcba9876543210fedcba9876543210")}))
	if _, err := other.openSecret(7, sealed); err == nil {
		t.Fatal("a secret opened with another key")
	}
	plain := NewService(nil, nil, nil)
	if stored, err := plain.sealSecret(7, "s3cret"); err != nil || stored != plainPrefix+"s3cret" {
		t.Fatalf("without a key: %q (%v)", stored, err)
	}
	if _, err := plain.openSecret(7, sealed); err == nil {
		t.Fatal("a sealed secret opened without the key")
	}
}
