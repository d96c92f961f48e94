package alerts

import (
	"errors"
	"testing"
	"time"
)

// TestSilenceBodySpan: how the API's create body names a silence's start
// and end; every refusal is ErrInvalid (400), before anything is written.
func TestSilenceBodySpan(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	for _, tc := range []struct {
		name       string
		body       silenceBody
		start, end time.Time
		bad        bool
	}{
		{name: "duration from now", body: silenceBody{Duration: "2h"}, start: now, end: now.Add(2 * time.Hour)},
		{name: "days", body: silenceBody{Duration: "3d"}, start: now, end: now.Add(72 * time.Hour)},
		{name: "ends_at", body: silenceBody{EndsAt: at(time.Hour)}, start: now, end: now.Add(time.Hour)},
		{name: "later start", body: silenceBody{StartsAt: at(time.Hour), Duration: "30m"}, start: now.Add(time.Hour), end: now.Add(90 * time.Minute)},
		{name: "neither", body: silenceBody{}, bad: true},
		{name: "both", body: silenceBody{EndsAt: at(time.Hour), Duration: "1h"}, bad: true},
		{name: "bad duration", body: silenceBody{Duration: "soon"}, bad: true},
		{name: "too long", body: silenceBody{EndsAt: at(91 * 24 * time.Hour)}, bad: true},
	} {
		start, end, err := tc.body.span(now)
		if tc.bad {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%s: err %v, want ErrInvalid", tc.name, err)
			}
			continue
		}
		if err != nil || !start.Equal(tc.start) || !end.Equal(tc.end) {
			t.Errorf("%s: %v–%v, %v; want %v–%v", tc.name, start, end, err, tc.start, tc.end)
		}
	}
}
