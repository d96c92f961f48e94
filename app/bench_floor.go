package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Shape of the anchor workload: the fingerprints alerts are drawn from and
// the counter rows their transactions spread over.
const (
	floorAnchorSchema       = "bench_anchor"
	floorAnchorFingerprints = 10000
	floorAnchorCounters     = 64
)

// benchAnchorRate measures the alert-shaped transaction issued straight through pgx, the floor our platform's ingest is compared against.
func benchAnchorRate(ctx context.Context, url string, concurrency, total int) (perSecond float64, p50, p99 time.Duration, err error) {
	if concurrency < 1 || total < 1 {
		return 0, 0, 0, fmt.Errorf("anchor: concurrency (%d) and total (%d) must be at least 1", concurrency, total)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("anchor: %w", err)
	}
	cfg.MaxConns = int32(concurrency)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("anchor: %w", err)
	}
	defer pool.Close()

	if err := floorAnchorSetup(ctx, pool); err != nil {
		_ = floorAnchorDrop(ctx, pool)
		return 0, 0, 0, err
	}
	// Runs before pool.Close (deferred earlier), and even when ctx is done.
	defer func() {
		if derr := floorAnchorDrop(ctx, pool); derr != nil && err == nil {
			err = derr
		}
	}()

	// Fingerprints, their labels and their counter rows are computed once so
	// that the timed loop does nothing but issue transactions.
	type alertShape struct {
		fingerprint, counter string
		labels               []byte
	}
	shapes := make([]alertShape, floorAnchorFingerprints)
	for i := range shapes {
		fp := fmt.Sprintf("fp-%05d", i)
		h := fnv.New32a()
		h.Write([]byte(fp))
		shapes[i] = alertShape{
			fingerprint: fp,
			counter:     fmt.Sprintf("c%02d", h.Sum32()%floorAnchorCounters),
			labels:      fmt.Appendf(nil, `{"host":"h%d","rule":"rule-%d"}`, i%100, i/100),
		}
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		lat      = make([]time.Duration, total)
		errOnce  sync.Once
		firstErr error
		ready    sync.WaitGroup
		done     sync.WaitGroup
		start    = make(chan struct{})
	)
	fail := func(e error) {
		errOnce.Do(func() { firstErr = e })
		cancel()
	}
	ready.Add(concurrency)
	done.Add(concurrency)
	for w := range concurrency {
		go func() {
			defer done.Done()
			// Connections are opened before the clock starts.
			conn, err := pool.Acquire(runCtx)
			ready.Done()
			if err != nil {
				fail(fmt.Errorf("anchor: acquiring a connection: %w", err))
				return
			}
			defer conn.Release()
			select {
			case <-start:
			case <-runCtx.Done():
				return
			}
			r := rand.New(rand.NewPCG(uint64(w)+1, 0x5eed))
			for runCtx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(total) {
					return
				}
				s := shapes[r.IntN(len(shapes))]
				t0 := time.Now()
				if err := floorAnchorTx(runCtx, conn.Conn(), s.fingerprint, s.counter, s.labels); err != nil {
					fail(err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return 0, 0, 0, firstErr
	}
	if err := ctx.Err(); err != nil {
		return 0, 0, 0, fmt.Errorf("anchor: %w", err)
	}
	slices.Sort(lat)
	return float64(total) / elapsed.Seconds(), floorPercentile(lat, 0.50), floorPercentile(lat, 0.99), nil
}

// floorAnchorTx runs one alert transaction as a single pipelined batch (BEGIN … COMMIT), one round trip, as the fastest honest client would.
func floorAnchorTx(ctx context.Context, conn *pgx.Conn, fingerprint, counter string, labels []byte) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(`INSERT INTO bench_anchor.alerts (fingerprint, status, severity, summary, labels, count, first_seen, last_seen)
VALUES ($1, 'firing', 'warning', 'anchor', $2, 1, now(), now())
ON CONFLICT (fingerprint) DO UPDATE SET count = alerts.count + 1, last_seen = now()
RETURNING id`, fingerprint, labels)
	// The upsert above is visible to later statements of the transaction, so
	// the event finds its alert without a second round trip.
	b.Queue(`INSERT INTO bench_anchor.alert_events (alert_id, kind, body, at)
SELECT id, 'received', $2, now() FROM bench_anchor.alerts WHERE fingerprint = $1`, fingerprint, labels)
	b.Queue(`UPDATE bench_anchor.counters SET value = value + 1 WHERE name = $1`, counter)
	b.Queue("COMMIT")

	br := conn.SendBatch(ctx, b)
	err := func() error {
		if _, err := br.Exec(); err != nil {
			return err
		}
		var id int64
		if err := br.QueryRow().Scan(&id); err != nil {
			return err
		}
		for _, want := range []string{"event", "counter"} {
			tag, err := br.Exec()
			if err != nil {
				return err
			}
			if tag.RowsAffected() != 1 {
				return fmt.Errorf("%s row: %d rows affected, want 1", want, tag.RowsAffected())
			}
		}
		_, err := br.Exec()
		return err
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// A failed pipeline leaves the explicit transaction open; end it so
		// the connection goes back to the pool clean (a closed one is dropped).
		if !conn.IsClosed() {
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			rcancel()
		}
		return fmt.Errorf("anchor: transaction for %s: %w", fingerprint, err)
	}
	return nil
}

// floorAnchorSetup creates the anchor schema afresh, so that every run starts from the same empty tables.
func floorAnchorSetup(ctx context.Context, pool *pgxpool.Pool) error {
	stmts := []string{
		"DROP SCHEMA IF EXISTS " + floorAnchorSchema + " CASCADE",
		"CREATE SCHEMA " + floorAnchorSchema,
		`CREATE TABLE bench_anchor.alerts (
	id bigserial PRIMARY KEY,
	fingerprint text UNIQUE,
	status text,
	severity text,
	summary text,
	labels jsonb,
	count int,
	first_seen timestamptz,
	last_seen timestamptz)`,
		`CREATE TABLE bench_anchor.alert_events (
	id bigserial PRIMARY KEY,
	alert_id bigint,
	kind text,
	body jsonb,
	at timestamptz)`,
		`CREATE TABLE bench_anchor.counters (name text PRIMARY KEY, value bigint)`,
		fmt.Sprintf(`INSERT INTO bench_anchor.counters (name, value)
SELECT 'c' || lpad(g::text, 2, '0'), 0 FROM generate_series(0, %d) g`, floorAnchorCounters-1),
	}
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("anchor: setting up schema %s: %w", floorAnchorSchema, err)
		}
	}
	return nil
}

// floorAnchorDrop removes the anchor schema under its own deadline, so that it is cleaned up even after ctx is cancelled.
func floorAnchorDrop(ctx context.Context, pool *pgxpool.Pool) error {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if _, err := pool.Exec(dctx, "DROP SCHEMA IF EXISTS "+floorAnchorSchema+" CASCADE"); err != nil {
		return fmt.Errorf("anchor: dropping schema %s: %w", floorAnchorSchema, err)
	}
	return nil
}

// floorPercentile returns the nearest-rank p-th percentile (0 < p ≤ 1) of sorted, kept here so this file depends on no other bench code.
func floorPercentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// backendMemory reports the largest private (RssAnon) memory of any client backend, since VmRSS also counts the shared buffers every backend touches.
func backendMemory(ctx context.Context, adminURL string) (largestRSSAnon int64, largestPid int, backends int, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("backend memory: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY pid`)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("backend memory: listing backends: %w", err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0, 0, 0, fmt.Errorf("backend memory: listing backends: %w", err)
	}
	for _, pid := range pids {
		anon, ok, err := floorRSSAnon(int(pid))
		if err != nil {
			return 0, 0, 0, fmt.Errorf("backend memory: %w", err)
		}
		if !ok {
			continue // exited since the listing
		}
		backends++
		if anon > largestRSSAnon || largestPid == 0 {
			largestRSSAnon, largestPid = anon, int(pid)
		}
	}
	return largestRSSAnon, largestPid, backends, nil
}

// floorRSSAnon reads RssAnon bytes from /proc/<pid>/status (ok is false if the process is gone), refusing non-postgres pids since those mean the server is not local.
func floorRSSAnon(pid int) (bytesAnon int64, ok bool, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var name string
	anon := int64(-1)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, val, found := bytes.Cut(sc.Bytes(), []byte(":"))
		if !found {
			continue
		}
		switch string(key) {
		case "Name":
			name = string(bytes.TrimSpace(val))
		case "RssAnon":
			f := bytes.Fields(val) // "1234 kB"
			if len(f) != 2 || string(f[1]) != "kB" {
				return 0, false, fmt.Errorf("pid %d: unexpected RssAnon line %q", pid, sc.Text())
			}
			kb, err := strconv.ParseInt(string(f[0]), 10, 64)
			if err != nil {
				return 0, false, fmt.Errorf("pid %d: RssAnon: %w", pid, err)
			}
			anon = kb * 1024
		}
	}
	if name == "" && anon < 0 {
		return 0, false, nil // a process exiting mid-read shows an empty status
	}
	if name != "postgres" && name != "postmaster" {
		return 0, false, fmt.Errorf("pid %d is %q, not a postgres backend: is the server running on this machine?", pid, name)
	}
	if anon < 0 {
		return 0, false, fmt.Errorf("pid %d: no RssAnon in /proc/%d/status (needs Linux 4.5 or later)", pid, pid)
	}
	return anon, true, nil
}

// connectionBudget reports client connections per user against max_connections, to see how much of the server's connection budget each role uses (the measuring connection itself is not counted).
func connectionBudget(ctx context.Context, adminURL string) (byUser map[string]int, total int, maxConnections int, err error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("connection budget: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.QueryRow(ctx, "SELECT current_setting('max_connections')::int").Scan(&maxConnections); err != nil {
		return nil, 0, 0, fmt.Errorf("connection budget: max_connections: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT coalesce(usename, ''), count(*) FROM pg_stat_activity
WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() GROUP BY 1`)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("connection budget: %w", err)
	}
	byUser = map[string]int{}
	var (
		user string
		n    int
	)
	if _, err := pgx.ForEachRow(rows, []any{&user, &n}, func() error {
		byUser[user] = n
		total += n
		return nil
	}); err != nil {
		return nil, 0, 0, fmt.Errorf("connection budget: %w", err)
	}
	return byUser, total, maxConnections, nil
}
