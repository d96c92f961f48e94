package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"switchboard/platform/pgtest"
)

func TestBenchFloorAnchorRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rate, p50, p99, err := benchAnchorRate(ctx, pgtest.URL(), 2, 200)
	if err != nil {
		t.Fatal(err)
	}
	if rate <= 0 || p50 <= 0 || p99 < p50 {
		t.Fatalf("rate %.1f/s, p50 %v, p99 %v: want a positive rate and 0 < p50 ≤ p99", rate, p50, p99)
	}
	t.Logf("anchor: %.0f tx/s, p50 %v, p99 %v", rate, p50, p99)

	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var left bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'bench_anchor')").Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left {
		t.Fatal("schema bench_anchor still exists after the run")
	}
}

func TestBenchFloorAnchorRateCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := benchAnchorRate(ctx, pgtest.URL(), 2, 200); err == nil {
		t.Fatal("a cancelled context gave no error")
	}
}

func TestBenchFloorBackends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	held, err := pgx.Connect(ctx, pgtest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close(ctx)
	var user string
	if err := held.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		t.Fatal(err)
	}

	anon, pid, backends, err := backendMemory(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	if anon <= 0 || pid <= 0 || backends < 1 {
		t.Fatalf("largest RssAnon %d bytes (pid %d) over %d backends: want positive values and ≥ 1 backend", anon, pid, backends)
	}
	t.Logf("backends: %d, largest RssAnon %d kB (pid %d)", backends, anon/1024, pid)

	byUser, total, maxConns, err := connectionBudget(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	if byUser[user] < 1 {
		t.Fatalf("connections by user %v: the held connection of %q is not counted", byUser, user)
	}
	sum := 0
	for _, n := range byUser {
		sum += n
	}
	if sum != total || total > maxConns || maxConns <= 0 {
		t.Fatalf("by user %v (sum %d), total %d, max_connections %d: inconsistent", byUser, sum, total, maxConns)
	}
	t.Logf("connections: %v, total %d of %d", byUser, total, maxConns)
}
