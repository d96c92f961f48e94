package businesstime

import "time"

// Between returns the business time in [a, b), or 0 if b <= a.
func (c *Calendar) Between(a, b time.Time) time.Duration {
	if !b.After(a) {
		return 0
	}
	if c.always {
		return b.Sub(a)
	}
	// The walk stops on its own once a local day starts at or after b.
	w := c.walk(a, int(^uint(0)>>1), b)
	var total time.Duration
	for {
		iv, ok := w.next()
		if !ok || !iv.start.Before(b) {
			return total
		}
		lo, hi := iv.start, iv.end
		if a.After(lo) {
			lo = a
		}
		if b.Before(hi) {
			hi = b
		}
		if hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
}
