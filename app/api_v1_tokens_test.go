package main

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"switchboard/modules/identity"
)

var tokenSecret = regexp.MustCompile(`sbt_[a-z2-7]{32}`)

// TestAccountTokensPage: a staff user creates a token on their own page
// (secret shown once), uses it on the API, sees its last use, revokes it.
func TestAccountTokensPage(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	const pw = "tokens-password-1"
	u, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "tokpage@msp.example", Role: "admin", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login(u.Email, pw); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	if status, body := b.get("/account/tokens"); status != 200 || !strings.Contains(body, "No tokens yet") || !strings.Contains(body, `href="/account/tokens"`) {
		t.Fatalf("empty page: %d\n%s", status, body)
	}
	for name, form := range map[string]url.Values{
		"no scope":    {"name": {"x"}, "expires": {"30d"}},
		"bad expiry":  {"name": {"x"}, "scope": {"clients:read"}, "expires": {"forever"}},
		"too long":    {"name": {"x"}, "scope": {"clients:read"}, "expires": {"400d"}},
		"bad client":  {"name": {"x"}, "scope": {"clients:read"}, "expires": {"30d"}, "clients": {"no-such-client"}},
		"bad scope":   {"name": {"x"}, "scope": {"root"}, "expires": {"30d"}},
		"empty name:": {"name": {""}, "scope": {"clients:read"}, "expires": {"30d"}},
	} {
		if status, body, _ := b.do("POST", "/account/tokens", form); status != http.StatusUnprocessableEntity || tokenSecret.MatchString(body) {
			t.Errorf("%s: %d, want 422 without a token", name, status)
		}
	}
	status, body, _ := b.do("POST", "/account/tokens", url.Values{"name": {"psa-sync"}, "scope": {"clients:read", "alerts:read"}, "expires": {"90d"}})
	secret := tokenSecret.FindString(body)
	if status != 200 || secret == "" || !strings.Contains(body, "shown once") {
		t.Fatalf("create: %d\n%s", status, body)
	}
	if _, again := b.get("/account/tokens"); strings.Contains(again, secret) || !strings.Contains(again, "psa-sync") || !strings.Contains(again, `<td class="nowrap">—</td>`) {
		t.Fatalf("the list shows the secret again, or not the token:\n%s", again)
	}
	api := newAPIClient(t, ts)
	if status, body, _ := api.call(secret, "GET", "/api/v1/clients", "", nil); status != 200 {
		t.Fatalf("the new token on the API: %d %s", status, body)
	}
	if _, page := b.get("/account/tokens"); strings.Contains(page, `<td class="nowrap">—</td>`) {
		t.Errorf("last use not shown after a call:\n%s", page)
	}
	// Another user's token cannot be revoked from this page.
	other, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "tokpage-other@msp.example", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	ot, _, err := e.identity.CreateToken(ctx, other.Email, identity.TokenInput{Name: "theirs", Scopes: []string{"clients:read"}, Lifetime: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	if status, _, _ := b.do("POST", "/account/tokens/"+itoa(ot.ID)+"/revoke", nil); status != http.StatusNotFound {
		t.Fatalf("revoking another's token: %d, want 404 (it is none of yours)", status)
	}
	// Read back directly: asking the API with it would race the new
	// admin's grants reaching the authorizer.
	theirs, err := e.identity.ListTokens(ctx, other.Email)
	if err != nil || len(theirs) != 1 || theirs[0].RevokedAt != nil {
		t.Fatalf("another user's token after the attempt: %+v %v", theirs, err)
	}
	list, _ := e.identity.ListTokens(ctx, u.Email)
	if len(list) != 1 {
		t.Fatalf("tokens: %+v", list)
	}
	if status, _, hdr := b.do("POST", "/account/tokens/"+itoa(list[0].ID)+"/revoke", nil); status != http.StatusSeeOther || hdr.Get("Location") != "/account/tokens" {
		t.Fatalf("revoke: %d", status)
	}
	if _, page := b.get("/account/tokens"); !strings.Contains(page, "revoked") {
		t.Errorf("revoked token not marked:\n%s", page)
	}
	if status, _, _ := api.call(secret, "GET", "/api/v1/clients", "", nil); status != 401 {
		t.Fatalf("revoked token on the API: %d", status)
	}
}

// TestUserTokenCLI: create, list and revoke from the command line; bad
// input exits 2 and writes nothing.
func TestUserTokenCLI(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, out := runCLI(t, "user", "create", "--email", "tokcli@msp.example", "--role", "admin"); code != 0 {
		t.Fatalf("user create: %d %s", code, out)
	}
	bad := [][]string{
		{"user", "token", "create", "tokcli@msp.example", "--name", "x", "--scopes", "root", "--expires", "30d"},
		{"user", "token", "create", "tokcli@msp.example", "--name", "x", "--scopes", "clients:read", "--expires", "forever"},
		{"user", "token", "create", "tokcli@msp.example", "--name", "x", "--scopes", "clients:read", "--expires", "500d"},
		{"user", "token", "create", "tokcli@msp.example", "--name", "x", "--scopes", "clients:read"},
		{"user", "token", "create", "tokcli@msp.example", "--name", "x", "--scopes", "clients:read", "--expires", "30d", "--clients", "no-such-client"},
		{"user", "token", "create", "nobody@msp.example", "--name", "x", "--scopes", "clients:read", "--expires", "30d"},
		{"user", "token", "create", "--name", "x", "--scopes", "clients:read", "--expires", "30d"},
		{"user", "token", "revoke", "tokcli@msp.example", "abc"},
		{"user", "token", "revoke", "tokcli@msp.example", "999999"},
		{"user", "token", "list"},
	}
	for _, args := range bad {
		if code, out := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
	code, out := runCLI(t, "user", "token", "create", "tokcli@msp.example", "--name", "cli", "--scopes", "clients:read,alerts:write", "--expires", "90d")
	if code != 0 || !tokenSecret.MatchString(out) {
		t.Fatalf("create: %d %s", code, out)
	}
	code, out = runCLI(t, "user", "token", "list", "tokcli@msp.example")
	if code != 0 || !strings.Contains(out, "cli") || !strings.Contains(out, "clients:read,alerts:write") || !strings.Contains(out, "live") || strings.Count(out, "\n") != 2 {
		t.Fatalf("list: %d %s", code, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]
	if code, out := runCLI(t, "user", "token", "revoke", "tokcli@msp.example", id); code != 0 {
		t.Fatalf("revoke: %d %s", code, out)
	}
	if code, out := runCLI(t, "user", "token", "list", "tokcli@msp.example"); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke: %d %s", code, out)
	}
}
