package agents

import (
	"testing"
	"time"
)

// TestChartWindow: the endpoint charts span the last day, or the time since
// the endpoint enrolled when that is shorter.
func TestChartWindow(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		enrolled time.Time
		want     time.Duration
	}{
		{"enrolled an hour ago", now.Add(-time.Hour), time.Hour},
		{"enrolled last week", now.Add(-7 * 24 * time.Hour), 24 * time.Hour},
		{"enrolled exactly a day ago", now.Add(-24 * time.Hour), 24 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			from, to := chartWindow(Endpoint{EnrolledAt: tc.enrolled}, now)
			if !to.Equal(now) || to.Sub(from) != tc.want {
				t.Errorf("window %v – %v, want %v ending now", from, to, tc.want)
			}
		})
	}
}

// TestLineChart: samples are placed over the window; one or two samples
// are drawn as dots too (a single point is not a visible line).
func TestLineChart(t *testing.T) {
	from := time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC)
	to := from.Add(time.Hour)
	at := func(min int, cpu float64) Sample {
		return Sample{At: from.Add(time.Duration(min) * time.Minute), CPUPercent: cpu}
	}
	cpu := func(s Sample) float64 { return s.CPUPercent }
	cases := []struct {
		name    string
		samples []Sample
		points  string
		dots    int
		last    string
	}{
		{"none", nil, "", 0, ""},
		{"one check-in at the end", []Sample{at(60, 50)}, "600.0,60.0", 1, "50%"},
		{"two", []Sample{at(0, 0), at(30, 100)}, "0.0,120.0 300.0,0.0", 2, "100%"},
		{"three make a line", []Sample{at(0, 10), at(30, 20), at(60, 150)}, "0.0,108.0 300.0,96.0 600.0,0.0", 0, "150%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := lineChart("CPU %", tc.samples, from, to, cpu)
			if c.Points != tc.points || len(c.Dots) != tc.dots || c.Last != tc.last {
				t.Errorf("got points %q, %d dots, last %q; want %q, %d, %q", c.Points, len(c.Dots), c.Last, tc.points, tc.dots, tc.last)
			}
		})
	}
}
