package businesstime

import "time"

// walker yields the calendar's open intervals in order, merged where they
// overlap, starting with those that end after 'from'. It walks local days and
// stops after maxDays days or once a day starts at or after stopAt, so it
// always terminates.
type walker struct {
	c       *Calendar
	from    time.Time
	day     time.Time // next local day (UTC-midnight label) to expand
	days    int       // days expanded so far
	maxDays int
	stopAt  time.Time // zero: no stop instant
	queue   []interval
	pending interval
	has     bool // pending is valid
	done    bool
}

func (c *Calendar) walk(from time.Time, maxDays int, stopAt time.Time) *walker {
	// An interval that contains 'from' started on from's local day or the day before.
	return &walker{c: c, from: from, day: c.dayOf(from).AddDate(0, 0, -1), maxDays: maxDays, stopAt: stopAt}
}

// next returns the next merged interval, or false when the walk is over.
func (w *walker) next() (interval, bool) {
	for {
		if len(w.queue) > 0 {
			iv := w.queue[0]
			w.queue = w.queue[1:]
			if !iv.end.After(w.from) {
				continue
			}
			switch {
			case !w.has:
				w.pending, w.has = iv, true
			case !iv.start.After(w.pending.end):
				if iv.end.After(w.pending.end) {
					w.pending.end = iv.end
				}
			default:
				out := w.pending
				w.pending = iv
				return out, true
			}
			continue
		}
		if w.done {
			if w.has {
				w.has = false
				return w.pending, true
			}
			return interval{}, false
		}
		// Every interval still to come starts at or after the start of w.day,
		// so a pending interval that ends by then can no longer grow.
		dayStart := w.c.instant(w.day, Clock{})
		if w.has && !dayStart.Before(w.pending.end) {
			w.has = false
			return w.pending, true
		}
		if w.days >= w.maxDays || (!w.stopAt.IsZero() && !dayStart.Before(w.stopAt)) {
			w.done = true
			continue
		}
		w.queue = append(w.queue, w.c.dayIntervals(w.day)...)
		w.day = w.day.AddDate(0, 0, 1)
		w.days++
	}
}
