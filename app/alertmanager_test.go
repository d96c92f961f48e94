package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// alertmanagerVersion is the Alertmanager the webhook is tested against.
// v0.28.1 is pinned because it builds from its Go module alone (later
// modules, e.g. v0.35.0, lack the UI files their build embeds).
const alertmanagerVersion = "v0.28.1"

// alertmanagerBinary returns Alertmanager's binary, built on first use from
// the Go module proxy into the user's cache folder, outside this repository
// and its go.mod, so a clean CI machine needs nothing but the proxy.
func alertmanagerBinary(t *testing.T) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(cache, "switchboard-test", "alertmanager-"+alertmanagerVersion)
	bin := filepath.Join(dir, "alertmanager")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building Alertmanager needs the go command: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, goTool, "install", "github.com/prometheus/alertmanager/cmd/alertmanager@"+alertmanagerVersion)
	cmd.Dir = t.TempDir() // no go.mod here: ours is never consulted nor changed
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building Alertmanager %s: %v\n%s", alertmanagerVersion, err, out)
	}
	t.Logf("built Alertmanager %s in %s into %s", alertmanagerVersion, time.Since(start).Round(time.Second), dir)
	return bin
}

// delivery is one webhook request Alertmanager made, as the recording proxy saw it.
type delivery struct {
	group  string // the group's "group" label
	alerts int
	status int // our answer
}

// deliveries records what Alertmanager sent before passing it to our server.
type deliveries struct {
	mu   sync.Mutex
	list []delivery
}

func (d *deliveries) of(group string) []delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []delivery
	for _, x := range d.list {
		if x.group == group {
			out = append(out, x)
		}
	}
	return out
}

// proxy records each webhook delivery (group, size, our status) and hands
// the request to next unchanged.
func (d *deliveries) proxy(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var p struct {
			GroupLabels map[string]string `json:"groupLabels"`
			Alerts      []json.RawMessage `json:"alerts"`
		}
		_ = json.Unmarshal(body, &p)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		d.mu.Lock()
		d.list = append(d.list, delivery{group: p.GroupLabels["group"], alerts: len(p.Alerts), status: rec.status})
		d.mu.Unlock()
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// startAlertmanager runs Alertmanager with one webhook receiver (our
// Alertmanager endpoint, authenticated with key) and short timings, and
// returns its base URL once it is ready. Only this process is stopped on cleanup.
func startAlertmanager(t *testing.T, bin, webhookURL, key string) string {
	t.Helper()
	dir := t.TempDir()
	// Alerts are grouped by their "group" label; a group is first sent 1s
	// after its first alert, changes after 1s, and resent unchanged every 2s.
	config := fmt.Sprintf(`route:
  receiver: switchboard
  group_by: [group]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: switchboard
    webhook_configs:
      - url: %q
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %q
`, webhookURL, key)
	cfgFile := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfgFile, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfgFile, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("Alertmanager's log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	waitUntil(t, time.Now().Add(15*time.Second), "Alertmanager ready", func() (bool, string) {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})
	return base
}

// waitUntil polls cond until it holds or the deadline passes; the string
// cond returns says what it last saw, for the failure message.
func waitUntil(t *testing.T, deadline time.Time, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached before the deadline; last saw: %s", what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// amAlert is an alert as posted to Alertmanager's API v2.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations,omitempty"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

func postToAlertmanager(t *testing.T, base string, alerts []amAlert) {
	t.Helper()
	body, err := json.Marshal(alerts)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(base+"/api/v2/alerts", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("Alertmanager refused the alerts: %s %s", resp.Status, msg)
	}
}

// webhookFailures sums Alertmanager's alertmanager_notifications_failed_total
// for the webhook integration, and its attempts, from its /metrics.
func webhookFailures(t *testing.T, base string) (failed, total float64) {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, "{")
		if !strings.Contains(rest, `integration="webhook"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			continue
		}
		switch name {
		case "alertmanager_notifications_failed_total":
			failed += v
		case "alertmanager_notifications_total":
			total += v
		}
	}
	return failed, total
}

// TestAlertmanagerWebhookEndToEnd drives a real Alertmanager against the
// real server: grouping, repeats, resolves, a 600-alert group and a group
// with a member we cannot store, which must not cost the rest of its group
// nor make Alertmanager retry.
func TestAlertmanagerWebhookEndToEnd(t *testing.T) {
	bin := alertmanagerBinary(t) // before the clock starts: a first build takes a while
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, srv, _ := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "am-e2e", Name: "Alertmanager end to end"})
	if err != nil {
		t.Fatal(err)
	}
	scope := e.tenants.Scope(tn)
	_, key, err := e.tenants.CreateAPIKey(ctx, tn.Slug, "alertmanager")
	if err != nil {
		t.Fatal(err)
	}
	var sent deliveries
	hook := httptest.NewServer(sent.proxy(srv))
	t.Cleanup(hook.Close)
	am := startAlertmanager(t, bin, hook.URL+"/api/v1/alerts/alertmanager", key)

	// stored reads, per "group" label, the stored alerts' statuses and occurrences.
	type row struct {
		Endpoint    string
		Status      string
		Occurrences int
		Rule        string
	}
	stored := func(group string) []row {
		var out []row
		err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT endpoint, status, occurrences, rule FROM alerts WHERE labels->>'group' = ? ORDER BY endpoint`, group).Scan(&out).Error
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	deadline := func() time.Time { return time.Now().Add(20 * time.Second) }

	// All groups go in at once: Alertmanager handles them independently.
	web := []amAlert{}
	for _, host := range []string{"web1", "web2", "web3"} {
		web = append(web, amAlert{Labels: map[string]string{"alertname": "HighLoad", "group": "web", "instance": host, "severity": "page", "k8s:ns": "prod", "région": "eu"},
			Annotations: map[string]string{"summary": "load high on " + host}})
	}
	big := make([]amAlert, 600)
	for i := range big {
		big[i] = amAlert{Labels: map[string]string{"alertname": "NodeDown", "group": "big", "instance": fmt.Sprintf("node%03d", i)}}
	}
	bad := []amAlert{
		{Labels: map[string]string{"alertname": "Disk", "group": "bad", "instance": "db1"}},
		{Labels: map[string]string{"alertname": "Disk", "group": "bad", "instance": "db2", "detail": "x\x00y"}}, // sent as \u0000
		{Labels: map[string]string{"alertname": "Disk", "group": "bad", "instance": "db3"}},
	}
	postToAlertmanager(t, am, append(append(web, big...), bad...))

	t.Run("grouping: one delivery carries the group", func(t *testing.T) {
		waitUntil(t, deadline(), "3 web alerts stored", func() (bool, string) {
			rows := stored("web")
			return len(rows) == 3, fmt.Sprint(rows)
		})
		if d := sent.of("web"); len(d) == 0 || d[0].alerts != 3 {
			t.Fatalf("deliveries of group web: %+v; want the first with all 3 alerts", d)
		}
	})

	t.Run("repeat: a resent alert is counted, not duplicated", func(t *testing.T) {
		waitUntil(t, deadline(), "repeats counted", func() (bool, string) {
			rows := stored("web")
			ok := len(rows) == 3
			for _, r := range rows {
				ok = ok && r.Occurrences >= 2 && r.Status == "firing"
			}
			return ok, fmt.Sprint(rows)
		})
	})

	t.Run("resolve: endsAt in the past resolves the alert", func(t *testing.T) {
		resolved := web[0]
		resolved.StartsAt, resolved.EndsAt = time.Now().Add(-time.Minute), time.Now().Add(-time.Second)
		postToAlertmanager(t, am, []amAlert{resolved})
		waitUntil(t, deadline(), "web1 resolved", func() (bool, string) {
			rows := stored("web")
			return len(rows) == 3 && rows[0].Endpoint == "web1" && rows[0].Status == "resolved" &&
				rows[1].Status == "firing" && rows[2].Status == "firing", fmt.Sprint(rows)
		})
	})

	t.Run("a 600-alert group is stored whole", func(t *testing.T) {
		waitUntil(t, deadline(), "600 alerts of group big stored", func() (bool, string) {
			n := len(stored("big"))
			return n == 600, fmt.Sprintf("%d stored", n)
		})
		if d := sent.of("big"); d[0].alerts != 600 || d[0].status != http.StatusAccepted {
			t.Fatalf("deliveries of group big: %+v; want one of 600 alerts answered 202", d)
		}
	})

	t.Run("a bad member is rejected, the rest of its group stored", func(t *testing.T) {
		waitUntil(t, deadline(), "db1 and db3 stored", func() (bool, string) {
			rows := stored("bad")
			return len(rows) == 2 && rows[0].Endpoint == "db1" && rows[1].Endpoint == "db3", fmt.Sprint(rows)
		})
		var audited []string
		waitUntil(t, deadline(), "the rejection in the client's audit log", func() (bool, string) {
			err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
				return tx.Raw(`SELECT summary FROM audit_log WHERE action = 'alert.rejected' ORDER BY id`).Scan(&audited).Error
			})
			return err == nil && len(audited) > 0, fmt.Sprint(audited, err)
		})
		if !strings.Contains(audited[0], "1 of 3 alerts") || !strings.Contains(audited[0], "NUL") {
			t.Fatalf("audit entry %q", audited[0])
		}
	})

	t.Run("Alertmanager saw every delivery succeed", func(t *testing.T) {
		sent.mu.Lock()
		all := append([]delivery(nil), sent.list...)
		sent.mu.Unlock()
		for _, d := range all {
			if d.status < 200 || d.status > 299 {
				t.Errorf("delivery %+v was not answered 2xx", d)
			}
		}
		failed, total := webhookFailures(t, am)
		if failed != 0 || total == 0 {
			t.Fatalf("alertmanager_notifications_failed_total{integration=webhook} = %v of %v notifications; want 0 failed", failed, total)
		}
	})
	sent.mu.Lock()
	n := len(sent.list)
	sent.mu.Unlock()
	t.Logf("end to end in %s after the build, %d deliveries", time.Since(began).Round(10*time.Millisecond), n)
}
