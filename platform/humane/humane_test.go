package humane

import (
	"testing"
	"time"
)

func TestDuration(t *testing.T) {
	cases := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"the issue's SLA figure", 24*time.Minute + 42293750642*time.Nanosecond, "24 min 42 s"},
		{"whole hours", 4 * time.Hour, "4 h"},
		{"one minute, not 1m0s", time.Minute, "1 min"},
		{"zero is measured, not missing", 0, "0 s"},
		{"under a second", 300 * time.Millisecond, "under 1 s"},
		{"negative has no meaning", -time.Second, None},
		{"uptime in seconds", 3345 * time.Second, "55 min 45 s"},
		{"days and hours", 50*time.Hour + 59*time.Minute, "2 d 2 h"},
		{"second unit zero is left out", 3*time.Hour + 5*time.Second, "3 h"},
		{"fractions are dropped, never rounded up", 59*time.Second + 999*time.Millisecond, "59 s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Duration(c.in); got != c.want {
				t.Errorf("Duration(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSeconds(t *testing.T) {
	cases := []struct {
		name string
		in   int64
		want string
	}{
		{"agent uptime", 3345, "55 min 45 s"},
		{"just booted", 0, "0 s"},
		{"a month up", 31 * 86400, "31 d"},
		{"bad report", -5, None},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Seconds(c.in); got != c.want {
				t.Errorf("Seconds(%d) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestRelative(t *testing.T) {
	now := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		at   time.Time
		want string
	}{
		{"minutes ago", now.Add(-3*time.Minute - 20*time.Second), "3 min ago"},
		{"hours ahead", now.Add(2*time.Hour + 10*time.Minute), "in 2 h"},
		{"seconds either side", now.Add(-20 * time.Second), "just now"},
		{"a few seconds ahead", now.Add(20 * time.Second), "just now"},
		{"days ago", now.Add(-49 * time.Hour), "2 d ago"},
		{"never", time.Time{}, None},
		{"zone of t does not matter", now.Add(-time.Hour).In(time.FixedZone("X", 5*3600)), "1 h ago"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Relative(c.at, now); got != c.want {
				t.Errorf("Relative(%v) = %q, want %q", c.at, got, c.want)
			}
		})
	}
}

func TestAt(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 17, 26, 24, 0, time.UTC)
	cases := []struct {
		name string
		at   time.Time
		loc  *time.Location
		want string
	}{
		{"client in New York, winter", at, ny, "2026-12-03 12:26 EST"},
		{"client in New York, summer", time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC), ny, "2026-07-01 08:00 EDT"},
		{"no zone is UTC", at, nil, "2026-12-03 17:26 UTC"},
		{"crossing midnight changes the date", time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC), ny, "2026-12-03 21:00 EST"},
		{"never", time.Time{}, ny, None},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := At(c.at, c.loc); got != c.want {
				t.Errorf("At = %q, want %q", got, c.want)
			}
		})
	}
}

func TestZone(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		want  string
		valid bool
	}{
		{"IANA name", "America/New_York", "America/New_York", true},
		{"empty is UTC", "", "UTC", false},
		{"unknown is UTC", "Mars/Olympus", "UTC", false},
		{"padded is not valid as given", " Europe/Paris ", "Europe/Paris", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Zone(c.in).String(); got != c.want {
				t.Errorf("Zone(%q) = %q, want %q", c.in, got, c.want)
			}
			if got := ValidZone(c.in); got != c.valid {
				t.Errorf("ValidZone(%q) = %v, want %v", c.in, got, c.valid)
			}
		})
	}
}

func TestWords(t *testing.T) {
	cases := []struct {
		name string
		fn   func(string) string
		in   string
		want string
	}{
		{"portal: firing", PortalStatus, "firing", "Open"},
		{"portal: acknowledged", PortalStatus, "acknowledged", "Being worked on"},
		{"portal: resolved", PortalStatus, "resolved", "Resolved"},
		{"portal: unknown is still shown", PortalStatus, "on_hold", "On hold"},
		{"console: firing", Status, "firing", "Firing"},
		{"console: endpoint", Status, "offline", "Offline"},
		{"event: delivery failed", Event, "notify_failed", "Notification failed"},
		{"event: delivered", Event, "notified", "Notification sent"},
		{"event: SLA breach", Event, "sla_breach", "SLA target missed"},
		{"event: unknown kind", Event, "moved_cell", "Moved cell"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.fn(c.in); got != c.want {
				t.Errorf("(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestPlural(t *testing.T) {
	cases := []struct {
		name string
		n    int
		want string
	}{
		{"none", 0, "0 clients"},
		{"one", 1, "1 client"},
		{"many", 12, "12 clients"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Plural(c.n, "client", "clients"); got != c.want {
				t.Errorf("Plural(%d) = %q, want %q", c.n, got, c.want)
			}
		})
	}
}

func TestInput(t *testing.T) {
	cases := []struct {
		name string
		in   time.Duration
		want string
	}{
		{"minutes", 15 * time.Minute, "15m"},
		{"hours", 4 * time.Hour, "4h"},
		{"mixed", 90 * time.Minute, "1h30m"},
		{"seconds", 90 * time.Second, "1m30s"},
		{"zero", 0, "0s"},
		{"fraction dropped", 1500 * time.Millisecond, "1s"},
		{"under a second", 500 * time.Millisecond, "0s"},
		{"days stay in hours, as the parser wants", 50 * time.Hour, "50h"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Input(c.in)
			if got != c.want {
				t.Fatalf("Input(%v) = %q, want %q", c.in, got, c.want)
			}
			back, err := time.ParseDuration(got)
			if err != nil || back != c.in.Truncate(time.Second) {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, c.in.Truncate(time.Second))
			}
		})
	}
}

func TestShare(t *testing.T) {
	cases := []struct {
		name string
		in   float64
		want string
	}{
		{"warn at", 0.75, "75%"},
		{"whole", 1, "100%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Share(c.in); got != c.want {
				t.Errorf("Share(%v) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestStamps(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   string
		loc  *time.Location
		want string
	}{
		{"audit summary", "seed: 1 use(s) until 2026-12-03T18:35:10Z", ny, "seed: 1 use(s) until 2026-12-03 13:35 EST"},
		{"offset and fraction", "silent until 2026-07-01T12:00:00.5+02:00.", nil, "silent until 2026-07-01 10:00 UTC."},
		{"two stamps", "2026-12-03T18:35:10Z – 2026-12-03T20:35:10Z", time.UTC, "2026-12-03 18:35 UTC – 2026-12-03 20:35 UTC"},
		{"not a time", "build 2026-13-45T99:99:99Z failed", ny, "build 2026-13-45T99:99:99Z failed"},
		{"no stamp", "disk / at 91%", ny, "disk / at 91%"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Stamps(c.in, c.loc); got != c.want {
				t.Errorf("Stamps(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
