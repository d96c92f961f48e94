package dashboard

import (
	"fmt"
	"strings"
	"time"
)

// trendDays is how many days the open-alerts sparkline covers.
const trendDays = 14

// trendWindow returns the starts of the n days up to and including today
// in loc (nil: UTC) and the instant each is counted at, oldest first: the
// next midnight, and for today now, so its point is what is open at this
// moment. Dates come from the calendar, not from adding 24 h, so a day of
// a daylight-saving change is 23 or 25 hours long.
func trendWindow(now time.Time, loc *time.Location, n int) (days, ends []time.Time) {
	if loc == nil {
		loc = time.UTC
	}
	local := now.In(loc)
	days, ends = make([]time.Time, n), make([]time.Time, n)
	for i := range n {
		back := n - 1 - i
		days[i] = time.Date(local.Year(), local.Month(), local.Day()-back, 0, 0, 0, 0, loc)
		ends[i] = time.Date(local.Year(), local.Month(), local.Day()-back+1, 0, 0, 0, 0, loc)
	}
	ends[n-1] = now
	return days, ends
}

// TrendDay is one point of the sparkline: the day and its open count.
type TrendDay struct {
	Day  time.Time // the day's start in the viewer's zone
	Open int
}

// Sparkline is a series drawn as an inline SVG on a W×H canvas that
// stretches to its card (the template sets preserveAspectRatio="none").
type Sparkline struct {
	Days  []TrendDay
	Max   int
	Line  string // polyline points
	Area  string // polygon points: the line closed along the bottom
	Label string // the numbers in words, for screen readers and tooltips
}

// The sparkline's canvas; the values leave a margin so the line's stroke
// is not clipped at the top and bottom.
const sparkW, sparkH, sparkPad = 140.0, 40.0, 3.0

// sparkline scales counts (one per day of days) onto the canvas.
func sparkline(days []time.Time, counts []int) Sparkline {
	s := Sparkline{Max: 1}
	for _, n := range counts {
		s.Max = max(s.Max, n)
	}
	var pts, words []string
	step := sparkW / float64(max(len(counts)-1, 1))
	for i, n := range counts {
		day := days[i]
		s.Days = append(s.Days, TrendDay{Day: day, Open: n})
		y := sparkH - sparkPad - (sparkH-2*sparkPad)*float64(n)/float64(s.Max)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", float64(i)*step, y))
		words = append(words, fmt.Sprintf("%s %d", day.Format("Jan 2"), n))
	}
	s.Line = strings.Join(pts, " ")
	if len(pts) > 0 {
		s.Area = fmt.Sprintf("0,%.0f %s %.1f,%.0f", sparkH, s.Line, float64(len(pts)-1)*step, sparkH)
	}
	s.Label = fmt.Sprintf("Open alerts at the end of each of the last %d days, oldest first: %s", len(counts), strings.Join(words, ", "))
	return s
}
