package businesstime

import (
	"testing"
	"time"
)

// FuzzAdd checks the properties SLA clocks rely on, for starts in 2020–2035,
// targets up to 30 days of business time and the fixed calendars of calendars().
func FuzzAdd(f *testing.F) {
	cals := calendars(f)
	names := []string{"berlinOffice", "berlinNight", "nyOffice", "nyNight", "nySundayNight", "nyGap", "berlinSunday", "overlap", "always"}
	// Seeds: DST nights, holidays, closing times, zero targets.
	for i, s := range []string{
		"2026-03-28T22:00:00+01:00", "2026-10-25T01:00:00+02:00", "2026-03-07T22:00:00-05:00",
		"2026-11-01T01:30:00-04:00", "2026-12-24T05:00:00+01:00", "2026-03-06T16:00:00+01:00",
		"2026-03-02T17:00:00+01:00", "2020-01-01T00:00:00Z", "2035-12-31T23:59:59Z",
	} {
		start, _ := time.Parse(time.RFC3339, s)
		f.Add(start.Unix(), int64(i), int64(8*time.Hour), int64(time.Hour), uint8(i))
		f.Add(start.Unix(), int64(0), int64(0), int64(30*time.Minute), uint8(i+1))
	}
	lo := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	const maxD = 30 * 24 * time.Hour
	f.Fuzz(func(t *testing.T, sec, nsec, rd1, rd2 int64, ci uint8) {
		c := cals[names[int(ci)%len(names)]]
		start := time.Unix(lo+mod(sec, hi-lo), mod(nsec, int64(time.Second)))
		d1 := time.Duration(mod(rd1, int64(maxD)+1))
		d2 := time.Duration(mod(rd2, int64(maxD)+1))
		if d1 > d2 {
			d1, d2 = d2, d1
		}
		r1, err := c.Add(start, d1)
		if err != nil {
			t.Fatalf("Add(%v, %v): %v", start, d1, err)
		}
		r2, err := c.Add(start, d2)
		if err != nil {
			t.Fatalf("Add(%v, %v): %v", start, d2, err)
		}
		if r1.Before(start) {
			t.Fatalf("Add(%v, %v) = %v is before start", start, d1, r1)
		}
		if r2.Before(r1) {
			t.Fatalf("not monotone: Add(%v, %v) = %v > Add(.., %v) = %v", start, d1, r1, d2, r2)
		}
		if b := c.Between(start, r2); b != d2 {
			t.Fatalf("Between(%v, Add(.., %v) = %v) = %v", start, d2, r2, b)
		}
		// The deadline lies inside or at the closing edge of opening hours.
		if d2 > 0 && !c.IsOpen(r2.Add(-time.Nanosecond)) {
			t.Fatalf("Add(%v, %v) = %v, but the instant before it is closed", start, d2, r2)
		}
		// Adding in two steps equals adding once (d2-d1 >= 0 after the swap).
		r3, err := c.Add(r1, d2-d1)
		if err != nil {
			t.Fatalf("Add(%v, %v): %v", r1, d2-d1, err)
		}
		if !r3.Equal(r2) {
			t.Fatalf("Add(Add(%v, %v), %v) = %v, want Add(.., %v) = %v", start, d1, d2-d1, r3, d2, r2)
		}
	})
}

// mod is the non-negative remainder, so any fuzzed int64 maps into [0, m).
func mod(x, m int64) int64 {
	r := x % m
	if r < 0 {
		r += m
	}
	return r
}
