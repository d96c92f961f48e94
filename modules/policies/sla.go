package policies

import (
	"fmt"
	"strings"
	"switchboard/platform/humane"
	"time"

	"switchboard/modules/slas/businesstime"
)

// KindSLA is the service-level item: targets per severity and the calendar
// the clocks run on. The baseline "sla-default" applies unless a client
// overrides it.
const KindSLA = "sla"

// SLA is what an MSP promises a client.
type SLA struct {
	// Targets by severity (critical, warning, info).
	Targets map[string]SLATarget `json:"targets"`
	// Calendar is the business-hours calendar; AlwaysOpen means 24×7.
	Calendar SLACalendar `json:"calendar"`
	// ClockOwner says whose calendar runs the clock: "msp" (the baseline's
	// calendar, even when a client overrides its targets) or "client".
	ClockOwner string `json:"clock_owner"`
	// WarnAt is the share of a target at which a warning is raised (0.75).
	WarnAt float64 `json:"warn_at"`
}

// SLATarget is a time to acknowledge and a time to resolve, in business time.
type SLATarget struct {
	Acknowledge time.Duration `json:"acknowledge"`
	Resolve     time.Duration `json:"resolve"`
}

// SLACalendar is a weekly schedule in an IANA zone with dated holidays.
type SLACalendar struct {
	AlwaysOpen bool     `json:"always_open"`
	Zone       string   `json:"zone,omitempty"`
	Hours      []string `json:"hours,omitempty"`    // "Mon 09:00-17:00"; an end at or before the start crosses midnight
	Holidays   []string `json:"holidays,omitempty"` // "2026-12-25"
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// Build turns the calendar into business-time arithmetic.
func (c SLACalendar) Build() (*businesstime.Calendar, error) {
	if c.AlwaysOpen {
		return businesstime.AlwaysOpen(), nil
	}
	var spans []businesstime.Span
	for _, h := range c.Hours {
		day, times, ok := strings.Cut(strings.TrimSpace(h), " ")
		wd, known := weekdays[strings.ToLower(day)]
		start, end, ok2 := strings.Cut(strings.TrimSpace(times), "-")
		if !ok || !known || !ok2 {
			return nil, invalid("opening hours %q must look like \"Mon 09:00-17:00\"", h)
		}
		s, err1 := parseClock(start)
		e, err2 := parseClock(end)
		if err1 != nil || err2 != nil {
			return nil, invalid("opening hours %q: times are HH:MM", h)
		}
		spans = append(spans, businesstime.Span{Weekday: wd, Start: s, End: e})
	}
	var holidays []businesstime.Date
	for _, d := range c.Holidays {
		t, err := time.Parse("2006-01-02", strings.TrimSpace(d))
		if err != nil {
			return nil, invalid("holiday %q must be YYYY-MM-DD", d)
		}
		holidays = append(holidays, businesstime.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()})
	}
	cal, err := businesstime.New(c.Zone, spans, holidays)
	if err != nil {
		return nil, invalid("calendar: %v", err)
	}
	return cal, nil
}

func parseClock(s string) (businesstime.Clock, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return businesstime.Clock{}, err
	}
	return businesstime.Clock{Hour: t.Hour(), Minute: t.Minute()}, nil
}

func (s SLA) check() error {
	for _, sev := range []string{"critical", "warning", "info"} {
		t, ok := s.Targets[sev]
		if !ok {
			return invalid("an SLA needs a target for each of critical, warning and info; %s has none (give one %s=ACK/RESOLVE, e.g. %s=1h/8h)", sev, sev, sev)
		}
		if t.Acknowledge <= 0 || t.Resolve <= 0 || t.Resolve < t.Acknowledge {
			return invalid("the %s target needs a positive time to acknowledge and a time to resolve no shorter than it", sev)
		}
	}
	if len(s.Targets) != 3 {
		return invalid("targets are for critical, warning and info only")
	}
	if s.ClockOwner != "msp" && s.ClockOwner != "client" {
		return invalid("clock owner must be msp or client")
	}
	if s.WarnAt <= 0 || s.WarnAt >= 1 {
		return invalid("warn at must be a share between 0 and 1, e.g. 0.75")
	}
	_, err := s.Calendar.Build()
	return err
}

// Describe is a one-line summary for pages and the CLI.
func (s SLA) Describe() string {
	var b strings.Builder
	for _, sev := range []string{"critical", "warning", "info"} {
		t := s.Targets[sev]
		fmt.Fprintf(&b, "%s: acknowledge in %s, resolve in %s; ", sev, humane.Duration(t.Acknowledge), humane.Duration(t.Resolve))
	}
	if s.Calendar.AlwaysOpen {
		b.WriteString("24×7")
	} else {
		fmt.Fprintf(&b, "%s %s", s.Calendar.Zone, strings.Join(s.Calendar.Hours, ", "))
		if len(s.Calendar.Holidays) > 0 {
			fmt.Fprintf(&b, ", %s", humane.Plural(len(s.Calendar.Holidays), "holiday", "holidays"))
		}
	}
	fmt.Fprintf(&b, "; %s calendar; warn at %.0f%%", s.ClockOwner, s.WarnAt*100)
	return b.String()
}

// SLA returns the client's effective SLA and where it came from.
func (e Effective) SLA() (SLA, string, bool) {
	for _, it := range e.Items {
		if it.Kind == KindSLA && it.Enabled && it.SLA != nil {
			return *it.SLA, it.Origin, true
		}
	}
	return SLA{}, "", false
}
