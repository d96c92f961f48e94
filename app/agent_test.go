package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"switchboard/modules/agents"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// agentRoot is the root command with the agent command in it (added here
// until the root command lists it itself).
func agentRoot() *cobra.Command {
	root := newRootCommand()
	if c, _, err := root.Find([]string{"agent"}); err != nil || c.Name() != "agent" {
		agent := newAgentCommand()
		setArgsAsUsage(agent)
		root.AddCommand(agent)
	}
	return root
}

// runAgent runs "switchboard agent args…" until ctx ends; it returns
// everything the agent logged and the error main would print.
func runAgent(ctx context.Context, args ...string) (string, error) {
	root := agentRoot()
	var out syncBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"agent"}, args...))
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

// syncBuffer is a bytes.Buffer safe for the agent's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// fakeServer is a stand-in for the agent API: it records what agents send
// and answers with scripted statuses.
type fakeServer struct {
	*httptest.Server
	mu        sync.Mutex
	enrolls   []agents.EnrollRequest
	checkins  []agents.Report
	auth      []string
	failFirst int // answer this many check-ins with 503 first
	status    int // then this status (0: 200)
	attempts  atomic.Int64
	delivered chan agents.Report
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{delivered: make(chan agents.Report, 100)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+agents.EnrollPath, func(w http.ResponseWriter, r *http.Request) {
		var req agents.EnrollRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.enrolls = append(f.enrolls, req)
		f.mu.Unlock()
		if req.Token != "sbe_7_good" {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "unknown enrollment token"})
			return
		}
		_ = json.NewEncoder(w).Encode(agents.EnrollResponse{EndpointID: 42, Credential: "sbc_7_42_secret", CheckInIntervalSeconds: 1})
	})
	mux.HandleFunc("POST "+agents.CheckInPath, func(w http.ResponseWriter, r *http.Request) {
		n := f.attempts.Add(1)
		var rep agents.Report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		fail, status := int64(f.failFirst), f.status
		f.mu.Unlock()
		if n <= fail {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if status != 0 {
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "this endpoint credential is no longer valid"})
			return
		}
		f.mu.Lock()
		f.checkins = append(f.checkins, rep)
		f.mu.Unlock()
		f.delivered <- rep
		_ = json.NewEncoder(w).Encode(agents.CheckInResponse{NextCheckInSeconds: 1})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

// waitDelivered waits for the next check-in the fake server accepted.
func (f *fakeServer) waitDelivered(t *testing.T) agents.Report {
	t.Helper()
	select {
	case rep := <-f.delivered:
		return rep
	case <-time.After(20 * time.Second):
		t.Fatal("no check-in arrived")
		return agents.Report{}
	}
}

func TestAgentFlagsAreUsageErrors(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	cases := []struct {
		name string
		args []string
		msg  string
	}{
		{"no state, no token", []string{"--state", state, "--server", "http://127.0.0.1:1"}, "--server and --token"},
		{"no state, no server", []string{"--state", state, "--token", "sbe_1_x"}, "--server and --token"},
		{"interval too short", []string{"--state", state, "--interval", "10ms"}, "--interval"},
		{"not a duration", []string{"--state", state, "--interval", "soon"}, "interval"},
		{"server is not http", []string{"--state", state, "--server", "ftp://example.com", "--token", "x"}, "--server"},
		{"empty state path", []string{"--state", "", "--server", "http://x", "--token", "x"}, "--state"},
		{"stray argument", []string{"now"}, "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runAgent(context.Background(), tc.args...)
			if !errors.Is(err, errUsage) || exitStatus(err) != 2 || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("want a usage error (exit 2) mentioning %q, got %v", tc.msg, err)
			}
		})
	}
}

func TestAgentEnrollsThenChecksIn(t *testing.T) {
	srv := newFakeServer(t)
	state := filepath.Join(t.TempDir(), "sub", "agent.json")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	var logs string
	go func() {
		defer close(done)
		logs, runErr = runAgent(ctx, "--server", srv.URL+"/", "--token", "sbe_7_good", "--state", state)
	}()
	rep := srv.waitDelivered(t)
	cancel()
	<-done
	if runErr != nil {
		t.Fatalf("agent: %v\n%s", runErr, logs)
	}

	// The state file: 0600, with the server, endpoint and credential.
	info, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode %04o, want 0600", info.Mode().Perm())
	}
	st, err := loadAgentState(state)
	if err != nil || st.Server != srv.URL || st.EndpointID != 42 || st.Credential != "sbc_7_42_secret" {
		t.Fatalf("state %+v %v", st, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(state), ".agent-state-*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left behind: %v", leftovers)
	}

	// The report carries this machine's real numbers.
	hostname, _ := os.Hostname()
	if rep.Hostname != hostname || rep.OS == "" || rep.UptimeSeconds <= 0 {
		t.Fatalf("report %+v (hostname %q)", rep, hostname)
	}
	if rep.CPUPercent < 0 || rep.CPUPercent > 100 || rep.MemoryPercent <= 0 || rep.MemoryPercent > 100 {
		t.Fatalf("cpu %v, memory %v", rep.CPUPercent, rep.MemoryPercent)
	}
	if len(rep.Disks) == 0 {
		t.Fatal("no disks reported")
	}
	mounts := map[string]bool{}
	for _, d := range rep.Disks {
		if d.UsedPercent < 0 || d.UsedPercent > 100 || mounts[d.Mount] || underPseudo(d.Mount) {
			t.Fatalf("disk %+v in %+v", d, rep.Disks)
		}
		mounts[d.Mount] = true
	}
	srv.mu.Lock()
	if len(srv.enrolls) != 1 || srv.enrolls[0].Hostname != hostname || srv.auth[0] != "Bearer sbc_7_42_secret" {
		t.Fatalf("enrolls %+v, auth %v", srv.enrolls, srv.auth)
	}
	srv.mu.Unlock()

	// A second run needs no token: the state says who and where.
	ctx, cancel = context.WithCancel(context.Background())
	done = make(chan struct{})
	go func() {
		defer close(done)
		logs, runErr = runAgent(ctx, "--state", state, "--interval", "1s")
	}()
	srv.waitDelivered(t)
	cancel()
	<-done
	if runErr != nil {
		t.Fatalf("second run: %v\n%s", runErr, logs)
	}
	srv.mu.Lock()
	if len(srv.enrolls) != 1 {
		t.Fatalf("enrolled again: %+v", srv.enrolls)
	}
	srv.mu.Unlock()

	// Another server with the same state is a mistake, not a silent re-enrollment.
	if _, err := runAgent(context.Background(), "--state", state, "--server", "https://other.example"); !errors.Is(err, errUsage) {
		t.Fatalf("state of another server: %v", err)
	}
	// A state file others can read is refused.
	if err := os.Chmod(state, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runAgent(context.Background(), "--state", state); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("0644 state file: %v", err)
	}
}

func TestAgentRefusedEnrollment(t *testing.T) {
	srv := newFakeServer(t)
	state := filepath.Join(t.TempDir(), "agent.json")
	_, err := runAgent(context.Background(), "--server", srv.URL, "--token", "sbe_7_bad", "--state", state)
	if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "unknown enrollment token") {
		t.Fatalf("refused enrollment: %v", err)
	}
	if _, statErr := os.Stat(state); !errors.Is(statErr, os.ErrNotExist) {
		t.Fatalf("a refused enrollment wrote state: %v", statErr)
	}
}

// enrolledRunner returns a runner with a saved state for srv and fast retries.
func enrolledRunner(t *testing.T, srv *fakeServer, logs io.Writer) *agentRunner {
	t.Helper()
	state := filepath.Join(t.TempDir(), "agent.json")
	if err := saveAgentState(state, agentState{Server: srv.URL, EndpointID: 42, Credential: "sbc_7_42_secret"}); err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	return &agentRunner{statePath: state, client: &http.Client{Timeout: 5 * time.Second},
		log: slog.New(slog.NewTextHandler(logs, nil)), collect: c.collect, retryBase: 20 * time.Millisecond, retryCap: 100 * time.Millisecond}
}

func TestAgentRetriesWithBackoff(t *testing.T) {
	srv := newFakeServer(t)
	srv.failFirst = 2
	var logs syncBuffer
	a := enrolledRunner(t, srv, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.run(ctx) }()
	srv.waitDelivered(t)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := srv.attempts.Load(); n < 3 {
		t.Fatalf("%d attempts, want 3 (two refused, one delivered)", n)
	}
	if got := strings.Count(logs.String(), "check-in failed; retrying"); got != 2 {
		t.Fatalf("%d failure lines, want one per failed attempt (2):\n%s", got, logs.String())
	}

	// The waits grow and are capped, with jitter inside [d/2, d].
	var b backoff
	for i, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute} {
		if d := b.next(time.Second, time.Minute); d < want/2 || d > want {
			t.Fatalf("wait %d = %s, want within [%s, %s]", i, d, want/2, want)
		}
	}
	b.reset()
	if d := b.next(time.Second, time.Minute); d > time.Second {
		t.Fatalf("after reset: %s", d)
	}
}

func TestAgentUnreachableServer(t *testing.T) {
	srv := newFakeServer(t)
	var logs syncBuffer
	a := enrolledRunner(t, srv, &logs)
	srv.Close() // nothing listens there any more
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := a.run(ctx); err != nil {
		t.Fatalf("an unreachable server must be retried until stopped, got %v", err)
	}
	if !strings.Contains(logs.String(), "check-in failed; retrying") {
		t.Fatalf("no retry logged:\n%s", logs.String())
	}
}

func TestAgentStopsWhenCredentialRevoked(t *testing.T) {
	srv := newFakeServer(t)
	srv.status = http.StatusUnauthorized
	a := enrolledRunner(t, srv, io.Discard)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := a.run(ctx)
	if err == nil || exitStatus(err) != 1 || !strings.Contains(err.Error(), "revoked") || !strings.Contains(err.Error(), "no longer valid") {
		t.Fatalf("revoked credential: %v", err)
	}
}

// TestAgentAgainstRealAPI runs the agent against the real server on the
// test database: enrollment with a real token, then a check-in that lands
// in the tenant's inventory.
func TestAgentAgainstRealAPI(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The whole real server, so the agent routes are tested as wired.
	e, _, ts := testServer(t)
	svc := e.agents
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "agent-e2e", Name: "Agent end to end"})
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := svc.CreateToken(ctx, e.tenants.Scope(tn), "e2e", time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}

	state := filepath.Join(t.TempDir(), "agent.json")
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		logs, err := runAgent(runCtx, "--server", ts.URL, "--token", token, "--state", state, "--log-level", "debug")
		if err != nil {
			err = errors.New(err.Error() + "\n" + logs)
		}
		done <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	var eps []agents.Endpoint
	for time.Now().Before(deadline) {
		if eps, err = svc.ListEndpoints(ctx, e.tenants.Scope(tn)); err == nil && len(eps) == 1 && eps[0].CPUPercent != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	hostname, _ := os.Hostname()
	if len(eps) != 1 || eps[0].Hostname != hostname || eps[0].CPUPercent == nil || len(eps[0].Disks) == 0 {
		t.Fatalf("endpoints after the agent ran: %+v", eps)
	}
}

// tokenCLI runs "switchboard tenant enrollment-token …" in-process on the
// test database (the command is added here until the tenant command lists it).
func tokenCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	root := newRootCommand()
	tenant, _, err := root.Find([]string{"tenant"})
	if err != nil {
		t.Fatal(err)
	}
	if c, _, err := root.Find([]string{"tenant", "enrollment-token"}); err != nil || c.Name() != "enrollment-token" {
		cmd := tenantEnrollmentTokenCommand()
		setArgsAsUsage(cmd)
		tenant.AddCommand(cmd)
	}
	full := append([]string{"tenant", "enrollment-token"}, args...)
	full = append(full, "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL(), "--log-level", "warn")
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(full)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err = root.ExecuteContext(ctx)
	r := cliResult{args: full, code: exitStatus(err), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.errMsg = err.Error()
	}
	return r
}

func TestEnrollmentTokenCLI(t *testing.T) {
	expect(t, cli(t, "migrate"), 0)
	expect(t, cli(t, "tenant", "create", "--slug", "tok-cli", "--name", "Token CLI"), 0)

	r := tokenCLI(t, "create", "tok-cli", "--name", "office PCs", "--ttl", "72h", "--max-uses", "3")
	expect(t, r, 0, "office PCs", "cannot be shown again", "switchboard agent --server URL --token sbe_")
	if !regexp.MustCompile(`(?m)^sbe_[0-9]+_[a-z2-7]{32}$`).MatchString(r.stdout) {
		t.Fatalf("no token line in\n%s", r)
	}
	r = tokenCLI(t, "list", "tok-cli", "-o", "json")
	expect(t, r, 0)
	var toks []agents.EnrollmentToken
	if err := json.Unmarshal([]byte(r.stdout), &toks); err != nil || len(toks) != 1 || toks[0].MaxUses != 3 || !strings.HasPrefix(toks[0].CreatedBy, "cli:") {
		t.Fatalf("list: %v %+v\n%s", err, toks, r)
	}
	expect(t, tokenCLI(t, "list", "tok-cli"), 0, "office PCs", "0/3")
	expect(t, tokenCLI(t, "revoke", "tok-cli", strconv.FormatInt(toks[0].ID, 10)), 0, "revoked")
	expect(t, tokenCLI(t, "revoke", "tok-cli", strconv.FormatInt(toks[0].ID, 10)), 2, "no live enrollment token")
	expect(t, tokenCLI(t, "revoke", "tok-cli", "abc"), 2, "must be a number")
	expect(t, tokenCLI(t, "create", "tok-cli", "--name", "x", "--max-uses", "0"), 2, "maximum uses")
	expect(t, tokenCLI(t, "create", "tok-cli"), 2, "--name is required")
	expect(t, tokenCLI(t, "create", "no-such-client", "--name", "x"), 2)
}
