package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/config"
)

// The noisy-neighbour phase: quiet clients ingest at a steady, honest rate
// while one client floods the same API at ten times their combined rate
// (as fast as it is answered, when that is slower). The quiet clients'
// latency is measured alone, beside the flood with the production limits,
// and beside the flood with the limits lifted (what the limits are for).
const (
	noisyQuietClients = 50
	noisyQuietRate    = 200             // requests a second, over all quiet clients (4 each)
	noisyDuration     = 4 * time.Second // per run; noisyRounds runs per variant
	noisyRounds       = 3
	noisyQuietConns   = 32
	noisyFloodRate    = 2000 // requests a second: 10 times all quiet clients together
	noisyFloodConns   = 64
	noisyLead         = 1500 * time.Millisecond // the flood runs alone first: see noisyRun
	// targetNoisyP99 is how far the quiet clients' p99 beside the flood may
	// be from their p99 alone, with the limits on.
	targetNoisyP99 = 1.5
)

// liftLimits puts every ingestion limit out of reach: the load phases
// measure capacity, and their load generator is no honest client.
func liftLimits(l *config.Limits) {
	lifted := config.Rate{Rate: 1e6, Burst: 1e7}
	l.IngestPerKey, l.IngestPerClient, l.IngestAlertsPerClient, l.CheckinsPerEndpoint = lifted, lifted, lifted, lifted
}

// benchNoisy runs the phase on a server with the production default limits
// and on the load server (limits lifted), both over the same services.
func benchNoisy(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	liftedBase, keys, stop, err := startLoadServer(ctx, b)
	if err != nil {
		return err
	}
	defer stop()
	if len(keys) < 2 {
		return fmt.Errorf("the noisy-neighbour phase needs at least 2 tenants, not %d", len(keys))
	}
	defaults, err := config.Load("", nil, nil)
	if err != nil {
		return err
	}
	limitedBase, stopLimited, err := serveWithLimits(ctx, b.load, defaults.Limits)
	if err != nil {
		return err
	}
	defer stopLimited()

	// The last clients: the load phases start from the first ones.
	n := min(noisyQuietClients+1, len(keys))
	noisy, quiet := keys[len(keys)-1], keys[len(keys)-n:len(keys)-1]
	l := defaults.Limits
	fmt.Fprintf(stderr, "bench: noisy neighbour: %d clients at %d requests/s in all, one client flooding at %d/s from up to %d connections; %d rounds of %s per variant\n",
		len(quiet), noisyQuietRate, noisyFloodRate, noisyFloodConns, noisyRounds, noisyDuration)
	// A short warm-up: connections, caches and the quiet clients' first alerts.
	if _, _, err := noisyRun(ctx, limitedBase, quiet, "", time.Second); err != nil {
		return err
	}
	// The variants take turns, in a rotating order, so that drift (other
	// work on the machine, autovacuum) spreads over all of them alike.
	variants := []struct {
		base, noisy string
		quiet       quietResult
		flood       floodResult
	}{{base: limitedBase}, {base: limitedBase, noisy: noisy}, {base: liftedBase, noisy: noisy}}
	for r := range noisyRounds {
		for k := range variants {
			v := &variants[(k+r)%len(variants)]
			q, f, err := noisyRun(ctx, v.base, quiet, v.noisy, noisyDuration)
			if err != nil {
				return err
			}
			v.quiet.lat = append(v.quiet.lat, q.lat...)
			v.quiet.failed += q.failed
			v.flood.add(f)
			// What the flood's alerts set off (SLA deadlines, deliveries) is
			// worked before the next run, which is measured on its own.
			if err := waitIdle(ctx, b, &benchTable{}, "a noisy-neighbour run", io.Discard); err != nil {
				return err
			}
		}
	}
	alone, limited, lifted := variants[0].quiet, variants[1].quiet, variants[2].quiet
	flood, floodLifted := variants[1].flood, variants[2].flood

	row := func(what string, q quietResult) {
		t.info(fmt.Sprintf("noisy neighbour: quiet clients' latency %s", what),
			fmt.Sprintf("p50 %s, p99 %s (%d requests, %d failed)", fmtDuration(percentile(q.lat, 0.5)), fmtDuration(percentile(q.lat, 0.99)), len(q.lat), q.failed))
	}
	row("alone", alone)
	row("beside the flood, default limits", limited)
	row("beside the flood, limits lifted", lifted)
	floodRow := func(what string, f floodResult) {
		t.info("noisy neighbour: the flood, "+what, fmt.Sprintf("%d requests (%.0f /s): %d accepted, %d answered 429, %d other",
			f.sent, float64(f.sent)/(noisyRounds*(noisyLead+noisyDuration)).Seconds(), f.accepted, f.limited, f.other))
	}
	floodRow(fmt.Sprintf("default limits (%g/s, burst %d per key)", l.IngestPerKey.Rate, l.IngestPerKey.Burst), flood)
	floodRow("limits lifted", floodLifted)
	ratio := float64(percentile(limited.lat, 0.99)) / float64(percentile(alone.lat, 0.99))
	ok := ratio <= targetNoisyP99 && limited.failed == 0 && alone.failed == 0
	t.rows = append(t.rows, benchRow{"noisy neighbour: quiet p99 beside the flood / alone (default limits)", fmt.Sprintf("%.2f×", ratio),
		fmt.Sprintf("≤ %.1f×", targetNoisyP99), yesNo(ok)})
	t.info("noisy neighbour: quiet p99 beside the flood / alone (limits lifted)",
		fmt.Sprintf("%.2f×", float64(percentile(lifted.lat, 0.99))/float64(percentile(alone.lat, 0.99))))
	return nil
}

// serveWithLimits serves e's services with limits on a loopback port: a
// second server beside the load server, built the way serve builds one.
func serveWithLimits(ctx context.Context, e *env, limits config.Limits) (string, func(), error) {
	cfg := *e.cfg
	cfg.Limits = limits
	limited := *e
	limited.cfg = &cfg
	srvCtx, cancel := context.WithCancel(ctx)
	handler, err := buildServer(srvCtx, &limited)
	if err != nil {
		cancel()
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return "", nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close(); cancel() }, nil
}

// quietResult is what the quiet clients saw in one run.
type quietResult struct {
	lat    []time.Duration // of accepted requests
	failed int64           // anything but 202, 429 included
}

// floodResult counts the flood's answers.
type floodResult struct{ sent, accepted, limited, other int64 }

func (f *floodResult) add(g floodResult) {
	f.sent, f.accepted, f.limited, f.other = f.sent+g.sent, f.accepted+g.accepted, f.limited+g.limited, f.other+g.other
}

// noisyRun sends the quiet clients' requests on a fixed schedule for d,
// each timed from when it was due (so a server that falls behind shows in
// the latency instead of slowing the schedule), and, if noisy is set, the
// flood at noisyFloodRate from up to noisyFloodConns connections at once.
// Each has its own connections: the flood never holds one the quiet
// clients would wait for on this side.
func noisyRun(ctx context.Context, base string, quiet []string, noisy string, d time.Duration) (quietResult, floodResult, error) {
	url := base + "/api/v1/alerts"
	sender := func(conns int) (func(key string, body []byte) (int, error), func()) {
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
		return func(key string, body []byte) (int, error) {
			// Not cancelled with ctx's end of the run: a request in flight
			// is answered, not cut off (which the server logs as a failure).
			req := apiPost(url, func(*rand.Rand) (string, []byte) { return key, body })(context.WithoutCancel(ctx), nil)
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return resp.StatusCode, nil
		}, client.CloseIdleConnections
	}

	var flood struct{ sent, accepted, limited, other atomic.Int64 }
	var floodWG sync.WaitGroup
	if noisy != "" {
		send, closeIdle := sender(noisyFloodConns)
		defer closeIdle()
		floodWG.Go(func() {
			paced(ctx, noisyFloodRate, int((noisyLead+d).Seconds()*noisyFloodRate), noisyFloodConns, false, func(i int, _ time.Time) {
				flood.sent.Add(1)
				status, err := send(noisy, fmt.Appendf(nil, `{"source":"flood","rule":"flood","severity":"critical","labels":{"n":"%d"}}`, i%1000))
				switch {
				case err == nil && status == http.StatusAccepted:
					flood.accepted.Add(1)
				case err == nil && status == http.StatusTooManyRequests:
					flood.limited.Add(1)
				default:
					flood.other.Add(1)
				}
			})
		})
	}

	if noisy != "" {
		// The flood's first requests are its burst, admitted by design
		// (an Alertmanager flushing its groups after a restart looks the
		// same); the quiet clients are measured beside the flood itself.
		select {
		case <-ctx.Done():
		case <-time.After(noisyLead):
		}
	}
	send, closeIdle := sender(noisyQuietConns)
	defer closeIdle()
	total := int(d.Seconds() * noisyQuietRate)
	var (
		mu sync.Mutex
		q  = quietResult{lat: make([]time.Duration, 0, total)}
	)
	paced(ctx, noisyQuietRate, total, noisyQuietConns, true, func(i int, due time.Time) {
		// 20 rules × 10 hosts a client, as the load phases: mostly repeats.
		body := fmt.Appendf(nil, `{"source":"quiet","rule":"rule-%d","severity":"warning","labels":{"host":"h%d"}}`, i%20, (i/20)%10)
		status, err := send(quiet[i%len(quiet)], body)
		took := time.Since(due)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || status != http.StatusAccepted {
			q.failed++
			return
		}
		q.lat = append(q.lat, took)
	})
	floodWG.Wait()
	if err := ctx.Err(); err != nil {
		return quietResult{}, floodResult{}, err
	}
	return q, floodResult{sent: flood.sent.Load(), accepted: flood.accepted.Load(), limited: flood.limited.Load(), other: flood.other.Load()}, nil
}

// paced calls do total times at rate a second from workers goroutines and
// returns when all calls have returned. With keep, every call is dispatched
// on schedule however long earlier calls take (an open loop: what honest
// clients do); without, a call waits for a free worker (a flood is limited
// by the connections it has).
func paced(ctx context.Context, rate float64, total, workers int, keep bool, do func(i int, due time.Time)) {
	type slot struct {
		i   int
		due time.Time
	}
	size := workers
	if keep {
		size = total
	}
	slots := make(chan slot, size)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for s := range slots {
				do(s.i, s.due)
			}
		})
	}
	start := time.Now()
	for i := 0; i < total && ctx.Err() == nil; i++ {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		slots <- slot{i, due}
	}
	close(slots)
	wg.Wait()
}
