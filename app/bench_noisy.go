package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"switchboard/config"
	"switchboard/modules/alerts"
)

// The noisy-neighbour phase: quiet clients ingest at a steady, honest rate
// while one client floods the same API at ten times their combined rate
// (as fast as it is answered, when that is slower). The quiet clients'
// latency is measured alone, beside the flood with the production limits,
// and beside the flood with the limits lifted (what the limits are for).
const (
	noisyQuietClients = 50
	noisyQuietRate    = 200             // requests a second, over all quiet clients (4 each)
	noisyDuration     = 3 * time.Second // per run; noisyRounds runs per variant
	noisyRounds       = 7
	noisyLiftedRounds = 3 // the lifted variant is shown, not compared
	noisyQuietConns   = 32
	noisyFloodRate    = 2000 // requests a second: 10 times all quiet clients together
	noisyFloodConns   = 64
	noisyLead         = 1500 * time.Millisecond // the flood runs alone first: see noisyRun
	// targetNoisyP99 is how far the quiet clients' p99 beside the flood may
	// be from their p99 alone, with the limits on: the median of the runs'
	// p99s of each.
	targetNoisyP99 = 1.5
)

// liftLimits puts every ingestion limit out of reach: the load phases
// measure capacity, and their load generator is no honest client.
func liftLimits(l *config.Limits) {
	lifted := config.Rate{Rate: 1e6, Burst: 1e7}
	l.IngestPerKey, l.IngestPerClient, l.IngestAlertsPerClient, l.CheckinsPerEndpoint = lifted, lifted, lifted, lifted
}

// noisyVariant is one way of running the phase, and what its runs saw.
type noisyVariant struct {
	base, noisy string // the server; the flooding client's API key ("" for no flood)
	lat         []time.Duration
	runP99      []time.Duration // each run's own p99
	failed      int64
	flood       floodResult
}

// medianP99 is the median of the runs' p99s: the typical run's tail. The
// p99 of all runs' requests pooled is at the mercy of one stall of the
// machine (a 100 ms pause holds 20 requests, most of a pooled p99's 1 %),
// and such stalls come and go with or without a flood: the quiet clients
// alone ranged from 3 to 15 ms p99 between runs of 3 s.
func (v *noisyVariant) medianP99() time.Duration { return percentile(v.runP99, 0.5) }

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
	if opts.only == "noisy" { // the profile of this phase alone
		stopProfile, err := startCPUProfile(opts.cpuProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}

	// The last clients: the load phases start from the first ones.
	n := min(noisyQuietClients+1, len(keys))
	noisy, quiet := keys[len(keys)-1], keys[len(keys)-n:len(keys)-1]
	l := defaults.Limits
	fmt.Fprintf(stderr, "bench: noisy neighbour: %d clients at %d requests/s in all, one client flooding at %d/s from up to %d connections; %d rounds of %s\n",
		len(quiet), noisyQuietRate, noisyFloodRate, noisyFloodConns, noisyRounds, noisyDuration)
	// A short warm-up: connections, caches and the quiet clients' first alerts.
	if _, _, err := noisyRun(ctx, limitedBase, quiet, "", time.Second); err != nil {
		return err
	}
	alone := &noisyVariant{base: limitedBase}
	limited := &noisyVariant{base: limitedBase, noisy: noisy}
	lifted := &noisyVariant{base: liftedBase, noisy: noisy}
	run := func(v *noisyVariant) error {
		q, f, err := noisyRun(ctx, v.base, quiet, v.noisy, noisyDuration)
		if err != nil {
			return err
		}
		v.lat = append(v.lat, q.lat...)
		v.runP99 = append(v.runP99, percentile(q.lat, 0.99))
		v.failed += q.failed
		v.flood.add(f)
		// What the flood's alerts set off (SLA deadlines, deliveries) is
		// worked before the next run, which is measured on its own.
		return waitIdle(ctx, b, &benchTable{}, "a noisy-neighbour run", io.Discard)
	}
	// Alone and beside the limited flood take turns, in a rotating order,
	// so that drift (other work on the machine) spreads over both alike.
	// The flood with the limits lifted runs after them: the thousands of
	// alerts it gets stored leave the database work to do for a while,
	// which would otherwise land on whichever run came next.
	prog := newProgress(stderr, "noisy neighbour runs", 2*noisyRounds+noisyLiftedRounds)
	for r := range noisyRounds {
		for k := range 2 {
			if err := run([]*noisyVariant{alone, limited}[(k+r)%2]); err != nil {
				return err
			}
			prog.update(2*r + k + 1)
		}
	}
	for r := range noisyLiftedRounds {
		if err := run(lifted); err != nil {
			return err
		}
		prog.update(2*noisyRounds + r + 1)
	}

	row := func(what string, v *noisyVariant) {
		t.info(fmt.Sprintf("noisy neighbour: quiet clients' latency %s", what),
			fmt.Sprintf("p50 %s, p99 %s (median of runs' p99 %s; %d requests, %d failed)", fmtDuration(percentile(v.lat, 0.5)), fmtDuration(percentile(v.lat, 0.99)),
				fmtDuration(v.medianP99()), len(v.lat), v.failed))
		runs := make([]string, len(v.runP99))
		for i, p := range v.runP99 {
			runs[i] = fmt.Sprintf("%.1f", float64(p)/float64(time.Millisecond))
		}
		t.info(fmt.Sprintf("noisy neighbour: each run's p99 (ms), %s", what), strings.Join(runs, " "))
	}
	row("alone", alone)
	row("beside the flood, default limits", limited)
	row("beside the flood, limits lifted", lifted)
	floodRow := func(what string, f floodResult, runs int) {
		t.info("noisy neighbour: the flood, "+what, fmt.Sprintf("%d requests (%.0f /s): %d accepted, %d answered 429, %d other",
			f.Sent, float64(f.Sent)/(time.Duration(runs)*(noisyLead+noisyDuration)).Seconds(), f.Accepted, f.Limited, f.Other))
	}
	floodRow(fmt.Sprintf("default limits (%g/s, burst %d per key)", l.IngestPerKey.Rate, l.IngestPerKey.Burst), limited.flood, noisyRounds)
	floodRow("limits lifted", lifted.flood, noisyLiftedRounds)
	ratio := float64(limited.medianP99()) / float64(alone.medianP99())
	ok := ratio <= targetNoisyP99 && limited.failed == 0 && alone.failed == 0
	t.rows = append(t.rows, benchRow{"noisy neighbour: quiet p99 beside the flood / alone (default limits; median of runs)", fmt.Sprintf("%.2f×", ratio),
		fmt.Sprintf("≤ %.1f×", targetNoisyP99), yesNo(ok)})
	t.info("noisy neighbour: the same, all requests pooled", fmt.Sprintf("%.2f×", float64(percentile(limited.lat, 0.99))/float64(percentile(alone.lat, 0.99))))
	t.info("noisy neighbour: quiet p99 beside the flood / alone (limits lifted; median of runs)",
		fmt.Sprintf("%.2f×", float64(lifted.medianP99())/float64(alone.medianP99())))
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

// noisyRun sends the quiet clients' requests on a fixed schedule for d,
// each timed from when it was due (so a server that falls behind shows in
// the latency instead of slowing the schedule), and, if noisy is set, the
// flood at noisyFloodRate from up to noisyFloodConns connections at once,
// from its own process (startFlood). Each has its own connections: the
// flood never holds one the quiet clients would wait for on this side.
func noisyRun(ctx context.Context, base string, quiet []string, noisy string, d time.Duration) (quietResult, floodResult, error) {
	url := base + alerts.IngestPath
	var waitFlood func() (floodResult, error)
	if noisy != "" {
		var err error
		waitFlood, err = startFlood(ctx, floodOrder{URL: url, Key: noisy, Rate: noisyFloodRate,
			Total: int((noisyLead + d).Seconds() * noisyFloodRate), Conns: noisyFloodConns})
		if err != nil {
			return quietResult{}, floodResult{}, err
		}
		// The flood's first requests are its burst, admitted by design
		// (an Alertmanager flushing its groups after a restart looks the
		// same); the quiet clients are measured beside the flood itself.
		select {
		case <-ctx.Done():
		case <-time.After(noisyLead):
		}
	}
	send, closeIdle := newSender(ctx, url, noisyQuietConns)
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
	var f floodResult
	if waitFlood != nil {
		var err error
		if f, err = waitFlood(); err != nil {
			return quietResult{}, floodResult{}, err
		}
	}
	if err := ctx.Err(); err != nil {
		return quietResult{}, floodResult{}, err
	}
	return q, f, nil
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
