package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestStaffAPIIdempotency: every creating POST honours Idempotency-Key the
// same way (one wrapper in apidoc): a replay gets the first answer without
// its one-time secret, a refused request frees its key, a key is per path
// (the same key for another client is another request), and a key whose
// first request still runs answers 409 with Retry-After.
func TestStaffAPIIdempotency(t *testing.T) {
	f := newAPIFixture(t, "apiidem")
	ctx := context.Background()
	a, b := "/api/v1/clients/"+f.alpha.Slug, "/api/v1/clients/"+f.beta.Slug
	key := func(k string) map[string]string { return map[string]string{"Idempotency-Key": k} }
	var first struct {
		ID     int64  `json:"id"`
		Secret string `json:"secret"`
	}
	f.run(t, []apiScenario{
		{name: "a refused create", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":""}`, headers: key("k-key"), status: 400},
		{name: "corrected under the same key", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":"psa"}`, headers: key("k-key"), status: 201,
			contains: []string{`"secret":"sbk_`},
			after: func(t *testing.T, body string, _ http.Header) {
				if err := json.Unmarshal([]byte(body), &first); err != nil || first.ID == 0 {
					t.Fatalf("created key: %v %s", err, body)
				}
			}},
		{name: "replayed without the secret", token: "owner", method: "POST", path: a + "/api-keys", body: `{"name":"psa"}`, headers: key("k-key"), status: 201,
			lacks: []string{`"secret"`},
			after: func(t *testing.T, body string, hdr http.Header) {
				var again struct{ ID int64 }
				if json.Unmarshal([]byte(body), &again); again.ID != first.ID || hdr.Get("Idempotent-Replayed") != "true" {
					t.Errorf("replay: id %d (first %d), headers %v", again.ID, first.ID, hdr)
				}
			}},
		{name: "the same key for another client is another request", token: "owner", method: "POST", path: b + "/api-keys", body: `{"name":"psa"}`, headers: key("k-key"), status: 201,
			contains: []string{`"secret":"sbk_`}},
		{name: "a silence replayed", token: "owner", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"db1"}],"duration":"1h"}`, headers: key("k-sil"), status: 201},
		{name: "a silence replayed again", token: "owner", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"db1"}],"duration":"1h"}`, headers: key("k-sil"), status: 201},
		{name: "a key too long", token: "owner", method: "POST", path: a + "/silences", body: `{}`, headers: key(strings.Repeat("k", 201)), status: 400},
	})
	keys, err := f.e.tenants.ListAPIKeys(ctx, f.alpha.Slug)
	if err != nil {
		t.Fatal(err)
	}
	psa := 0
	for _, k := range keys {
		if k.Name == "psa" {
			psa++
		}
	}
	if psa != 1 {
		t.Errorf("alpha has %d keys named psa, want 1 (a replay created another, or the refused one did)", psa)
	}
	silences, err := f.e.alerts.Silences(ctx, f.e.tenants.Scope(f.alpha), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(silences) != 1 {
		t.Errorf("alpha has %d silences, want 1", len(silences))
	}
	var stored int64
	if err := f.e.cluster.ControlDB().Raw(`SELECT count(*) FROM control.api_idempotency WHERE response::text LIKE '%sbk_%'`).Scan(&stored).Error; err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("%d remembered answers hold a key's secret", stored)
	}

	// A first request still running holds its key: a repeat is told to wait.
	body := `{"name":"slow"}`
	sum := sha256.Sum256([]byte(body))
	if err := f.e.cluster.ControlDB().Exec(`INSERT INTO control.api_idempotency (user_id, key, route, body_hash, status, response)
		VALUES (?, 'k-running', ?, ?, 0, '')`, f.owner.ID, "POST "+a+"/api-keys", sum[:]).Error; err != nil {
		t.Fatal(err)
	}
	f.run(t, []apiScenario{
		{name: "while the first still runs", token: "owner", method: "POST", path: a + "/api-keys", body: body, headers: key("k-running"), status: 409,
			contains: []string{"still running"},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Retry-After") == "" {
					t.Error("409 without Retry-After")
				}
			}},
	})
}
