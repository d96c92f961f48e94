package businesstime

import (
	"math"
	"time"
)

const year = 365 * 24 * time.Hour

// Add returns the instant at which d of business time has elapsed after start; d == 0 is due immediately (start).
//
// A target that is used up exactly at closing time returns the closing
// instant, not the next opening. The result is in start's location.
func (c *Calendar) Add(start time.Time, d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, ErrNegativeDuration
	}
	if d == 0 || c.always {
		return start.Add(d), nil
	}
	w := c.walk(start, c.searchDays(d), time.Time{})
	remaining := d
	for {
		iv, ok := w.next()
		if !ok {
			return time.Time{}, ErrSearchLimit
		}
		from := iv.start
		if start.After(from) {
			from = start
		}
		if avail := iv.end.Sub(from); remaining <= avail {
			return from.Add(remaining).In(start.Location()), nil
		}
		remaining -= iv.end.Sub(from)
	}
}

// searchDays bounds the calendar walk of Add. It is generous: it only exists
// so that a calendar that (nearly) never opens yields an error, not a hang.
func (c *Calendar) searchDays(d time.Duration) int {
	// 400 days per started year of d, as a floor.
	days := int64(400 * (d/year + 1))
	// Weeks needed at the nominal weekly open time, doubled for weeks that DST
	// gaps shorten, plus one week per holiday (a holiday can at worst remove
	// a whole week's opening) and slack for the partial first and last week.
	weeks := int64(d/c.weekly)*2 + 2 + int64(len(c.holidays))
	if weeks < math.MaxInt32/7 {
		days += 7 * weeks
	} else {
		days = math.MaxInt32
	}
	if days > math.MaxInt32 {
		days = math.MaxInt32
	}
	return int(days)
}
