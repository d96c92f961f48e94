package main

import (
	"bytes"
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
	base, keys, stop, err := startLoadServer(ctx, b)
	if err != nil {
		return err
	}
	defer stop()

	body := func(r *rand.Rand) []byte {
		// 20 rules × 10 hosts per tenant: after warm-up most requests repeat an
		// open alert (the dedupe path); the rest open new ones.
		return fmt.Appendf(nil, `{"source":"bench","rule":"rule-%d","severity":"warning","summary":"load","labels":{"host":"h%d"}}`,
			r.IntN(20), r.IntN(10))
	}
	lat, failed, elapsed, err := runLoad(ctx, base+"/api/v1/alerts", keys, opts.loadRequests, opts.loadConcurrency, body)
	if err != nil {
		return err
	}
	rate := float64(len(lat)) / elapsed.Seconds()
	t.rows = append(t.rows, benchRow{fmt.Sprintf("alerts ingested over %d tenants", len(keys)), fmt.Sprintf("%.0f /s (%d requests, %d failed)", rate, len(lat), failed),
		fmt.Sprintf("≥ %.0f /s", loadTargetRate), yesNo(rate >= loadTargetRate && failed == 0)})
	t.info("alert ingestion latency p50", fmtDuration(percentile(lat, 0.50)))
	t.atMost("alert ingestion latency p99", percentile(lat, 0.99), loadTargetP99, "")
	return nil
}

// startLoadServer gives every bench tenant an API key and serves the real
// handler on a loopback port.
func startLoadServer(ctx context.Context, b *benchEnv) (string, []string, func(), error) {
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		return "", nil, nil, err
	}
	cfg.Database.MaxConns = 40
	e := &env{cfg: cfg, log: b.log, url: b.pg.URL()}
	if err := e.connect(ctx, false); err != nil {
		return "", nil, nil, err
	}
	list, err := e.tenants.List(ctx)
	if err != nil {
		e.close()
		return "", nil, nil, err
	}
	keys := make([]string, 0, len(list))
	for _, tn := range list {
		_, key, err := e.tenants.CreateAPIKey(ctx, tn.Slug, "bench")
		if err != nil {
			e.close()
			return "", nil, nil, err
		}
		keys = append(keys, key)
	}
	srvCtx, cancel := context.WithCancel(ctx)
	handler, err := buildServer(srvCtx, e)
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
		e.cluster.Close()
	}
	return "http://" + ln.Addr().String(), keys, stop, nil
}

// runLoad sends total POSTs from workers connections, each with a random
// tenant's key, and returns every successful request's latency.
func runLoad(ctx context.Context, url string, keys []string, total, workers int, body func(*rand.Rand) []byte) ([]time.Duration, int64, time.Duration, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers}}
	var (
		next   atomic.Int64
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
			for next.Add(1) <= int64(total) && ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body(r)))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+keys[r.IntN(len(keys))])
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
