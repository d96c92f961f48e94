package dashboard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"switchboard/modules/tenants"
)

// homeTrendDays is how many days the home's chart of open alerts covers,
// today included.
const homeTrendDays = 14

// OpenTrend is the home's chart of open critical and warning alerts over
// the viewer's clients, one point per UTC day: past days from the daily
// snapshots of the rollups, today from the rollups as they are now (the
// numbers above the chart). A day without a snapshot is a gap, not a zero.
type OpenTrend struct {
	Points   []OpenPoint
	Max      int            // the highest point (at least 1, the chart's scale)
	Peak     int            // the highest recorded count (0 when all are 0)
	Segments []TrendSegment // runs of recorded days, each drawn as one line
	Gaps     int            // days without a record
	Started  bool           // a day before today was recorded (else the chart is new)
	Label    string         // every day's number in words, for screen readers and tooltips
}

// OpenPoint is one day of the chart.
type OpenPoint struct {
	Day               time.Time // the UTC day
	Critical, Warning int
	Recorded          bool
	Today             bool
	X, Y              float64 // on the chart's canvas
}

// First is the chart's first day (the zero point when there are none).
func (t OpenTrend) First() OpenPoint {
	if len(t.Points) == 0 {
		return OpenPoint{}
	}
	return t.Points[0]
}

// Today is the chart's last point: the counts now.
func (t OpenTrend) Today() OpenPoint {
	if len(t.Points) == 0 {
		return OpenPoint{}
	}
	return t.Points[len(t.Points)-1]
}

// Open is the day's open critical and warning alerts.
func (p OpenPoint) Open() int { return p.Critical + p.Warning }

// TrendSegment is one unbroken run of days: a line and the area under it.
type TrendSegment struct {
	Line, Area string // SVG points
}

// The chart's canvas: the template stretches it to its container
// (preserveAspectRatio="none", strokes that do not scale); the values keep
// a margin so the stroke is not clipped.
const homeTrendW, homeTrendH, homeTrendPad = 280.0, 48.0, 3.0

// OpenTrend reads the chart for the clients ids (nil: all) at now; the live
// counts are today's point. One control-plane query.
func (s *Service) OpenTrend(ctx context.Context, ids []int64, now time.Time, liveCritical, liveWarning int) (OpenTrend, error) {
	today := tenants.Day(now)
	days, err := s.tenants.OpenAlertTrend(ctx, ids, today.AddDate(0, 0, -(homeTrendDays-1)), today)
	if err != nil {
		return OpenTrend{}, err
	}
	return openTrend(days, today, liveCritical, liveWarning), nil
}

// openTrend lays days out on the canvas, today's point replaced by the
// live counts.
func openTrend(days []tenants.OpenAlertDay, today time.Time, liveCritical, liveWarning int) OpenTrend {
	tr := OpenTrend{Max: 1}
	for _, d := range days {
		p := OpenPoint{Day: d.Day, Critical: d.Critical, Warning: d.Warning, Recorded: d.Recorded}
		if d.Day.Equal(today) {
			p.Critical, p.Warning, p.Recorded, p.Today = liveCritical, liveWarning, true, true
		}
		if p.Recorded {
			tr.Peak = max(tr.Peak, p.Open())
			tr.Started = tr.Started || !p.Today
		} else {
			tr.Gaps++
		}
		tr.Points = append(tr.Points, p)
	}
	tr.Max = max(tr.Peak, 1)
	step := homeTrendW / float64(max(len(tr.Points)-1, 1))
	var words []string
	var run []OpenPoint
	flush := func() {
		if len(run) > 0 {
			tr.Segments = append(tr.Segments, segment(run, step))
			run = nil
		}
	}
	for i := range tr.Points {
		p := &tr.Points[i]
		p.X = float64(i) * step
		p.Y = homeTrendH - homeTrendPad - (homeTrendH-2*homeTrendPad)*float64(p.Open())/float64(tr.Max)
		day := p.Day.Format("Jan 2")
		if p.Today {
			day = "today"
		}
		switch {
		case !p.Recorded:
			words = append(words, day+" no record")
			flush()
		default:
			words = append(words, fmt.Sprintf("%s %d", day, p.Open()))
			run = append(run, *p)
		}
	}
	flush()
	tr.Label = fmt.Sprintf("Open critical and warning alerts at the end of each of the last %d days (UTC), oldest first: %s",
		len(tr.Points), strings.Join(words, ", "))
	return tr
}

// segment draws one run of recorded days. A run of one day is a short
// dash, so a lone point between gaps is still seen.
func segment(run []OpenPoint, step float64) TrendSegment {
	var pts []string
	if len(run) == 1 {
		half := step / 4
		p := run[0]
		left, right := max(p.X-half, 0), min(p.X+half, homeTrendW)
		pts = []string{fmt.Sprintf("%.1f,%.1f", left, p.Y), fmt.Sprintf("%.1f,%.1f", right, p.Y)}
	} else {
		for _, p := range run {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		}
	}
	line := strings.Join(pts, " ")
	first, last := strings.SplitN(pts[0], ",", 2)[0], strings.SplitN(pts[len(pts)-1], ",", 2)[0]
	return TrendSegment{Line: line, Area: fmt.Sprintf("%s,%.0f %s %s,%.0f", first, homeTrendH, line, last, homeTrendH)}
}
