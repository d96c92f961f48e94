// Package humane formats numbers, durations, times and states for people
// reading a page: "24 min 42 s" rather than Go's "24m42.293750642s", "3 min
// ago", a time in the reader's own zone, "Being worked on" rather than
// "acknowledged". Every function is pure: the current time and the zone are
// arguments, so pages and tests agree on what "now" is.
package humane

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
)

// None is shown where there is nothing to measure. Pages put the reason
// next to it ("— no alert decided yet this month") so a blank is never
// mistaken for zero or for a perfect score.
const None = "—"

// units are the steps a duration is spelled in, largest first. Days are the
// largest step: weeks and months read ambiguously next to business time.
var units = []struct {
	size time.Duration
	name string
}{
	{24 * time.Hour, "d"},
	{time.Hour, "h"},
	{time.Minute, "min"},
	{time.Second, "s"},
}

// Duration spells d with its largest unit and, when it is not zero, the next
// one: "24 min 42 s", "4 h", "1 min", "2 d 3 h". Anything smaller than the
// second unit is dropped rather than rounded up, so an elapsed time never
// reads longer than it was. Zero is "0 s", a positive duration under a
// second "under 1 s"; a negative one has no meaning here and is None.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return None
	case d == 0:
		return "0 s"
	case d < time.Second:
		return "under 1 s"
	}
	for i, u := range units {
		if d < u.size {
			continue
		}
		out := fmt.Sprintf("%d %s", d/u.size, u.name)
		if i+1 < len(units) {
			next := units[i+1]
			if n := (d % u.size) / next.size; n > 0 {
				out += fmt.Sprintf(" %d %s", n, next.name)
			}
		}
		return out
	}
	return None // unreachable: d >= 1 s matches the seconds unit
}

// Seconds is Duration for a count of seconds, as agents report uptime.
func Seconds(s int64) string {
	if s < 0 {
		return None
	}
	return Duration(time.Duration(s) * time.Second)
}

// Relative says how far t is from now in its largest unit: "3 min ago",
// "in 2 h", "just now" within a minute either side. The zero time (never)
// is None.
func Relative(t, now time.Time) string {
	if t.IsZero() {
		return None
	}
	d := now.Sub(t)
	ago := d >= 0
	if !ago {
		d = -d
	}
	if d < time.Minute {
		return "just now"
	}
	var amount string
	for _, u := range units {
		if d >= u.size {
			amount = fmt.Sprintf("%d %s", d/u.size, u.name)
			break
		}
	}
	if ago {
		return amount + " ago"
	}
	return "in " + amount
}

// At is t on the wall clock of loc (UTC when nil), with the zone's
// abbreviation so a reader sharing a screenshot is never misread:
// "2026-12-03 12:26 EST". The year is always shown: reports are exported
// and read later. The zero time (never) is None.
func At(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return None
	}
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 15:04 MST")
}

// Zone loads an IANA zone name such as "America/New_York". An empty or
// unknown name is UTC, so a bad setting shows times in UTC (and says so
// with the "UTC" abbreviation) rather than failing the page.
func Zone(name string) *time.Location {
	name = strings.TrimSpace(name)
	if name == "" {
		return time.UTC
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	zones.Store(name, loc)
	return loc
}

// zones keeps the zones loaded so far: time.LoadLocation reads and parses
// a tzdata file on every call, and the console asks for the viewer's zone
// on every request. Only names that loaded are kept, so it is bounded by
// the IANA database.
var zones sync.Map

// ValidZone reports whether name is a zone Zone would use as given.
func ValidZone(name string) bool {
	if name == "" || name != strings.TrimSpace(name) {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// Plural is "1 client", "2 clients": n with the singular or plural noun.
func Plural(n int, singular, plural string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, singular)
	}
	return fmt.Sprintf("%d %s", n, plural)
}

// portalStatus is what a client reads for an alert's status: what is
// happening to it, not the MSP's workflow word.
var portalStatus = map[string]string{
	"firing":       "Open",
	"acknowledged": "Being worked on",
	"resolved":     "Resolved",
	"suppressed":   "Silenced",
}

// PortalStatus is an alert status in the client's words; an unknown status
// is shown capitalised rather than hidden.
func PortalStatus(status string) string {
	if w, ok := portalStatus[status]; ok {
		return w
	}
	return Capital(strings.ReplaceAll(status, "_", " "))
}

// staffStatus is an alert status on the console: the workflow word, as a
// word rather than an identifier.
var staffStatus = map[string]string{
	"firing":       "Firing",
	"acknowledged": "Acknowledged",
	"resolved":     "Resolved",
	"suppressed":   "Silenced",
	"online":       "Online",
	"offline":      "Offline",
	"active":       "Active",
	"suspended":    "Suspended",
	"pending":      "Pending",
	"verified":     "Verified",
	"failed":       "Failed",
}

// Status is any status identifier as a capitalised word for the console.
func Status(status string) string {
	if w, ok := staffStatus[status]; ok {
		return w
	}
	return Capital(strings.ReplaceAll(status, "_", " "))
}

// eventWords name the entries of an alert's timeline. The notification
// entries are written by the delivery worker with the actor "notify"; they
// read as what happened to the message, not as "notify_failed by notify".
var eventWords = map[string]string{
	"created":       "Opened",
	"repeated":      "Fired again",
	"acknowledged":  "Acknowledged",
	"resolved":      "Resolved",
	"reopened":      "Reopened",
	"suppressed":    "Silenced",
	"assigned":      "Assigned",
	"note":          "Note",
	"client_note":   "Note from the client",
	"waiting":       "Waiting on the client",
	"resumed":       "Client answered",
	"notified":      "Notification sent",
	"notify_failed": "Notification failed",
	"sla_warning":   "SLA nearly due",
	"sla_breach":    "SLA target missed",
}

// Event is a timeline entry's kind in words.
func Event(kind string) string {
	if w, ok := eventWords[kind]; ok {
		return w
	}
	return Capital(strings.ReplaceAll(kind, "_", " "))
}

// SystemActor reports whether an actor is the platform itself (a worker or
// the SLA clock) rather than a person or a monitoring source: "by notify"
// adds nothing to "Notification failed".
func SystemActor(actor string) bool {
	return actor == "notify" || actor == "sla"
}

// Capital upper-cases the first letter of s.
func Capital(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	return strings.ToUpper(string(r[0])) + string(r[1:])
}

// Input is d as a form field's value: the shortest text Go's duration
// parser reads back to d ("15m", "4h", "1h30m", "90s" would be "1m30s"),
// rather than String's "15m0s" and "4h0m0s". Fractions of a second, which
// no form asks for, are dropped.
func Input(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	neg := d < 0
	if neg {
		d = -d
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for _, u := range []struct {
		size time.Duration
		sym  string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.sym)
			d -= n * u.size
		}
	}
	if b.Len() == 0 || b.String() == "-" {
		return "0s"
	}
	return b.String()
}

// Share is a fraction such as 0.75 as a percentage: "75%".
func Share(f float64) string {
	return fmt.Sprintf("%.0f%%", f*100)
}

// stamp is an RFC 3339 timestamp inside free text.
var stamp = regexp.MustCompile(`\b\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})`)

// Stamps rewrites the RFC 3339 timestamps inside a stored text (an audit
// summary, an alert summary written by the platform) as At in loc. Such
// texts were written once, in UTC, for every later reader; this shows each
// reader the instant on their own clock. Anything that does not parse is
// left as it was.
func Stamps(s string, loc *time.Location) string {
	return stamp.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return m
		}
		return At(t, loc)
	})
}
