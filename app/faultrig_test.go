package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/config"
	"switchboard/db"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/platform/pgembed"
	"switchboard/platform/tenancy"
)

// faultRig is a platform the fault tests may break: a PostgreSQL cluster of
// its own (never the package's shared one), one client with an API key and
// a webhook channel every alert is routed to, a receiver counting what
// arrives, and `serve` as a separate process of the real binary, which the
// test kills and restarts by its own process id.
type faultRig struct {
	t      *testing.T
	pgDir  string
	pg     *pgembed.Cluster
	url    string
	addr   string
	base   string
	apiKey string
	e      *env // this test process's view (inserts only, never works jobs)
	tenant tenancy.Tenant
	recv   *receiver
	serve  *serveProc
}

func newFaultRig(t *testing.T) *faultRig {
	t.Helper()
	ctx := context.Background()
	// Not t.TempDir: its parent is private, and PostgreSQL runs as its own
	// OS user when the tests run as root.
	root, err := os.MkdirTemp("", "switchboard-fault-")
	if err == nil {
		err = os.Chmod(root, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	r := &faultRig{t: t, pgDir: filepath.Join(root, "pg"), recv: newReceiver(t)}
	r.pg, err = startRigCluster(ctx, r.pgDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.pg.Stop(context.Background()); err != nil {
			t.Errorf("stopping the rig's PostgreSQL: %v", err)
		}
	})
	r.url = r.pg.URL()
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database.URL = r.url
	r.e = &env{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)), url: r.url}
	if err := r.e.connect(ctx, true, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.e.close)
	if _, err := db.MigrateControl(ctx, r.e.cluster.ControlDB(), db.Control()); err != nil {
		t.Fatal(err)
	}
	tn, err := r.e.tenants.Create(ctx, tenants.CreateInput{Slug: "fault-rig", Name: "Fault Rig"})
	if err != nil {
		t.Fatal(err)
	}
	r.tenant = r.e.tenants.Scope(tn)
	if _, r.apiKey, err = r.e.tenants.CreateAPIKey(ctx, tn.Slug, "fault tests"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.e.notify.Create(ctx, r.tenant, notify.ChannelInput{Name: "pager", Kind: notify.KindWebhook, URL: r.recv.srv.URL}); err != nil {
		t.Fatal(err)
	}
	if err := r.e.policies.SetTenantItem(ctx, r.tenant, policies.Item{Key: "route-everything", Kind: policies.KindRouting, Enabled: true,
		Routing: &policies.Routing{MinSeverity: "info", Channels: []string{"pager"}}}); err != nil {
		t.Fatal(err)
	}
	r.addr = freeAddr(t)
	r.base = "http://" + r.addr
	return r
}

// startRigCluster starts (or, after a crash, restarts) the rig's own
// PostgreSQL; this test process owns it and stops it in the cleanup.
func startRigCluster(ctx context.Context, dir string) (*pgembed.Cluster, error) {
	return pgembed.Start(ctx, pgembed.Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
}

// serveProc is one `switchboard serve` process of the rig.
type serveProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

// start runs serve with extra environment (KEY=VALUE) and waits until it is ready.
func (r *faultRig) start(extra ...string) *serveProc {
	r.t.Helper()
	logPath := filepath.Join(r.t.TempDir(), "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command(switchboardBinary(r.t), "serve")
	cmd.Env = append(commandEnv(), "SWITCHBOARD_DATABASE_URL="+r.url, "SWITCHBOARD_SERVER_ADDR="+r.addr,
		"SWITCHBOARD_NOTIFY_ALLOW_PRIVATE_NETWORKS=true", "SWITCHBOARD_LOG_LEVEL=info",
		// The fault tests' workers hammer one key on purpose: they measure
		// outages, not the rate limits (tested in ratelimit_test.go).
		"SWITCHBOARD_LIMITS_INGEST_PER_KEY_RATE=100000", "SWITCHBOARD_LIMITS_INGEST_PER_KEY_BURST=100000",
		"SWITCHBOARD_LIMITS_INGEST_PER_CLIENT_RATE=100000", "SWITCHBOARD_LIMITS_INGEST_PER_CLIENT_BURST=100000",
		"SWITCHBOARD_LIMITS_INGEST_ALERTS_PER_CLIENT_RATE=100000", "SWITCHBOARD_LIMITS_INGEST_ALERTS_PER_CLIENT_BURST=100000")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	r.t.Cleanup(func() { p.kill(r.t) })
	r.serve = p
	client := &http.Client{Timeout: time.Second}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-p.done:
			r.t.Fatalf("serve exited before it was ready (%v):\n%s", p.err, p.logTail())
		default:
		}
		if resp, err := client.Get(r.base + "/readyz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("serve not ready within 30 s:\n%s", p.logTail())
		}
	}
}

// kill ends the process with SIGKILL (a crash: nothing runs on the way out)
// and waits for it; harmless on a process that already ended.
func (p *serveProc) kill(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
}

// wait waits for the process to end.
func (p *serveProc) wait(t *testing.T, limit time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("serve (pid %d) still running after %v:\n%s", p.cmd.Process.Pid, limit, p.logTail())
	}
}

// logAll is the process's whole log.
func (p *serveProc) logAll() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// logTail is the end of the process's log, for failure messages.
func (p *serveProc) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	return string(b)
}

// post sends alerts with the given rules to the native API and returns the
// status, or 0 when no answer came (the process died, the connection broke).
func (r *faultRig) post(client *http.Client, rules ...string) int {
	signals := make([]map[string]string, len(rules))
	for i, rule := range rules {
		signals[i] = map[string]string{"source": "fault-test", "rule": rule, "severity": "critical", "summary": "fault test " + rule}
	}
	body, _ := json.Marshal(map[string]any{"alerts": signals})
	req, _ := http.NewRequest(http.MethodPost, r.base+"/api/v1/alerts", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.apiKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// stored returns the rules of the client's alerts in the database.
func (r *faultRig) stored() map[string]bool {
	r.t.Helper()
	var rules []string
	if err := tenancy.Do(context.Background(), r.tenant, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT rule FROM alerts`).Scan(&rules).Error
	}); err != nil {
		r.t.Fatal(err)
	}
	out := make(map[string]bool, len(rules))
	for _, rule := range rules {
		out[rule] = true
	}
	return out
}

// settled reports whether nothing more can be sent: no outbox marks, and no
// delivery job waiting, running or retrying.
func (r *faultRig) settled() bool {
	r.t.Helper()
	var pending int64
	err := r.e.cluster.ControlDB().Raw(`SELECT (SELECT count(*) FROM control.outbox_due) +
		(SELECT count(*) FROM control.river_job WHERE queue IN (?, 'outbox') AND finalized_at IS NULL)`, notify.Queue).Scan(&pending).Error
	if err != nil {
		r.t.Fatal(err)
	}
	return pending == 0
}

// waitSettled waits until every accepted rule has arrived at the receiver
// and nothing more can be sent.
func (r *faultRig) waitSettled(rules []string, limit time.Duration) time.Duration {
	r.t.Helper()
	start := time.Now()
	for deadline := start.Add(limit); ; time.Sleep(50 * time.Millisecond) {
		missing := r.recv.missing(rules)
		if len(missing) == 0 && r.settled() {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			if len(missing) > 5 {
				missing = append(missing[:5], fmt.Sprintf("… %d more", len(missing)-5))
			}
			r.t.Fatalf("after %v: not delivered %v; settled %v\n%s", limit, missing, r.settled(), r.serve.logTail())
		}
	}
}

// receiver is a webhook endpoint counting deliveries per alert rule and
// remembering each delivery id it saw.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	rules map[string]int
	ids   map[string]int
	delay func(rule string) time.Duration
}

func newReceiver(t *testing.T) *receiver {
	rv := &receiver{rules: map[string]int{}, ids: map[string]int{}}
	rv.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Alert struct {
				Rule string `json:"rule"`
			} `json:"alert"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rv.mu.Lock()
		delay := rv.delay
		rv.mu.Unlock()
		if delay != nil {
			select {
			case <-time.After(delay(body.Alert.Rule)):
			case <-req.Context().Done():
				return // the sender went away: not delivered
			}
		}
		rv.mu.Lock()
		rv.rules[body.Alert.Rule]++
		rv.ids[req.Header.Get(notify.HeaderDelivery)]++
		rv.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rv.srv.Close)
	return rv
}

func (rv *receiver) count(rule string) int {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	return rv.rules[rule]
}

func (rv *receiver) missing(rules []string) []string {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	var out []string
	for _, r := range rules {
		if rv.rules[r] == 0 {
			out = append(out, r)
		}
	}
	return out
}

// repeats counts deliveries beyond the first per rule, and how many of those
// carried a delivery id already seen (which a receiver can drop).
func (rv *receiver) repeats() (repeated, sameID int) {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	for _, n := range rv.rules {
		repeated += n - 1
	}
	for _, n := range rv.ids {
		sameID += n - 1
	}
	return repeated, sameID
}

var (
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

// switchboardBinary builds this package's binary once per test run, into a
// folder removed when the run ends (TestMain).
func switchboardBinary(t *testing.T) string {
	t.Helper()
	binaryOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-test-bin-")
		if err != nil {
			binaryErr = err
			return
		}
		binDirs = append(binDirs, dir)
		binaryPath = filepath.Join(dir, "switchboard")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		begin := time.Now()
		out, err := exec.CommandContext(ctx, "go", "build", "-o", binaryPath, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		t.Logf("built the switchboard binary in %v", time.Since(begin).Round(time.Millisecond))
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// binDirs are removed after the package's tests.
var binDirs []string

// ruleNames returns n distinct rule names with a prefix.
func ruleNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, i)
	}
	return out
}
