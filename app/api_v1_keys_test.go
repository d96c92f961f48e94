package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStaffAPIClientKeys: a client's API keys and enrollment tokens on the
// staff API — secrets shown once, never listed; bad input writes nothing.
func TestStaffAPIClientKeys(t *testing.T) {
	f := newAPIFixture(t, "apikeys")
	ctx := context.Background()
	a, b := "/api/v1/clients/"+f.alpha.Slug, "/api/v1/clients/"+f.beta.Slug
	var secret, prefix, token, tokenID string
	f.run(t, []apiScenario{
		// API keys: owner (admin of every client) only.
		{name: "no keys yet", token: "owner", method: "GET", path: a + "/api-keys", status: 200, contains: []string{`"items":[]`}},
		{name: "key without name", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":"  "}`, status: 400, contains: []string{"1-100 characters"}},
		{name: "key name too long", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":"` + strings.Repeat("k", 101) + `"}`, status: 400},
		{name: "key unknown field", token: "owner", method: "POST", path: a + "/api-keys", body: `{"nmae":"x"}`, status: 400},
		{name: "key body not JSON", token: "owner", method: "POST", path: a + "/api-keys", body: `name=x`, status: 400},
		{name: "key without write scope", token: "owner-read", method: "POST", path: a + "/api-keys", body: `{"name":"rmm"}`, status: 403, contains: []string{"clients:write"}},
		{name: "keys list without write scope", token: "owner-read", method: "GET", path: a + "/api-keys", status: 403},
		{name: "technician is no client admin", token: "tech", method: "POST", path: a + "/api-keys", body: `{"name":"rmm"}`, status: 403},
		{name: "technician of another client", token: "tech", method: "GET", path: b + "/api-keys", status: 404},
		{name: "client outside the token's list", token: "owner-beta", method: "POST", path: a + "/api-keys", body: `{"name":"rmm"}`, status: 404},
		{name: "create key", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":"rmm"}`, status: 201, contains: []string{`"name":"rmm"`, `"secret":"sbk_`},
			after: func(t *testing.T, body string, _ http.Header) {
				var k struct {
					Prefix, Secret string
					CreatedAt      time.Time `json:"created_at"`
				}
				if err := json.Unmarshal([]byte(body), &k); err != nil || !strings.HasPrefix(k.Secret, k.Prefix) || k.Prefix == "" || k.CreatedAt.IsZero() {
					t.Fatalf("created key %s", body)
				}
				secret, prefix = k.Secret, k.Prefix
			}},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "list keys without secrets", token: "owner", method: "GET", path: a + "/api-keys", status: 200, contains: []string{prefix, `"name":"rmm"`}, lacks: []string{secret, "secret", "hash"}},
		{name: "technician may not revoke", token: "tech", method: "DELETE", path: a + "/api-keys/" + prefix, status: 403},
		{name: "revoke key", token: "owner", method: "DELETE", path: a + "/api-keys/" + prefix, status: 204},
		{name: "revoke key again", token: "owner", method: "DELETE", path: a + "/api-keys/" + prefix, status: 404, contains: []string{"No live API key"}},
		{name: "revoke unknown key", token: "owner", method: "DELETE", path: a + "/api-keys/sbk_nokey", status: 404},
		{name: "revoke via another client", token: "owner", method: "DELETE", path: b + "/api-keys/" + prefix, status: 404},
		{name: "revoked key listed as revoked", token: "owner", method: "GET", path: a + "/api-keys", status: 200, contains: []string{`"revoked_at"`}},

		// Enrollment tokens: whoever may manage the client.
		{name: "no tokens yet", token: "tech", method: "GET", path: a + "/enrollment-tokens", status: 200, contains: []string{`"items":[]`}},
		{name: "list tokens with read scope", token: "owner-read", method: "GET", path: a + "/enrollment-tokens", status: 200},
		{name: "token without write scope", token: "owner-read", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"24h","max_uses":5}`, status: 403, contains: []string{"clients:write"}},
		{name: "token bad ttl", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"forever","max_uses":5}`, status: 400, contains: []string{"24h"}},
		{name: "token ttl too short", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"1s","max_uses":5}`, status: 400},
		{name: "token no uses", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"24h","max_uses":0}`, status: 400, contains: []string{"Maximum uses"}},
		{name: "token uses as text", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"24h","max_uses":"5"}`, status: 400},
		{name: "token without name", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"","ttl":"24h","max_uses":5}`, status: 400},
		{name: "token for another client", token: "tech", method: "POST", path: b + "/enrollment-tokens", body: `{"name":"laptops","ttl":"24h","max_uses":5}`, status: 404},
		{name: "create token", token: "tech", method: "POST", path: a + "/enrollment-tokens", body: `{"name":"laptops","ttl":"24h","max_uses":5}`, status: 201,
			contains: []string{`"name":"laptops"`, `"max_uses":5`, `"uses":0`, `"created_by":"` + f.tech.Email + `"`},
			after: func(t *testing.T, body string, _ http.Header) {
				var tk struct {
					ID    int64
					Token string
				}
				if err := json.Unmarshal([]byte(body), &tk); err != nil || tk.ID == 0 || tk.Token == "" {
					t.Fatalf("created token %s", body)
				}
				token, tokenID = tk.Token, strconv.FormatInt(tk.ID, 10)
			}},
	})
	if t.Failed() {
		return
	}
	tokens := a + "/enrollment-tokens/"
	f.run(t, []apiScenario{
		{name: "list tokens without secrets", token: "tech", method: "GET", path: a + "/enrollment-tokens", status: 200, contains: []string{`"name":"laptops"`}, lacks: []string{token, `"token"`, "hash"}},
		{name: "revoke token of another client", token: "owner", method: "DELETE", path: b + "/enrollment-tokens/" + tokenID, status: 404},
		{name: "revoke token without scope", token: "owner-read", method: "DELETE", path: tokens + tokenID, status: 403},
		{name: "revoke token", token: "tech", method: "DELETE", path: tokens + tokenID, status: 204},
		{name: "revoke token again", token: "tech", method: "DELETE", path: tokens + tokenID, status: 404},
		{name: "revoke non-numeric token", token: "tech", method: "DELETE", path: tokens + "abc", status: 404},
		{name: "revoked token listed as revoked", token: "tech", method: "GET", path: a + "/enrollment-tokens", status: 200, contains: []string{`"revoked_at"`}},
	})

	// Nothing was written by the refused requests: one key, one token.
	keys, err := f.e.tenants.ListAPIKeys(ctx, f.alpha.Slug)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Errorf("alpha has %d API keys, want 1: %+v", len(keys), keys)
	}
	if other, err := f.e.tenants.ListAPIKeys(ctx, f.beta.Slug); err != nil || len(other) != 0 {
		t.Errorf("beta's API keys: %+v %v", other, err)
	}
	list, err := f.e.agents.ListTokens(ctx, f.e.tenants.Scope(f.alpha))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].RevokedAt == nil {
		t.Errorf("alpha's enrollment tokens: %+v, want one, revoked", list)
	}
}
