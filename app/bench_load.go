package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"switchboard/config"
)

// loadTarget is the throughput goal on the 2-core machine.
const (
	loadTargetRate = 3000.0
	loadTargetP99  = 50 * time.Millisecond
)

// benchThroughput starts a real server on loopback (every middleware, the
// same binary's routes) and drives alert ingestion through it from a bounded
// load generator in this process, spread over every bench tenant.
func benchThroughput(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	fmt.Fprintf(stderr, "bench: alert ingestion load, %d requests from %d connections\n", opts.loadRequests, opts.loadConcurrency)
	return onLoadServer(ctx, b, opts, func(base string, keys []string) error {
		if err := benchConsoleHome(ctx, b, base, opts, t, stderr); err != nil {
			return err
		}
		if err := benchFloor(ctx, b, base, keys, opts, t, stderr); err != nil {
			return err
		}
		if err := benchPortal(ctx, b, base, opts, t, stderr); err != nil {
			return err
		}
		return benchBatches(ctx, b, base, keys, t, stderr)
	})
}

// benchHomeOnly is the console home of the load phase on its own, for
// profiling it (--only home --cpuprofile).
func benchHomeOnly(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	return onLoadServer(ctx, b, opts, func(base string, _ []string) error {
		return benchConsoleHome(ctx, b, base, opts, t, stderr)
	})
}

// benchIngestOnly is the anchor, alert ingestion and check-ins of the load
// phase on their own (--only ingest).
func benchIngestOnly(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	return onLoadServer(ctx, b, opts, func(base string, keys []string) error {
		return benchFloor(ctx, b, base, keys, opts, t, stderr)
	})
}

// onLoadServer runs fn against the load phase's server (its address and
// the tenants' API keys), under the CPU profile when one was asked for.
func onLoadServer(ctx context.Context, b *benchEnv, opts benchOptions, fn func(base string, keys []string) error) error {
	base, keys, stop, err := startLoadServer(ctx, b)
	if err != nil {
		return err
	}
	defer stop()
	stopProfile, err := startCPUProfile(opts.cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	return fn(base, keys)
}

// startCPUProfile profiles this process into path (nothing when path is
// empty) until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, usagef("--cpuprofile: %v", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// waitIdle waits (at most 5 minutes) until no outbox is due and no job is
// waiting or running, and records how long the background took.
func waitIdle(ctx context.Context, b *benchEnv, t *benchTable, after string, stderr io.Writer) error {
	start := time.Now()
	var last time.Time
	for {
		var pending int64
		if err := b.load.cluster.ControlDB().WithContext(ctx).Raw(`SELECT count(*) FROM control.river_job
			WHERE state IN ('available', 'running', 'retryable') AND scheduled_at <= now() AND kind <> 'periodic'`).
			Scan(&pending).Error; err != nil {
			return err
		}
		servers, err := b.load.cluster.CellServers(ctx)
		if err != nil {
			return err
		}
		for _, srv := range servers { // outbox marks live on each tenant's server
			var due int64
			if err := srv.Admin().WithContext(ctx).Raw(`SELECT count(*) FROM control.outbox_due`).Scan(&due).Error; err != nil {
				return err
			}
			pending += due
		}
		if pending == 0 {
			t.info("background work left after "+after, fmtDuration(time.Since(start)))
			return nil
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("background work after %s still has %d items after 5 minutes", after, pending)
		}
		if time.Since(last) > 5*time.Second {
			fmt.Fprintf(stderr, "bench: waiting for background work after %s (%d left)\n", after, pending)
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loadRows adds a load phase's rate and latency rows.
func loadRows(t *benchTable, what, short string, lat []time.Duration, failed int64, elapsed time.Duration) {
	rate := float64(len(lat)) / elapsed.Seconds()
	t.rows = append(t.rows, benchRow{what, fmt.Sprintf("%.0f /s (%d requests, %d failed)", rate, len(lat), failed),
		fmt.Sprintf("≥ %.0f /s", loadTargetRate), yesNo(rate >= loadTargetRate && failed == 0)})
	t.info(short+" latency p50", fmtDuration(percentile(lat, 0.50)))
	t.atMost(short+" latency p99", percentile(lat, 0.99), loadTargetP99, "")
}

// enrollBenchEndpoints enrolls one endpoint on each of the first n tenants through the agents
// service (the same code the enroll API runs) and returns their credentials.
func enrollBenchEndpoints(ctx context.Context, b *benchEnv, n int) ([]string, []string, error) {
	list, err := b.load.tenants.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	list = list[:min(n, len(list))]
	creds := make([]string, 0, len(list))
	hosts := make([]string, 0, len(list))
	for _, tn := range list {
		token, _, err := b.load.agents.CreateToken(ctx, b.load.tenants.Scope(tn), "bench", time.Hour, 1)
		if err != nil {
			return nil, nil, err
		}
		host := "bench-" + tn.Slug
		enr, err := b.load.agents.Enroll(ctx, token, host, "linux")
		if err != nil {
			return nil, nil, err
		}
		creds, hosts = append(creds, enr.Credential), append(hosts, host)
	}
	return creds, hosts, nil
}

// startLoadServer gives the first manyTenants bench tenants an API key and serves the real
// handler on a loopback port.
func startLoadServer(ctx context.Context, b *benchEnv) (string, []string, func(), error) {
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		return "", nil, nil, err
	}
	cfg.Database.MaxConns = 40
	cfg.Notify.AllowPrivateNetworks = true // the batch phase's webhook listens on loopback
	// The console phase measures the home page, not sign-in: its owner signs
	// in with a password only.
	cfg.Security.RequireMFA = nil
	liftLimits(&cfg.Limits) // see bench_noisy.go: the limits are measured there
	cfg.Database.Cells = map[string]config.Cell{}
	for name, u := range b.cellURLs() {
		cfg.Database.Cells[name] = config.Cell{URL: u}
	}
	e := &env{cfg: cfg, log: b.log, url: b.pg.URL()}
	if err := e.connect(ctx, false, true); err != nil {
		return "", nil, nil, err
	}
	list, err := e.tenants.List(ctx)
	if err != nil {
		e.close()
		return "", nil, nil, err
	}
	// The load phases spread over at most manyTenants tenants; the rest of
	// the fleet is present (in the directory, the catalogs and the home page).
	list = list[:min(manyTenants, len(list))]
	keys := make([]string, 0, len(list))
	for _, tn := range list {
		_, key, err := e.tenants.CreateAPIKey(ctx, tn.Slug, "bench")
		if err != nil {
			e.close()
			return "", nil, nil, err
		}
		keys = append(keys, key)
	}
	b.load = e
	srvCtx, cancel := context.WithCancel(ctx)
	handler, err := buildServer(srvCtx, e)
	if err == nil {
		// Background work runs as in serve: drains, deliveries, deadlines
		// compete with the requests for the same two cores.
		err = startBackground(srvCtx, e)
	}
	if err != nil {
		cancel()
		e.close()
		return "", nil, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		e.close()
		return "", nil, nil, err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := func() {
		_ = srv.Close()
		cancel()
		e.close()
	}
	return "http://" + ln.Addr().String(), keys, stop, nil
}

// apiPost builds the JSON POSTs of the API load phases: the bearer token and
// body pick chooses, to url.
func apiPost(url string, pick func(*rand.Rand) (string, []byte)) func(context.Context, *rand.Rand) *http.Request {
	return func(ctx context.Context, r *rand.Rand) *http.Request {
		bearer, body := pick(r)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+bearer)
		return req
	}
}

// runLoad sends total requests, built by next, from workers connections and
// returns every successful (2xx) request's latency.
func runLoad(ctx context.Context, total, workers int, next func(context.Context, *rand.Rand) *http.Request) ([]time.Duration, int64, time.Duration, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	var (
		sent   atomic.Int64
		failed atomic.Int64
		mu     sync.Mutex
		lat    = make([]time.Duration, 0, total)
		wg     sync.WaitGroup
	)
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, seed*7+1))
			mine := make([]time.Duration, 0, total/workers+1)
			for sent.Add(1) <= int64(total) && ctx.Err() == nil {
				req := next(ctx, r)
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					failed.Add(1)
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(uint64(w + 1))
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, 0, 0, err
	}
	return lat, failed.Load(), time.Since(start), nil
}
