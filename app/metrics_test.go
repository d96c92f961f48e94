package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"switchboard/config"
	"switchboard/modules/alerts"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/platform/metrics"
	"switchboard/platform/pgtest"
)

const metricsToken = "metrics-test-token-0123456789"

// exposition is one scrape, parsed.
type exposition map[string]*dto.MetricFamily

// scrape GETs url's /metrics with the token (none if "") and parses the
// text exposition.
func scrape(t *testing.T, base, token string) exposition {
	t.Helper()
	status, body := getMetrics(t, base, token, "")
	if status != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, body)
	}
	return fams
}

func getMetrics(t *testing.T, base, token, host string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+metrics.Path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// get is the value of the series with exactly these labels (a histogram's
// count), 0 when absent.
func (x exposition) get(family string, labels ...string) float64 {
	f := x[family]
	if f == nil {
		return 0
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(want) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			match = match && want[l.GetName()] == l.GetValue()
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return 0
}

// TestMetricsEndpoint scrapes the real server's /metrics with its token
// while requests, ingestion, check-ins and deliveries happen, and checks
// that every family is there and that the counters moved by what was done.
func TestMetricsEndpoint(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, _, ts := testServerWith(t, func(cfg *config.Config) {
		cfg.Metrics.Token = metricsToken
		cfg.Metrics.TopTenants = 1
		cfg.Notify.AllowPrivateNetworks = true
	})
	if err := startBackground(ctx, e); err != nil {
		t.Fatal(err)
	}
	acme, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "metrics-acme", Name: "Metrics Acme"})
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "metrics-quiet", Name: "Metrics Quiet"})
	if err != nil {
		t.Fatal(err)
	}
	_, key, err := e.tenants.CreateAPIKey(ctx, acme.Slug, "metrics")
	if err != nil {
		t.Fatal(err)
	}
	// Two receivers: one takes every delivery, one is down (each attempt is retried).
	var delivered atomic.Int32
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		delivered.Add(1)
	}))
	t.Cleanup(up.Close)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	// "oncall" gets new alerts by the global baseline; "down" by a rule of the client's.
	for name, url := range map[string]string{"oncall": up.URL, "down": down.URL} {
		if _, err := e.notify.Create(ctx, e.tenants.Scope(acme), notify.ChannelInput{Name: name, Kind: notify.KindWebhook, URL: url}); err != nil {
			t.Fatal(err)
		}
	}
	// The dead receiver's retries would outlive the test and reach the
	// next test's workers; they end with it.
	t.Cleanup(func() {
		e.cluster.ControlDB().Exec(`DELETE FROM control.river_job WHERE finalized_at IS NULL AND (args->>'tenant_id')::bigint = ?`, acme.ID)
	})
	if err := e.policies.SetTenantItem(ctx, e.tenants.Scope(acme), policies.Item{Key: "route-down", Kind: policies.KindRouting, Enabled: true,
		Routing: &policies.Routing{MinSeverity: alerts.SeverityWarning, Channels: []string{"down"}}}); err != nil {
		t.Fatal(err)
	}

	t.Run("refused without the token", func(t *testing.T) {
		for _, tc := range []struct{ name, token, host string }{
			{"no token", "", ""}, {"wrong token", "metrics-test-token-012345678X", ""},
			{"on a client's portal host", "", "portal.metrics-acme.example"},
		} {
			status, body := getMetrics(t, ts.URL, tc.token, tc.host)
			if status != http.StatusUnauthorized || strings.Contains(body, "switchboard_") {
				t.Errorf("%s: status %d, want 401 without metrics: %.200s", tc.name, status, body)
			}
		}
		// A scraper names the server by its address, which is no console
		// host: /metrics is served whatever the Host.
		if status, _ := getMetrics(t, ts.URL, metricsToken, "10.0.0.5:8080"); status != http.StatusOK {
			t.Errorf("with the token under another Host: %d, want 200", status)
		}
	})

	before := scrape(t, ts.URL, metricsToken)

	post := func(path, auth, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Ingestion, through the API: one of every outcome.
	for _, tc := range []struct {
		path, body string
		want       int
	}{
		{"/api/v1/alerts", `{"source":"metrics","rule":"disk","severity":"critical"}`, http.StatusAccepted},                                                            // created
		{"/api/v1/alerts", `{"source":"metrics","rule":"disk","severity":"critical"}`, http.StatusAccepted},                                                            // repeated
		{"/api/v1/alerts", `{"source":"metrics","rule":"disk","status":"resolved"}`, http.StatusAccepted},                                                              // resolved
		{"/api/v1/alerts", `{"source":"metrics","rule":"never-fired","status":"resolved"}`, http.StatusAccepted},                                                       // ignored
		{"/api/v1/alerts", `{"alerts":[{"source":"metrics","rule":"a"},{"source":"metrics","rule":"b","severity":"nope"}]}`, 400},                                      // 2 rejected
		{"/api/v1/alerts/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"cpu","severity":"critical"}},null]}`, http.StatusAccepted}, // created, rejected
	} {
		if got := post(tc.path, key, tc.body); got != tc.want {
			t.Fatalf("POST %s %s: %d, want %d", tc.path, tc.body, got, tc.want)
		}
	}
	if _, err := e.alerts.CreateSilence(ctx, e.tenants.Scope(acme), []alerts.Matcher{{Name: "rule", Op: "=", Value: "muted"}}, time.Now(), time.Now().Add(time.Hour), "metrics"); err != nil {
		t.Fatal(err)
	}
	if got := post("/api/v1/alerts", key, `{"source":"metrics","rule":"muted"}`); got != http.StatusAccepted { // suppressed
		t.Fatalf("muted alert: %d", got)
	}
	if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(quiet), []alerts.Signal{{Source: "metrics", Rule: "once"}}); err != nil {
		t.Fatal(err)
	}

	// Check-ins: one stored, one with a credential that is no one's.
	token, _, err := e.agents.CreateToken(ctx, e.tenants.Scope(quiet), "metrics", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	en, err := e.agents.Enroll(ctx, token, "metrics-host", "linux")
	if err != nil {
		t.Fatal(err)
	}
	report := `{"hostname":"metrics-host","os":"linux","uptime_seconds":60,"cpu_percent":1,"memory_percent":1,"disks":[]}`
	if got := post("/api/v1/agent/checkin", en.Credential, report); got != http.StatusOK {
		t.Fatalf("check-in: %d", got)
	}
	if got := post("/api/v1/agent/checkin", "sbe_nobody", report); got != http.StatusUnauthorized {
		t.Fatalf("check-in with a bad credential: %d", got)
	}

	// Console and portal pages.
	b := newClient(t, ts.URL)
	b.get("/login")
	b.get("/login")
	b.get("/t/metrics-acme/alerts") // anonymous: sent to sign in
	portalReq, _ := http.NewRequest(http.MethodGet, ts.URL+"/healthz", nil)
	portalReq.Host = "portal.metrics-acme.example"
	if resp, err := http.DefaultClient.Do(portalReq); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}

	// A client behind on migrations.
	if err := e.cluster.ControlDB().Exec(`UPDATE control.tenants SET schema_version = schema_version - 1 WHERE id = ?`, quiet.ID).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.cluster.ControlDB().Exec(`UPDATE control.tenants SET schema_version = ? WHERE id = ?`, e.tenants.TargetVersion(), quiet.ID)
	})

	// The deliveries: the working receiver takes each new alert, the other
	// one's first attempts fail and are retried.
	var after exposition
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		after = scrape(t, ts.URL, metricsToken)
		if after.get("switchboard_notification_deliveries_total", "kind", "webhook", "outcome", "delivered") >= 2 &&
			after.get("switchboard_notification_deliveries_total", "kind", "webhook", "outcome", "retrying") >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never counted: delivered %v, retrying %v (receiver got %d)",
				after.get("switchboard_notification_deliveries_total", "kind", "webhook", "outcome", "delivered"),
				after.get("switchboard_notification_deliveries_total", "kind", "webhook", "outcome", "retrying"), delivered.Load())
		}
	}

	delta := func(family string, labels ...string) float64 {
		return after.get(family, labels...) - before.get(family, labels...)
	}
	for _, tc := range []struct {
		family string
		labels []string
		want   float64
	}{
		{"switchboard_alerts_ingested_total", []string{"outcome", "created"}, 3}, // disk, cpu; once (quiet)
		{"switchboard_alerts_ingested_total", []string{"outcome", "repeated"}, 1},
		{"switchboard_alerts_ingested_total", []string{"outcome", "resolved"}, 1},
		{"switchboard_alerts_ingested_total", []string{"outcome", "ignored"}, 1},
		{"switchboard_alerts_ingested_total", []string{"outcome", "suppressed"}, 1},
		{"switchboard_alerts_ingested_total", []string{"outcome", "rejected"}, 3},
		{"switchboard_alerts_ingested_by_client_total", []string{"client", acme.Slug}, 9}, // all but quiet's one
		{"switchboard_alerts_ingested_by_client_total", []string{"client", metrics.OtherClients}, 1},
		{"switchboard_agent_checkins_total", []string{"result", "ok"}, 1},
		{"switchboard_agent_checkins_total", []string{"result", "unauthorized"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "api", "route", "/api/v1/alerts", "method", "POST", "status", "2xx"}, 5},
		{"switchboard_http_request_duration_seconds", []string{"surface", "api", "route", "/api/v1/alerts", "method", "POST", "status", "4xx"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "api", "route", "/api/v1/alerts/alertmanager", "method", "POST", "status", "2xx"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "api", "route", "/api/v1/agent/checkin", "method", "POST", "status", "2xx"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "api", "route", "/api/v1/agent/checkin", "method", "POST", "status", "4xx"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "console", "route", "/login", "method", "GET", "status", "2xx"}, 2},
		{"switchboard_http_request_duration_seconds", []string{"surface", "console", "route", "/t/:slug/alerts", "method", "GET", "status", "3xx"}, 1},
		{"switchboard_http_request_duration_seconds", []string{"surface", "portal", "route", "/healthz", "method", "GET", "status", "2xx"}, 1},
		{"switchboard_tenants_behind_migrations", nil, 1},
	} {
		if got := delta(tc.family, tc.labels...); got != tc.want {
			t.Errorf("%s%v moved by %v, want %v", tc.family, tc.labels, got, tc.want)
		}
	}
	if got := after.get("switchboard_tenants", "status", "active"); got < 2 {
		t.Errorf("%v active tenants, want at least the test's 2", got)
	}
	if got := after.get("switchboard_db_pool_max_connections", "cell", metrics.ControlPool); got != float64(e.cfg.Database.MaxConns) {
		t.Errorf("control pool max %v, want database.max_conns %d", got, e.cfg.Database.MaxConns)
	}
	if got := after.get("switchboard_db_pool_max_connections", "cell", acme.Cell); got < 1 {
		t.Errorf("cell %s: pool max %v: the cell's pool is not reported", acme.Cell, got)
	}
	for _, f := range []string{"switchboard_http_request_duration_seconds", "switchboard_alerts_ingested_total",
		"switchboard_agent_checkins_total", "switchboard_notification_deliveries_total", "switchboard_job_queue_depth",
		"switchboard_db_pool_acquired_connections", "switchboard_db_pool_idle_connections", "switchboard_db_pool_total_connections",
		"switchboard_db_pool_waits_total", "switchboard_tenants", "switchboard_tenants_behind_migrations",
		"switchboard_metrics_query_failures_total", "go_goroutines"} {
		if after[f] == nil {
			t.Errorf("family %s is missing", f)
		}
	}
	// No URL, and no client outside the opt-in family, became a label.
	for name, f := range after {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "metrics-") && name != "switchboard_alerts_ingested_by_client_total" {
					t.Errorf("%s carries %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// Without a token the main listener has no /metrics (404); the separate
// address serves it without one, and with one only to its bearer.
func TestMetricsSeparateAddress(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, _, ts := testServer(t)
	if status, body := getMetrics(t, ts.URL, metricsToken, ""); status != http.StatusNotFound || strings.Contains(body, "switchboard_") {
		t.Fatalf("main listener without metrics.token: %d, want 404", status)
	}
	addr, err := e.metrics.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + addr.String()
	b := newClient(t, ts.URL)
	b.get("/login")
	x := scrape(t, base, "")
	if x.get("switchboard_http_request_duration_seconds", "surface", "console", "route", "/login", "method", "GET", "status", "2xx") != 1 {
		t.Errorf("the separate address serves another registry than the server's: %v", x["switchboard_http_request_duration_seconds"])
	}
	if x["switchboard_tenants"] == nil || x["switchboard_db_pool_total_connections"] == nil {
		t.Error("database gauges missing on the separate address")
	}
	if status, _ := getMetrics(t, base+"/other", "", ""); status != http.StatusNotFound {
		t.Errorf("another path on the metrics address: %d, want 404", status)
	}
}

// serve refuses bad metrics settings as bad input (exit status 2, the key
// named) and a taken metrics.addr as a runtime error (1), before serving.
func TestServeMetricsSettings(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = taken.Close() })
	t.Setenv("SWITCHBOARD_SERVER_ADDR", "127.0.0.1:0")
	for _, tc := range []struct {
		key, value string
		code       int
		want       string
	}{
		{"SWITCHBOARD_METRICS_TOKEN", "short", 2, "metrics.token"},
		{"SWITCHBOARD_METRICS_ADDR", "no-port", 2, "metrics.addr"},
		{"SWITCHBOARD_METRICS_TOP_TENANTS", "-1", 2, "metrics.top_tenants"},
		{"SWITCHBOARD_METRICS_ADDR", taken.Addr().String(), 1, "metrics.addr"},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.key, tc.value)
			code, err := metricsCLI(context.Background(), "serve")
			if code != tc.code || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("exit %d, want %d naming %s: %v", code, tc.code, tc.want, err)
			}
		})
	}
}

// serve with metrics.addr serves /metrics there, with the server's own
// counters, until it stops.
func TestServeMetricsAddress(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	_ = free.Close()
	t.Setenv("SWITCHBOARD_SERVER_ADDR", "127.0.0.1:0")
	t.Setenv("SWITCHBOARD_METRICS_ADDR", addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { code, _ := metricsCLI(ctx, "serve"); done <- code }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve ended with %d", code)
		}
	})
	var x exposition
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + metrics.Path); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				x = scrape(t, "http://"+addr, "")
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("serve never answered on metrics.addr")
		}
	}
	for _, f := range []string{"switchboard_tenants", "switchboard_db_pool_total_connections", "switchboard_alerts_ingested_total"} {
		if x[f] == nil {
			t.Errorf("family %s missing on metrics.addr", f)
		}
	}
}

// metricsCLI runs the command line as runCLI does, until ctx ends, and
// returns its exit status and error.
func metricsCLI(ctx context.Context, args ...string) (int, error) {
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs(append(args, "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL(), "--log-level", "warn"))
	err := root.ExecuteContext(ctx)
	return exitStatus(err), err
}
