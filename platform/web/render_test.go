package web

import (
	"bytes"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/labstack/echo/v4"
)

// zonePages is a layout, a page and a partial of its folder: the partial
// sees only the data it is given, never the page's chrome.
var zonePages = fstest.MapFS{
	"layout.html": {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
	"console/page.html": {Data: []byte(`{{define "content"}}{{when .Data.At}}|{{template "stamp" .Data}}|{{ago .Data.Past}}|{{dur .Data.D}}|` +
		`{{stamps .Data.Text}}|{{zoneName}}{{end}}`)},
	"console/stamp_part.html": {Data: []byte(`{{define "stamp"}}{{whenPtr .Ptr}}{{end}}`)},
}

type zoneData struct {
	At, Past time.Time
	Ptr      *time.Time
	D        time.Duration
	Text     string
}

// TestRenderInViewersZone: every time on a page, in the page and in its
// partials, is on the viewer's clock: the chrome's zone (the portal's
// client), else the zone the request carries (the staff user's own), else
// UTC; durations and relative times are for people, relative to the
// renderer's clock.
func TestRenderInViewersZone(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 26, 0, 0, time.UTC)
	r, err := NewRenderer(zonePages, nil, "console/*.html")
	if err != nil {
		t.Fatal(err)
	}
	r.now = func() time.Time { return now }
	ny, _ := time.LoadLocation("America/New_York")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	data := zoneData{At: now, Past: now.Add(-3 * time.Minute), Ptr: &now, D: 24*time.Minute + 42293750642*time.Nanosecond,
		Text: "1 use(s) until 2026-12-03T17:26:00Z"}
	cases := []struct {
		name    string
		chrome  *time.Location
		request *time.Location
		want    string
	}{
		{"client's zone on its portal", ny, nil,
			"2026-12-03 12:26 EST|2026-12-03 12:26 EST|3 min ago|24 min 42 s|1 use(s) until 2026-12-03 12:26 EST|America/New_York"},
		{"staff user's own zone", nil, berlin,
			"2026-12-03 18:26 CET|2026-12-03 18:26 CET|3 min ago|24 min 42 s|1 use(s) until 2026-12-03 18:26 CET|Europe/Berlin"},
		{"the chrome's zone wins", ny, berlin,
			"2026-12-03 12:26 EST|2026-12-03 12:26 EST|3 min ago|24 min 42 s|1 use(s) until 2026-12-03 12:26 EST|America/New_York"},
		{"no zone is UTC", nil, nil,
			"2026-12-03 17:26 UTC|2026-12-03 17:26 UTC|3 min ago|24 min 42 s|1 use(s) until 2026-12-03 17:26 UTC|UTC"},
	}
	render := func(chrome, request *time.Location) (string, error) {
		req := httptest.NewRequest("GET", "/", nil)
		if request != nil {
			req = req.WithContext(WithZone(req.Context(), request))
		}
		c := echo.New().NewContext(req, httptest.NewRecorder())
		var out bytes.Buffer
		err := r.Render(&out, "console/page.html", Page{Chrome: Chrome{User: "x", Zone: chrome}, Data: data}, c)
		return out.String(), err
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := render(tc.chrome, tc.request)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
	// Viewers of different zones at once each get their own clock.
	t.Run("concurrent viewers", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 40 {
			tc := cases[i%len(cases)]
			wg.Go(func() {
				got, err := render(tc.chrome, tc.request)
				if err != nil || got != tc.want {
					t.Errorf("%s: got %q, %v", tc.name, got, err)
				}
			})
		}
		wg.Wait()
	})
}

// TestDurationHelper: dur takes what the models hold.
func TestDurationHelper(t *testing.T) {
	d := 90 * time.Second
	var none *time.Duration
	secs := int64(3345)
	cases := []struct {
		name string
		in   any
		want string
	}{
		{"duration", 4 * time.Hour, "4 h"},
		{"pointer", &d, "1 min 30 s"},
		{"nil pointer", none, "—"},
		{"uptime seconds", 3345, "55 min 45 s"},
		{"int64 seconds", secs, "55 min 45 s"},
		{"pointer to seconds", &secs, "55 min 45 s"},
		{"not a duration", "soon", "—"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := duration(tc.in); got != tc.want {
				t.Errorf("dur(%v) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
