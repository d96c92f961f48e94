package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/config"
	"switchboard/modules/identity"
)

// TestStaffAPIRateLimitPerToken: a token over limits.api_per_token gets 429
// with Retry-After as problem+json (validated against the document) and
// its request is not served; another token of the same user is unaffected;
// a bad token is refused (401) before it can spend anyone's bucket.
func TestStaffAPIRateLimitPerToken(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServerWith(t, func(cfg *config.Config) { cfg.Limits.APIPerToken = config.Rate{Rate: 1.0 / 3600, Burst: 2} })
	api := newAPIClient(t, ts)
	owner, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "apilimit-owner@msp.example", Role: "owner"})
	if err != nil {
		t.Fatal(err)
	}
	grants, err := e.identity.Grants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.consoleAuthz.SetGrants(grants); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		_, plain, err := e.identity.CreateToken(ctx, owner.Email, identity.TokenInput{Name: name, Scopes: []string{identity.ScopeClientsRead}, Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		return plain
	}
	busy, calm := token("busy"), token("calm")
	for i, tc := range []struct {
		token  string
		status int
		want   string
	}{
		{"sbt_not_a_token", http.StatusUnauthorized, "token"},
		{busy, http.StatusOK, `"items"`},
		{busy, http.StatusOK, `"items"`},
		{busy, http.StatusTooManyRequests, "limits.api_per_token"},
		{calm, http.StatusOK, `"items"`},
	} {
		status, body, hdr := api.call(tc.token, http.MethodGet, "/api/v1/clients", "", nil)
		if status != tc.status || !strings.Contains(body, tc.want) {
			t.Fatalf("request %d: %d %s, want %d with %q", i, status, body, tc.status, tc.want)
		}
		if status == http.StatusTooManyRequests && (hdr.Get("Retry-After") == "" || !strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json")) {
			t.Errorf("429 without Retry-After or problem+json: %v", hdr)
		}
	}
}
