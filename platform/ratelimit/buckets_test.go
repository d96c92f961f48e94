package ratelimit

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a time that only moves when the test says.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func refusal(t *testing.T, err error) *Refused {
	t.Helper()
	var r *Refused
	if !errors.As(err, &r) {
		t.Fatalf("err = %v, want a *Refused", err)
	}
	return r
}

// TestTakeRefillsWithTime walks one bucket through use, refusal and refill
// on an injected clock.
func TestTakeRefillsWithTime(t *testing.T) {
	clk := newClock()
	b := New(Spec{What: "requests", Per: "key"}, Limit{Rate: 2, Burst: 4}, Options{Now: clk.now})
	steps := []struct {
		name    string
		advance time.Duration
		n       int
		ok      bool
		wait    time.Duration // when refused
	}{
		{"a new bucket is full", 0, 4, true, 0},
		{"empty: refused, half a second to the next token", 0, 1, false, 500 * time.Millisecond},
		{"refused again: a refusal takes nothing", 0, 1, false, 500 * time.Millisecond},
		{"half a second later one token is back", 500 * time.Millisecond, 1, true, 0},
		{"and used", 0, 1, false, 500 * time.Millisecond},
		{"two tokens need a second", 0, 2, false, time.Second},
		{"a long pause refills only up to the burst", time.Hour, 4, true, 0},
		{"nothing beyond the burst", 0, 1, false, 500 * time.Millisecond},
		{"a batch larger than the burst costs the burst", 2 * time.Second, 10, true, 0},
		{"so the bucket is empty after it", 0, 1, false, 500 * time.Millisecond},
		{"zero costs nothing", 0, 0, true, 0},
	}
	for _, s := range steps {
		clk.advance(s.advance)
		err := Take(s.n, Charge{b, "k"})
		if s.ok {
			if err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			continue
		}
		r := refusal(t, err)
		if r.RetryAfter != s.wait {
			t.Fatalf("%s: retry after %s, want %s", s.name, r.RetryAfter, s.wait)
		}
	}
}

// TestTakeAllOrNothing: a request charged to two limits takes from neither
// when one refuses, and the refusal names the limit that needs the longest
// wait.
func TestTakeAllOrNothing(t *testing.T) {
	clk := newClock()
	perKey := New(Spec{What: "alert requests", Per: "API key", Setting: "limits.ingest_per_key"}, Limit{Rate: 1, Burst: 5}, Options{Now: clk.now})
	perClient := New(Spec{What: "alert requests", Per: "client", Setting: "limits.ingest_per_client"}, Limit{Rate: 0.5, Burst: 3}, Options{Now: clk.now})
	both := []Charge{{perKey, "key-1"}, {perClient, "client-1"}}
	for i := range 3 {
		if err := Take(1, both...); err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
	}
	r := refusal(t, Take(1, both...))
	if !strings.Contains(r.Limit, "per client") || !strings.Contains(r.Error(), "limits.ingest_per_client") || r.RetryAfter != 2*time.Second {
		t.Fatalf("refusal = %q after %s, want the per-client limit and 2s", r.Error(), r.RetryAfter)
	}
	// The key's bucket gave nothing to the refused request: two left.
	if err := Take(2, Charge{perKey, "key-1"}); err != nil {
		t.Fatalf("the refused request took from the key's bucket: %v", err)
	}
	if err := Take(1, Charge{perKey, "key-1"}); err == nil {
		t.Fatal("the key's bucket holds more than its burst")
	}
	// Both empty now: the longer wait (the client's 2 s against the key's 1 s) is the answer.
	if r := refusal(t, Take(1, both...)); r.RetryAfter != 2*time.Second || !strings.Contains(r.Limit, "per client") {
		t.Fatalf("both empty: %q after %s, want the client's 2s", r.Limit, r.RetryAfter)
	}
}

// TestKeysAreIndependent: one key's empty bucket leaves every other key's
// full, and requests without a key are not charged.
func TestKeysAreIndependent(t *testing.T) {
	clk := newClock()
	b := New(Spec{What: "requests", Per: "client"}, Limit{Rate: 1, Burst: 3}, Options{Now: clk.now})
	for range 3 {
		if err := Take(1, Charge{b, "noisy"}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		key string
		ok  bool
	}{{"noisy", false}, {"quiet-1", true}, {"quiet-2", true}, {"", true}}
	for _, c := range cases {
		if err := Take(1, Charge{b, c.key}); (err == nil) != c.ok {
			t.Errorf("key %q: err = %v, want ok=%v", c.key, err, c.ok)
		}
	}
}

// TestBucketsBounded: the buckets never exceed MaxKeys, and buckets that
// have refilled are dropped as new keys arrive, bound or not.
func TestBucketsBounded(t *testing.T) {
	cases := []struct {
		name    string
		maxKeys int
		keys    int
		pause   time.Duration // between the two rounds of keys
		want    int           // buckets after both rounds
	}{
		{"10,000 clients, room for 100", 100, 10000, 0, 100},
		{"default bound, 10,000 clients twice", 0, 10000, 0, 20000},
		{"refilled buckets expire", 0, 1000, 10 * time.Second, 1000},
		{"busy buckets stay", 0, 1000, 0, 2000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			clk := newClock()
			b := New(Spec{What: "requests", Per: "client"}, Limit{Rate: 1, Burst: 5}, Options{MaxKeys: c.maxKeys, Now: clk.now})
			bound := c.maxKeys
			if bound == 0 {
				bound = DefaultMaxKeys
			}
			for round := range 2 {
				for i := range c.keys {
					if err := Take(1, Charge{b, fmt.Sprintf("r%d-client-%d", round, i)}); err != nil {
						t.Fatal(err)
					}
					if b.Len() > bound {
						t.Fatalf("%d buckets, bound %d", b.Len(), bound)
					}
				}
				clk.advance(c.pause)
			}
			if got := b.Len(); got != min(c.want, bound) {
				t.Fatalf("%d buckets, want %d", got, min(c.want, bound))
			}
		})
	}
}

// TestTakeConcurrent: many requests at once on shared sets (in both
// orders) admit exactly the burst and never deadlock.
func TestTakeConcurrent(t *testing.T) {
	clk := newClock()
	a := New(Spec{What: "requests", Per: "key"}, Limit{Rate: 1, Burst: 50}, Options{Now: clk.now})
	b := New(Spec{What: "requests", Per: "client"}, Limit{Rate: 1, Burst: 1000}, Options{Now: clk.now})
	var admitted atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for range 100 {
				cs := []Charge{{a, "k"}, {b, "c"}}
				if g%2 == 1 {
					cs[0], cs[1] = cs[1], cs[0]
				}
				if Take(1, cs...) == nil {
					admitted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if admitted.Load() != 50 {
		t.Fatalf("admitted %d, want the burst of 50", admitted.Load())
	}
}

func TestRefusedSeconds(t *testing.T) {
	cases := []struct {
		wait time.Duration
		want int
	}{
		{0, 1}, {time.Millisecond, 1}, {time.Second, 1}, {time.Second + time.Millisecond, 2}, {2500 * time.Millisecond, 3}, {time.Minute, 60},
	}
	for _, c := range cases {
		if got := (&Refused{RetryAfter: c.wait}).Seconds(); got != c.want {
			t.Errorf("Seconds(%s) = %d, want %d", c.wait, got, c.want)
		}
	}
}

func TestNewRefusesLimitsThatAdmitNothing(t *testing.T) {
	for _, l := range []Limit{{0, 10}, {-1, 10}, {1, 0}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", l)
				}
			}()
			New(Spec{What: "requests", Per: "key"}, l, Options{})
		}()
	}
}
