// Package businesstime does business-hours calendar arithmetic for SLA clocks.
//
// Opening hours are wall-clock times in the calendar's IANA zone, so a
// daylight-saving change that falls inside a span shortens or lengthens the
// real time that span is open. Rules that the callers rely on:
//
//   - A span belongs to the local day it starts on: a holiday closes every span
//     that starts on that date (including the part after midnight of an
//     overnight span), and does not touch the after-midnight part of a span
//     that started the day before.
//   - A wall time that does not exist (skipped by a spring-forward jump) means
//     the instant of the jump; a wall time that occurs twice (fall-back) means
//     its first occurrence. Both choices keep the wall-to-instant mapping
//     monotone, so adjacent spans stay adjacent.
//   - Overlapping or adjacent spans are merged; open time is never counted twice.
package businesstime

import (
	"errors"
	"fmt"
	"sort"
	"time"
)

// ErrNoOpenHours is returned by New for a calendar that is never open.
var ErrNoOpenHours = errors.New("businesstime: calendar has no opening hours")

// ErrSearchLimit is returned by Add when the bounded calendar walk ends before the target is reached.
var ErrSearchLimit = errors.New("businesstime: search limit exceeded before the target was reached")

// ErrNegativeDuration is returned by Add for a negative duration.
var ErrNegativeDuration = errors.New("businesstime: negative duration")

// Clock is a wall-clock time of day (hour 0–23, minute 0–59).
type Clock struct{ Hour, Minute int }

// Span is an opening period that starts on Weekday at Start; End <= Start ends on the next day, Start == End means 24h.
type Span struct {
	Weekday    time.Weekday
	Start, End Clock
}

// Date is a civil (local calendar) date, used for holidays.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// Calendar is a weekly schedule of opening hours in one IANA time zone, with dated holidays; or 24×7.
type Calendar struct {
	always   bool
	loc      *time.Location
	byDay    [7][]Span // spans grouped by the weekday they start on
	holidays map[Date]bool
	weekly   time.Duration // merged wall-clock open time per week, for the search bound
}

// AlwaysOpen returns a 24×7 calendar on which business time is real time.
func AlwaysOpen() *Calendar { return &Calendar{always: true, loc: time.UTC} }

// New builds a calendar from an IANA zone name, weekly spans and holiday dates.
func New(zone string, spans []Span, holidays []Date) (*Calendar, error) {
	// "" and "Local" are accepted by time.LoadLocation but would make SLA
	// deadlines depend on the server's configuration.
	if zone == "" || zone == "Local" {
		return nil, fmt.Errorf("businesstime: time zone must be an IANA name, got %q", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("businesstime: unknown time zone %q: %w", zone, err)
	}
	c := &Calendar{loc: loc, holidays: make(map[Date]bool, len(holidays))}
	var minutes [7 * 24 * 60]bool // one week of wall-clock minutes, Sunday 00:00 first
	for i, s := range spans {
		if s.Weekday < time.Sunday || s.Weekday > time.Saturday {
			return nil, fmt.Errorf("businesstime: span %d: invalid weekday %d", i, s.Weekday)
		}
		for _, k := range []Clock{s.Start, s.End} {
			if k.Hour < 0 || k.Hour > 23 || k.Minute < 0 || k.Minute > 59 {
				return nil, fmt.Errorf("businesstime: span %d: invalid time %02d:%02d", i, k.Hour, k.Minute)
			}
		}
		c.byDay[s.Weekday] = append(c.byDay[s.Weekday], s)
		from := int(s.Weekday)*1440 + s.Start.Hour*60 + s.Start.Minute
		n := s.End.Hour*60 + s.End.Minute - (s.Start.Hour*60 + s.Start.Minute)
		if n <= 0 {
			n += 1440
		}
		for m := from; m < from+n; m++ {
			minutes[m%len(minutes)] = true
		}
	}
	for _, open := range minutes {
		if open {
			c.weekly += time.Minute
		}
	}
	if c.weekly == 0 {
		return nil, ErrNoOpenHours
	}
	for _, h := range holidays {
		if y, m, d := time.Date(h.Year, h.Month, h.Day, 0, 0, 0, 0, time.UTC).Date(); y != h.Year || m != h.Month || d != h.Day {
			return nil, fmt.Errorf("businesstime: invalid holiday %04d-%02d-%02d", h.Year, h.Month, h.Day)
		}
		c.holidays[h] = true
	}
	for d := range c.byDay {
		sort.Slice(c.byDay[d], func(i, j int) bool { return clockMin(c.byDay[d][i].Start) < clockMin(c.byDay[d][j].Start) })
	}
	return c, nil
}

// IsOpen reports whether t falls inside opening hours (opening instant included, closing instant excluded).
func (c *Calendar) IsOpen(t time.Time) bool {
	if c.always {
		return true
	}
	// Spans last at most 24h of wall time, so only spans that start on t's
	// local day or the day before can contain t.
	day := c.dayOf(t)
	for _, d := range []time.Time{day.AddDate(0, 0, -1), day} {
		for _, iv := range c.dayIntervals(d) {
			if !t.Before(iv.start) && t.Before(iv.end) {
				return true
			}
		}
	}
	return false
}

// interval is one open period [start, end) in real time.
type interval struct{ start, end time.Time }

func clockMin(k Clock) int { return k.Hour*60 + k.Minute }

// dayOf returns t's local date in the calendar's zone, as UTC midnight (a pure date label).
func (c *Calendar) dayOf(t time.Time) time.Time {
	y, m, d := t.In(c.loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// dayIntervals returns the open intervals of the spans starting on day (a UTC-midnight label), sorted by start.
func (c *Calendar) dayIntervals(day time.Time) []interval {
	y, m, d := day.Date()
	if c.holidays[Date{y, m, d}] {
		return nil
	}
	var out []interval
	for _, s := range c.byDay[day.Weekday()] {
		start := c.instant(day, s.Start)
		endDay := day
		if clockMin(s.End) <= clockMin(s.Start) {
			endDay = day.AddDate(0, 0, 1)
		}
		end := c.instant(endDay, s.End)
		if end.After(start) { // a span wholly inside a DST gap is empty that day
			out = append(out, interval{start, end})
		}
	}
	return out
}

// instant maps a wall-clock time on day to a real instant: first occurrence if ambiguous, the jump if skipped.
func (c *Calendar) instant(day time.Time, k Clock) time.Time {
	y, m, d := day.Date()
	// w is the wall time read as if it were UTC; the real instant is w - offset.
	w := time.Date(y, m, d, k.Hour, k.Minute, 0, 0, time.UTC).Unix()
	offsetAt := func(u int64) int64 { _, o := time.Unix(u, 0).In(c.loc).Zone(); return int64(o) }
	before, after := offsetAt(w-86400), offsetAt(w+86400)
	best, found := int64(0), false
	for _, o := range []int64{before, after} {
		if u := w - o; offsetAt(u) == o && (!found || u < best) {
			best, found = u, true
		}
	}
	if found {
		return time.Unix(best, 0).In(c.loc)
	}
	if after > before {
		// Skipped wall time: find the jump, the first instant in
		// (w-after, w-before] whose offset is no longer 'before'.
		lo, hi := w-after, w-before
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			if offsetAt(mid) == before {
				lo = mid
			} else {
				hi = mid
			}
		}
		return time.Unix(hi, 0).In(c.loc)
	}
	// Several transitions within two days (no current zone does this): let
	// the standard library pick.
	return time.Date(y, m, d, k.Hour, k.Minute, 0, 0, c.loc)
}
