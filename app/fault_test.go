package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"switchboard/modules/notify"
	"switchboard/platform/failpoint"
)

// TestCrashBetweenCommitAndDelivery kills serve (SIGKILL, from inside, at a
// named point) between an alert's commit and its delivery. After a restart
// the alert is delivered as if nothing had happened: once, or, when the
// process died after the receiver got it and before the delivery was
// recorded, once more with the same delivery id (at least once; the id lets
// the receiver drop the repeat). At the outbox point a delivery worker may
// already be sending when the process dies, so either can happen there.
func TestCrashBetweenCommitAndDelivery(t *testing.T) {
	r := newFaultRig(t)
	client := &http.Client{Timeout: 10 * time.Second}
	cases := []struct {
		point    string
		answered bool // the monitoring tool got its 202 before the crash
		sends    []int
	}{
		{failpoint.IngestCommitted, false, []int{1}},
		{failpoint.OutboxHandled, true, []int{1, 2}},
		{failpoint.DeliverySent, true, []int{2}},
	}
	for _, c := range cases {
		t.Run(c.point, func(t *testing.T) {
			crashing := r.start(failpoint.Env+"="+c.point, "SWITCHBOARD_JOBS_TIMEOUT=2s")
			rule := "crash-at-" + c.point
			status := r.post(client, rule)
			if c.answered != (status == http.StatusAccepted) {
				t.Fatalf("POST answered %d; want an answer: %v", status, c.answered)
			}
			crashing.wait(t, 20*time.Second)
			var exit *exec.ExitError
			if !errors.As(crashing.err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("serve ended with %v, not at the failpoint:\n%s", crashing.err, crashing.logTail())
			}
			restarted := r.start("SWITCHBOARD_JOBS_TIMEOUT=2s")
			took := r.waitSettled([]string{rule}, 60*time.Second)
			t.Logf("delivered and settled %v after the restart", took.Round(10*time.Millisecond))
			if got := r.recv.count(rule); !slices.Contains(c.sends, got) {
				t.Errorf("%d deliveries, want one of %v", got, c.sends)
			}
			if !r.stored()[rule] {
				t.Error("the alert is not stored")
			}
			restarted.kill(t)
		})
	}
	if repeated, sameID := r.recv.repeats(); repeated != sameID {
		t.Errorf("%d repeated deliveries, %d of them with an id already seen: every repeat must carry its first delivery's id", repeated, sameID)
	}
}

// loadResult is what the load's clients saw.
type loadResult struct {
	mu        sync.Mutex
	accepted  []string
	statuses  map[int]int
	slowest   time.Duration
	requests  int
	afterDown int // answers (of any status) while the fault lasted
}

func (l *loadResult) record(status int, took time.Duration, rules []string, down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.statuses[status]++
	l.requests++
	l.slowest = max(l.slowest, took)
	if status == http.StatusAccepted {
		l.accepted = append(l.accepted, rules...)
	}
	if down {
		l.afterDown++
	}
}

// runFaultLoad posts batches of 5 alerts from 4 clients, each batch retried
// (bounded) until accepted, and returns when every batch was accepted or
// gave up. fault runs once progress passes a quarter of the load.
func runFaultLoad(t *testing.T, r *faultRig, prefix string, batches int, fault func(), down *atomic.Bool) *loadResult {
	t.Helper()
	res := &loadResult{statuses: map[int]int{}}
	client := &http.Client{Timeout: 5 * time.Second}
	var sent atomic.Int64
	var wg sync.WaitGroup
	faulted := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := 0; b < batches; b++ {
				rules := ruleNames(fmt.Sprintf("%s-w%d-b%03d", prefix, w, b), 5)
				for attempt := 0; attempt < 400; attempt++ { // ≤ 400 × (5 s or 25 ms): bounded
					start := time.Now()
					status := r.post(client, rules...)
					res.record(status, time.Since(start), rules, down.Load())
					if status == http.StatusAccepted {
						break
					}
					time.Sleep(25 * time.Millisecond)
				}
				if sent.Add(1) == int64(batches) { // a quarter of 4 × batches
					close(faulted)
				}
			}
		}(w)
	}
	select {
	case <-faulted:
		fault()
	case <-time.After(2 * time.Minute):
		t.Fatal("the load made no progress")
	}
	wg.Wait()
	return res
}

// checkAccounting: every alert answered 2xx is stored and was delivered,
// every stored alert was delivered, and the clients saw no hang.
func checkAccounting(t *testing.T, r *faultRig, res *loadResult) {
	t.Helper()
	took := r.waitSettled(res.accepted, 90*time.Second)
	stored := r.stored()
	for _, rule := range res.accepted {
		if !stored[rule] {
			t.Errorf("accepted alert %s is not stored", rule)
		}
	}
	var storedRules []string
	for rule := range stored {
		storedRules = append(storedRules, rule)
	}
	if missing := r.recv.missing(storedRules); len(missing) > 0 {
		t.Errorf("%d stored alerts were never delivered, e.g. %s", len(missing), missing[0])
	}
	repeated, sameID := r.recv.repeats()
	t.Logf("%d requests, statuses %v, slowest answer %v; %d alerts accepted, %d stored; settled %v after the load; %d repeated deliveries (%d with an id already seen)",
		res.requests, res.statuses, res.slowest.Round(time.Millisecond), len(res.accepted), len(stored), took.Round(10*time.Millisecond), repeated, sameID)
	if res.slowest > 6*time.Second {
		t.Errorf("a request waited %v: clients must get an answer, not a hang", res.slowest)
	}
	if repeated != sameID {
		t.Errorf("%d repeated deliveries carried a new delivery id: a receiver could not drop them", repeated-sameID)
	}
}

// TestServeKilledUnderLoad: serve is killed (SIGKILL) in the middle of a
// load and started again; every alert answered 2xx is stored and notified.
func TestServeKilledUnderLoad(t *testing.T) {
	r := newFaultRig(t)
	first := r.start("SWITCHBOARD_JOBS_TIMEOUT=2s")
	var down atomic.Bool
	res := runFaultLoad(t, r, "kill-serve", 40, func() {
		down.Store(true)
		first.kill(t)
		begin := time.Now()
		r.start("SWITCHBOARD_JOBS_TIMEOUT=2s")
		down.Store(false)
		t.Logf("serve was down %v (kill, restart, ready)", time.Since(begin).Round(time.Millisecond))
	}, &down)
	if res.statuses[0] == 0 {
		t.Error("no client noticed the crash: the fault came too late")
	}
	checkAccounting(t, r, res)
}

// TestPostgresKilledUnderLoad: PostgreSQL is killed (SIGKILL of its
// postmaster, which this test started) under load, and started again on the
// same port. Meanwhile clients get 503 answers, not hangs; serve recovers
// without a restart; every alert answered 2xx is stored and notified.
func TestPostgresKilledUnderLoad(t *testing.T) {
	r := newFaultRig(t)
	r.start("SWITCHBOARD_JOBS_TIMEOUT=2s")
	var down atomic.Bool
	var during *loadResult
	res := runFaultLoad(t, r, "kill-pg", 40, func() {
		pid, alive := postmasterAlive(r.pgDir)
		if !alive {
			t.Fatal("the rig's postmaster is not running")
		}
		down.Store(true)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Let the clients meet the outage for a while.
		probe := &http.Client{Timeout: 6 * time.Second}
		during = &loadResult{statuses: map[int]int{}}
		for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			start := time.Now()
			req, _ := http.NewRequest(http.MethodPost, r.base+"/api/v1/alerts", strings.NewReader(`{"source":"probe","rule":"probe","severity":"critical"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+r.apiKey)
			resp, err := probe.Do(req)
			status := 0
			if err == nil {
				status = resp.StatusCode
				if status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Error("503 without Retry-After")
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			during.record(status, time.Since(start), nil, true)
		}
		begin := time.Now()
		if _, err := restartRigPostgres(r); err != nil {
			t.Fatal(err)
		}
		down.Store(false)
		t.Logf("PostgreSQL restarted in %v; probes during the outage: %v", time.Since(begin).Round(time.Millisecond), during.statuses)
	}, &down)
	if during.statuses[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no 503 while the database was down: %v", during.statuses)
	}
	for status := range during.statuses {
		if status == http.StatusInternalServerError || status == 0 {
			t.Errorf("during the outage a client got %d (want 503 with Retry-After)", status)
		}
	}
	if n := res.statuses[http.StatusInternalServerError]; n > 0 {
		t.Errorf("%d answers were 500 during the outage, want 503:\n%s", n, grepLines(r.serve.logAll(), "request failed"))
	}
	checkAccounting(t, r, res)
	if r.serve.cmd.ProcessState != nil {
		t.Fatal("serve exited; it must ride out a database restart")
	}
}

// restartRigPostgres starts the rig's cluster again after it was killed; it
// must come back on the same port so that serve's URL stays valid.
func restartRigPostgres(r *faultRig) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := r.pg.Port()
	pg, err := startRigCluster(ctx, r.pgDir)
	if err != nil {
		return 0, err
	}
	if pg.Port() != before {
		return 0, fmt.Errorf("PostgreSQL came back on port %d, not %d", pg.Port(), before)
	}
	r.pg = pg
	return pg.Port(), nil
}

// TestStuckJobsRescuedAfterKill: deliveries running when serve is killed
// (their receiver is slow) are not left "running" for River's default hour:
// a restarted serve retries them once jobs.timeout plus the rescue margin
// has passed.
func TestStuckJobsRescuedAfterKill(t *testing.T) {
	r := newFaultRig(t)
	var inFlight atomic.Int64
	r.recv.mu.Lock()
	r.recv.delay = func(rule string) time.Duration {
		if strings.HasPrefix(rule, "slow") {
			inFlight.Add(1)
			return time.Minute
		}
		return 0
	}
	r.recv.mu.Unlock()
	first := r.start("SWITCHBOARD_JOBS_TIMEOUT=3s")
	rules := ruleNames("slow", 3)
	if status := r.post(&http.Client{Timeout: 10 * time.Second}, rules...); status != http.StatusAccepted {
		t.Fatalf("POST: %d", status)
	}
	for deadline := time.Now().Add(20 * time.Second); inFlight.Load() < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries never reached the receiver:\n%s", first.logTail())
		}
	}
	first.kill(t)
	var running int64
	if err := r.e.cluster.ControlDB().Raw(`SELECT count(*) FROM control.river_job WHERE queue = ? AND state = 'running'`, notify.Queue).
		Scan(&running).Error; err != nil {
		t.Fatal(err)
	}
	if running != 3 {
		t.Fatalf("%d delivery jobs left running by the killed serve, want 3", running)
	}
	r.recv.mu.Lock()
	r.recv.delay = nil
	r.recv.mu.Unlock()
	begin := time.Now()
	r.start("SWITCHBOARD_JOBS_TIMEOUT=3s")
	took := r.waitSettled(rules, 90*time.Second)
	t.Logf("stuck deliveries finished %v after the restart (jobs.timeout 3 s + rescue margin 5 s)", time.Since(begin).Round(10*time.Millisecond))
	if took > 45*time.Second {
		t.Errorf("rescue took %v", took)
	}
}

// TestSIGTERMCompletesInFlight: a request still arriving when serve gets
// SIGTERM is answered; then serve exits cleanly.
func TestSIGTERMCompletesInFlight(t *testing.T) {
	r := newFaultRig(t)
	p := r.start()
	body, w := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, r.base+"/api/v1/alerts", body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+r.apiKey)
	answered := make(chan int, 1)
	go func() {
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			answered <- 0
			return
		}
		_ = resp.Body.Close()
		answered <- resp.StatusCode
	}()
	if _, err := io.WriteString(w, `{"alerts": [{"source": "term", "rule": "in-flight-1", "severity": "critical"},`); err != nil {
		t.Fatal(err)
	}
	// The write returned, so the request's connection is open. serve accepts
	// connections in order, so once a later connection is answered, this
	// one is in serve's hands (and Shutdown waits for it).
	if resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}).Get(r.base + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		_ = resp.Body.Close()
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(p.logTail(), "shutting down"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not begin shutting down:\n%s", p.logTail())
		}
	}
	if _, err := io.WriteString(w, ` {"source": "term", "rule": "in-flight-2", "severity": "critical"}]}`); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if status := <-answered; status != http.StatusAccepted {
		t.Fatalf("the in-flight request got %d during shutdown, want 202", status)
	}
	p.wait(t, 30*time.Second)
	if p.err != nil {
		t.Fatalf("serve exited with %v after SIGTERM:\n%s", p.err, p.logTail())
	}
	if s := r.stored(); !s["in-flight-1"] || !s["in-flight-2"] {
		t.Fatalf("stored %v", s)
	}
}

// grepLines returns the lines of text containing needle.
func grepLines(text, needle string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, needle) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
