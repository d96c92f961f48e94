package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/config"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// TestIngestRateLimits drives the real server with small limits (refilling
// one token in 1,000 s, so nothing refills during the test): requests over
// a limit are answered 429 with Retry-After and the limit's name, nothing
// of theirs is stored, and other keys, clients and endpoints are unaffected.
// Refill over time is platform/ratelimit's test, on an injected clock.
func TestIngestRateLimits(t *testing.T) {
	ctx := context.Background()
	const slow = 0.001 // tokens per second
	e, _, ts := testServerWith(t, func(c *config.Config) {
		c.Limits.IngestPerKey = config.Rate{Rate: slow, Burst: 3}
		c.Limits.IngestPerClient = config.Rate{Rate: slow, Burst: 5}
		c.Limits.IngestAlertsPerClient = config.Rate{Rate: slow, Burst: 8}
		c.Limits.CheckinsPerEndpoint = config.Rate{Rate: slow, Burst: 2}
	})
	id := uniqueID()
	client := func(name string, keys int) (tenancy.Tenant, []string) {
		tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "rl-" + name + "-" + id, Name: "Rate limits " + name})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for range keys {
			_, k, err := e.tenants.CreateAPIKey(ctx, tn.Slug, "limits")
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return e.tenants.Scope(tn), out
	}
	noisy, noisyKeys := client("noisy", 2)
	quiet, quietKeys := client("quiet", 1)
	batchy, batchyKeys := client("batchy", 1)

	post := func(path, key, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	alert := func(rule string) string {
		return fmt.Sprintf(`{"source":"limits","rule":%q,"severity":"warning"}`, rule)
	}
	batch := func(prefix string, n int) string {
		var s []string
		for i := range n {
			s = append(s, alert(fmt.Sprintf("%s-%d", prefix, i)))
		}
		return `{"alerts":[` + strings.Join(s, ",") + `]}`
	}
	group := func(prefix string, n int) string {
		var s []string
		for i := range n {
			s = append(s, fmt.Sprintf(`{"status":"firing","labels":{"alertname":"%s-%d"}}`, prefix, i))
		}
		return `{"version":"4","status":"firing","alerts":[` + strings.Join(s, ",") + `]}`
	}
	storedAlerts := func(tn tenancy.Tenant) int {
		var n int
		if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error { return tx.Raw(`SELECT count(*) FROM alerts`).Scan(&n).Error }); err != nil {
			t.Fatal(err)
		}
		return n
	}

	steps := []struct {
		name     string
		path     string
		key      string
		body     string
		status   int
		fragment string // of a refusal: the limit it names
		stored   map[tenancy.Tenant]int
	}{
		{"1st of the key's burst of 3", "/api/v1/alerts", noisyKeys[0], alert("k1-a"), 202, "", map[tenancy.Tenant]int{noisy: 1}},
		{"2nd", "/api/v1/alerts", noisyKeys[0], alert("k1-b"), 202, "", map[tenancy.Tenant]int{noisy: 2}},
		{"3rd", "/api/v1/alerts", noisyKeys[0], alert("k1-c"), 202, "", map[tenancy.Tenant]int{noisy: 3}},
		{"4th is over the key's limit, stores nothing", "/api/v1/alerts", noisyKeys[0], alert("k1-d"), 429,
			"alert requests per second per API key (burst 3; limits.ingest_per_key)", map[tenancy.Tenant]int{noisy: 3}},
		{"Alertmanager shares the key's limit", "/api/v1/alerts/alertmanager", noisyKeys[0], group("k1-am", 1), 429,
			"per API key", map[tenancy.Tenant]int{noisy: 3}},
		{"the client's second key has its own", "/api/v1/alerts", noisyKeys[1], alert("k2-a"), 202, "", map[tenancy.Tenant]int{noisy: 4}},
		{"and reaches the client's burst of 5", "/api/v1/alerts", noisyKeys[1], alert("k2-b"), 202, "", map[tenancy.Tenant]int{noisy: 5}},
		{"past which the client is refused, whichever key", "/api/v1/alerts", noisyKeys[1], alert("k2-c"), 429,
			"alert requests per second per client (burst 5; limits.ingest_per_client)", map[tenancy.Tenant]int{noisy: 5}},
		{"another client is unaffected", "/api/v1/alerts", quietKeys[0], alert("q-a"), 202, "", map[tenancy.Tenant]int{quiet: 1, noisy: 5}},
		{"a batch of 5 of the client's 8 alerts", "/api/v1/alerts", batchyKeys[0], batch("b1", 5), 202, "", map[tenancy.Tenant]int{batchy: 5}},
		{"a group of 4 is over the 3 left, stores none", "/api/v1/alerts/alertmanager", batchyKeys[0], group("b2", 4), 429,
			"alerts per second per client (burst 8; limits.ingest_alerts_per_client)", map[tenancy.Tenant]int{batchy: 5}},
		{"a refused client's batch is refused before it is read", "/api/v1/alerts", noisyKeys[1], batch("b3", 4), 429,
			"alert requests per second per client", map[tenancy.Tenant]int{noisy: 5}},
		{"a group of 3 fits", "/api/v1/alerts/alertmanager", batchyKeys[0], group("b4", 3), 202, "", map[tenancy.Tenant]int{batchy: 8, quiet: 1}},
	}
	for _, s := range steps {
		status, h, body := post(s.path, s.key, s.body)
		if status != s.status {
			t.Fatalf("%s: %d, want %d: %s", s.name, status, s.status, body)
		}
		if s.status == http.StatusTooManyRequests {
			if !strings.Contains(body, s.fragment) {
				t.Errorf("%s: %s, want the limit %q named", s.name, body, s.fragment)
			}
			// One token in 1,000 s: the wait is whole seconds, at least one.
			if secs, err := strconv.Atoi(h.Get("Retry-After")); err != nil || secs < 1 || secs > 8001 {
				t.Errorf("%s: Retry-After %q, want whole seconds ≥ 1", s.name, h.Get("Retry-After"))
			}
		} else if h.Get("Retry-After") != "" {
			t.Errorf("%s: Retry-After on an accepted request", s.name)
		}
		for tn, want := range s.stored {
			if got := storedAlerts(tn); got != want {
				t.Errorf("%s: %s has %d alerts, want %d", s.name, tn.Slug, got, want)
			}
		}
	}

	// Check-ins: per endpoint credential, before the credential is even
	// looked up; the endpoint next to it checks in as before.
	token, _, err := e.agents.CreateToken(ctx, quiet, "limits", time.Hour, 2)
	if err != nil {
		t.Fatal(err)
	}
	var creds []string
	for _, host := range []string{"rl-busy", "rl-calm"} {
		en, err := e.agents.Enroll(ctx, token, host, "linux")
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, en.Credential)
	}
	report := func(host string) string {
		return fmt.Sprintf(`{"hostname":%q,"os":"linux","uptime_seconds":10,"cpu_percent":1,"memory_percent":2,"disks":[]}`, host)
	}
	metricsRows := func(host string) int {
		var n int
		err := tenancy.Do(ctx, quiet, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT count(*) FROM endpoint_metrics m JOIN endpoints e ON e.id = m.endpoint_id WHERE e.hostname = ?`, host).Scan(&n).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	checkins := []struct {
		name, cred, host string
		status           int
	}{
		{"1st check-in", creds[0], "rl-busy", 200},
		{"2nd", creds[0], "rl-busy", 200},
		{"3rd is over the endpoint's burst", creds[0], "rl-busy", 429},
		{"the other endpoint checks in", creds[1], "rl-calm", 200},
		{"a made-up credential has a bucket of its own (and is refused as before)", "sb_ep_made-up", "rl-busy", 401},
	}
	for _, c := range checkins {
		status, h, body := post("/api/v1/agent/checkin", c.cred, report(c.host))
		if status != c.status {
			t.Fatalf("%s: %d, want %d: %s", c.name, status, c.status, body)
		}
		if status == http.StatusTooManyRequests && (!strings.Contains(body, "check-ins per second per endpoint (burst 2; limits.checkins_per_endpoint)") || h.Get("Retry-After") == "") {
			t.Errorf("%s: %s (Retry-After %q), want the limit named and a Retry-After", c.name, body, h.Get("Retry-After"))
		}
	}
	if got := metricsRows("rl-busy"); got != 2 {
		t.Errorf("the limited endpoint has %d metrics rows, want 2: the refused check-in stored something", got)
	}
	if got := metricsRows("rl-calm"); got != 1 {
		t.Errorf("the other endpoint has %d metrics rows, want 1", got)
	}
}
