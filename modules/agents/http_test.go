package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// apiServer serves the agent routes behind the real authorizer middleware.
func apiServer(t *testing.T, f fixture) *httptest.Server {
	t.Helper()
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	e.Use(a.Middleware(authz.MiddlewareOptions{}))
	f.agents.AgentRoutes(a, e)
	ts := httptest.NewServer(e)
	t.Cleanup(ts.Close)
	return ts
}

func post(t *testing.T, url, auth, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s: answer is not JSON: %q", url, b)
	}
	return res.StatusCode, out, res.Header
}

func TestAgentAPI(t *testing.T) {
	f := newFixture(t)
	ts := apiServer(t, f)
	tn := f.tenant(t)
	tok, _, err := f.agents.CreateToken(context.Background(), tn, "api", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	enroll := ts.URL + EnrollPath
	checkin := ts.URL + CheckInPath

	code, body, _ := post(t, enroll, "", `{"token": "`+tok+`", "hostname": "web1", "os": "linux"}`)
	if code != http.StatusOK || body["checkin_interval_seconds"] != float64(60) || !strings.HasPrefix(body["credential"].(string), "sbc_") {
		t.Fatalf("enroll: %d %v", code, body)
	}
	cred := body["credential"].(string)

	good := `{"hostname": "web1", "os": "linux", "uptime_seconds": 100, "cpu_percent": 1.5, "memory_percent": 2, "disks": [{"mount": "/", "used_percent": 3}]}`
	cases := []struct {
		name, url, auth, body string
		code                  int
		msg                   string
	}{
		{"enroll again: token used up", enroll, "", `{"token": "` + tok + `", "hostname": "web2"}`, 401, "maximum"},
		{"enroll without token", enroll, "", `{"hostname": "web2"}`, 401, "token is required"},
		{"enroll with unknown field", enroll, "", `{"token": "x", "hostname": "web2", "extra": 1}`, 400, "unknown field"},
		{"enroll with bad JSON", enroll, "", `{"token": `, 400, "malformed"},
		{"check-in without credential", checkin, "", good, 401, "credential is required"},
		{"check-in with a bad credential", checkin, "sbc_1_1_nope", good, 401, "invalid endpoint credential"},
		{"check-in without cpu", checkin, cred, `{"hostname": "web1", "uptime_seconds": 1, "memory_percent": 2}`, 400, "cpu_percent is required"},
		{"check-in without disk percent", checkin, cred, `{"hostname": "web1", "uptime_seconds": 1, "cpu_percent": 1, "memory_percent": 2, "disks": [{"mount": "/"}]}`, 400, "used_percent is required"},
		{"check-in out of range", checkin, cred, strings.Replace(good, `"cpu_percent": 1.5`, `"cpu_percent": 150`, 1), 400, "between 0 and 100"},
		{"check-in with a fractional uptime", checkin, cred, strings.Replace(good, `100`, `100.5`, 1), 400, "malformed"},
		{"check-in with trailing data", checkin, cred, good + `{}`, 400, "after the document"},
		{"check-in", checkin, cred, good, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, body, hdr := post(t, tc.url, tc.auth, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d: %v", code, tc.code, body)
			}
			if tc.msg != "" && !strings.Contains(body["error"].(string), tc.msg) {
				t.Fatalf("error %q does not mention %q", body["error"], tc.msg)
			}
			if code == 401 && hdr.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if code == 200 && body["next_checkin_seconds"] != float64(60) {
				t.Fatalf("check-in answer %v", body)
			}
		})
	}
	if n := count(t, tn, `SELECT count(*) FROM endpoint_metrics`); n != 1 {
		t.Fatalf("%d metric rows, want 1 (only the good check-in)", n)
	}
	// Oversized bodies are refused before they are read whole.
	big := bytes.Repeat([]byte("x"), 2<<20)
	code, _, _ = post(t, checkin, cred, `{"hostname": "`+string(big)+`"}`)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", code)
	}
}
