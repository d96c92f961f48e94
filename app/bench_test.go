package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestBenchFlagsAreUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"--tenants", "0"},
		{"--tenants", "1000000"},
		{"--workers", "0"},
		{"--workers", "65"},
		{"--reads", "0"},
	} {
		c := newBenchCommand()
		c.SetArgs(args)
		c.SetOut(&bytes.Buffer{})
		c.SetErr(&bytes.Buffer{})
		err := c.Execute()
		if err == nil || !isUserError(err) {
			t.Errorf("bench %v: got %v, want a usage error", args, err)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	ds := make([]time.Duration, 100)
	for i := range ds {
		ds[i] = time.Duration(100-i) * time.Millisecond // unsorted on purpose
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.50, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0.001, time.Millisecond}} {
		if got := percentile(ds, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if ds[0] != 100*time.Millisecond {
		t.Error("percentile sorted its input in place")
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("percentile of one = %v", got)
	}
}

func TestBenchTableComputesMet(t *testing.T) {
	var tb benchTable
	tb.atMost("fast", 40*time.Millisecond, 50*time.Millisecond, "")
	tb.atMost("slow", 2*time.Second, time.Second, " (scaled)")
	tb.ratioAtMost("ratio", 1.6, 1.5)
	tb.info("context", "1")
	var out bytes.Buffer
	if err := tb.print(&out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := []string{"MET?", "yes", "no", "no", "—"}
	for i, w := range want {
		if !strings.HasSuffix(strings.TrimSpace(lines[i]), w) {
			t.Errorf("line %d = %q, want it to end with %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "≤ 1.00 s (scaled)") {
		t.Errorf("target note missing: %q", lines[2])
	}
}

func TestProgressStepsWhenNotATerminal(t *testing.T) {
	var out bytes.Buffer
	p := newProgress(&out, "provisioning", 25)
	for i := 1; i <= 25; i++ {
		p.update(i)
	}
	// Every 10% (2 of 25) and the end: 12 steps plus the final line.
	if got := strings.Count(out.String(), "\n"); got != 13 {
		t.Errorf("got %d progress lines, want 13:\n%s", got, out.String())
	}
	if !strings.Contains(out.String(), "provisioning 25/25") {
		t.Errorf("no final line:\n%s", out.String())
	}
}
