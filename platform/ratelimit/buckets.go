// Package ratelimit holds token buckets per key (a credential, a client),
// kept in memory with a bound, and the Echo middleware that answers a
// request over its limit with 429 and Retry-After before any handler work.
//
// The buckets live in this process: with N replicas behind a load balancer
// a key may use up to N times its limit. That is the price of needing no
// shared store on the hot path; the limits exist to keep one sender from
// taking a process's capacity from the others, which is a per-process
// concern anyway.
package ratelimit

import (
	"cmp"
	"container/list"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limit is a token bucket's shape: Rate tokens per second refill it, up to
// Burst tokens.
type Limit struct {
	Rate  float64
	Burst int
}

// Spec names a set of buckets for the people who hit its limit: "25 alert
// requests per second per API key (burst 250; limits.ingest_per_key)".
type Spec struct {
	What    string // what a token is: "alert requests", "alerts", "check-ins"
	Per     string // what a key is: "API key", "client", "endpoint"
	Setting string // the configuration key that sets the limit
}

// DefaultMaxKeys bounds the buckets of one set when Options leave it 0:
// about 200 bytes each (measured with 16-byte keys), so some 10 MB at most.
const DefaultMaxKeys = 50000

// Options tune a set of buckets.
type Options struct {
	// MaxKeys is the most buckets kept; past it the least recently used is
	// dropped (0: DefaultMaxKeys). A dropped bucket starts full if its key
	// comes back, so the bound only ever errs on the side of admitting.
	MaxKeys int
	// Now is the clock; tests inject one. Nil: time.Now.
	Now func() time.Time
}

// Buckets is one limit applied separately to every key: a token bucket per
// key, created full on first use. A bucket that has refilled completely is
// no different from a new one, so such buckets are dropped as they reach
// the least recently used end; MaxKeys bounds the rest.
type Buckets struct {
	spec  Spec
	limit Limit
	desc  string // Describe, built once: a flood reads it on every refusal
	max   int
	now   func() time.Time
	id    uint64 // lock order when several sets are charged at once

	mu    sync.Mutex
	keys  map[string]*list.Element // of *bucket
	order *list.List               // front: most recently used
}

type bucket struct {
	key string
	lim *rate.Limiter
}

var lastID atomic.Uint64

// New returns the buckets of one limit. It panics on a limit that could
// never admit anything (rate or burst not positive): configuration is
// validated before it gets here.
func New(spec Spec, l Limit, opts Options) *Buckets {
	if !(l.Rate > 0) || l.Burst < 1 || math.IsInf(l.Rate, 0) {
		panic(fmt.Sprintf("ratelimit: %s per %s: rate %v and burst %d must be positive", spec.What, spec.Per, l.Rate, l.Burst))
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Buckets{spec: spec, limit: l, max: opts.MaxKeys, now: opts.Now, id: lastID.Add(1),
		keys: map[string]*list.Element{}, order: list.New()}
	b.desc = b.describe()
	return b
}

// Len is the number of buckets held.
func (b *Buckets) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}

// Describe says what the limit is, for the answer to a refused request.
func (b *Buckets) Describe() string { return b.desc }

func (b *Buckets) describe() string {
	s := fmt.Sprintf("%s %s per second per %s (burst %d", strconv.FormatFloat(b.limit.Rate, 'g', 4, 64), b.spec.What, b.spec.Per, b.limit.Burst)
	if b.spec.Setting != "" {
		s += "; " + b.spec.Setting
	}
	return s + ")"
}

// bucketLocked returns key's bucket, made most recently used, creating it
// full if needed, and drops what the bound and expiry say to drop.
func (b *Buckets) bucketLocked(key string, now time.Time) *rate.Limiter {
	if el, ok := b.keys[key]; ok {
		b.order.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	bk := &bucket{key: key, lim: rate.NewLimiter(rate.Limit(b.limit.Rate), b.limit.Burst)}
	b.keys[key] = b.order.PushFront(bk)
	// Two at most per new key: memory shrinks as fast as it grew, and no
	// request pays for a long sweep.
	for range 2 {
		last := b.order.Back()
		if last == nil || last == b.order.Front() {
			break
		}
		old := last.Value.(*bucket)
		if b.order.Len() <= b.max && old.lim.TokensAt(now) < float64(b.limit.Burst) {
			break
		}
		b.order.Remove(last)
		delete(b.keys, old.key)
	}
	return bk.lim
}

// Refusing is what taking one token from key's bucket would answer, found
// without taking anything or creating a bucket: nil when key has no bucket
// (nobody was charged under it lately) or its bucket holds a token.
func (b *Buckets) Refusing(key string) *Refused {
	if key == "" {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	el, ok := b.keys[key]
	if !ok {
		return nil
	}
	have := el.Value.(*bucket).lim.TokensAt(b.now())
	if have >= 1 {
		return nil
	}
	return &Refused{Limit: b.desc, RetryAfter: b.untilHolds(1, have)}
}

// untilHolds is how long a bucket holding have tokens takes to hold n.
func (b *Buckets) untilHolds(n int, have float64) time.Duration {
	return time.Duration((float64(n) - have) / b.limit.Rate * float64(time.Second))
}

// Charge is a key's bucket in a set: where a request's tokens come from.
type Charge struct {
	Buckets *Buckets
	Key     string
}

// Refused is the answer when a bucket cannot give what was asked: which
// limit, and how long until it could.
type Refused struct {
	Limit      string        // Describe of the binding limit
	RetryAfter time.Duration // until the bucket holds enough tokens again
}

// Error says which limit was exceeded and when to retry.
func (r *Refused) Error() string {
	return fmt.Sprintf("rate limit exceeded: over %s; retry in %d s", r.Limit, r.Seconds())
}

// Seconds is RetryAfter in whole seconds, rounded up and at least 1, as the
// Retry-After header states it.
func (r *Refused) Seconds() int {
	return max(1, int(math.Ceil(r.RetryAfter.Seconds())))
}

// Take takes n tokens from every charge's bucket, or, when any of them
// cannot give n now, from none and returns a *Refused naming the limit that
// needs the longest wait. A request never costs more than a bucket's burst:
// a batch larger than the burst empties the bucket rather than being
// refused forever. Charges with an empty key are skipped; a charge named
// twice is taken once.
func Take(n int, charges ...Charge) error {
	if n <= 0 {
		return nil
	}
	cs := make([]Charge, 0, len(charges))
	for _, c := range charges {
		if c.Key != "" && !slices.Contains(cs, c) {
			cs = append(cs, c)
		}
	}
	if len(cs) == 0 {
		return nil
	}
	// Every set involved is locked, in one global order, for the check and
	// the take together: all or nothing, and no deadlock between requests
	// that charge the same sets.
	slices.SortFunc(cs, func(a, b Charge) int { return cmp.Compare(a.Buckets.id, b.Buckets.id) })
	for i, c := range cs {
		if i == 0 || cs[i-1].Buckets != c.Buckets {
			c.Buckets.mu.Lock()
			defer c.Buckets.mu.Unlock()
		}
	}
	type step struct {
		lim  *rate.Limiter
		now  time.Time
		cost int
	}
	steps := make([]step, len(cs))
	var refused *Refused
	for i, c := range cs {
		b := c.Buckets
		now := b.now()
		lim := b.bucketLocked(c.Key, now)
		cost := min(n, b.limit.Burst)
		steps[i] = step{lim, now, cost}
		if have := lim.TokensAt(now); have < float64(cost) {
			wait := b.untilHolds(cost, have)
			if refused == nil || wait > refused.RetryAfter {
				refused = &Refused{Limit: b.Describe(), RetryAfter: wait}
			}
		}
	}
	if refused != nil {
		return refused
	}
	for _, s := range steps {
		s.lim.AllowN(s.now, s.cost) // holds: checked under the same locks
	}
	return nil
}
