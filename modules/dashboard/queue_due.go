package dashboard

import (
	"cmp"
	"fmt"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/platform/humane"
)

// The states of a queued alert's SLA clock, as the queue colours them.
const (
	DueOK       = "ok"       // more than the SLA's warning share of its target left
	DueNear     = "near"     // past the warning share (75 % used by default): act soon
	DueBreached = "breached" // past its target
	DueNone     = "none"     // nothing to measure against (Reason says why)
)

// Due is an open alert's running SLA clock as the work queue shows it: the
// response clock until the alert is acknowledged, then the resolution
// clock. The clocks come from slas.Compute, the same replay of the timeline
// the alert page and the breach jobs use.
type Due struct {
	State    string
	Clock    string        // "response" or "resolution"
	Target   time.Duration // business time the clock allows
	Left     time.Duration // until the deadline, on the wall clock (ok, near)
	Over     time.Duration // business time past the target (breached)
	Deadline time.Time     // when it breaches if the clock keeps running (ok, near)
	Paused   bool          // waiting on the client: the clock is not running
	Business bool          // the clock runs on business hours, not around the clock
	Reason   string        // why there is no clock (none)
}

// dueOf reads the alert's SLA clock at now. hasSLA is false when the
// client has no SLA enabled.
func dueOf(events []alerts.Event, severity string, sla policies.SLA, hasSLA bool, now time.Time) Due {
	if !hasSLA {
		return Due{State: DueNone, Reason: "this client has no SLA"}
	}
	if _, ok := sla.Targets[severity]; !ok {
		return Due{State: DueNone, Reason: fmt.Sprintf("this client's SLA has no target for %s alerts", severity)}
	}
	st, err := slas.Compute(events, severity, sla, now)
	if err != nil {
		return Due{State: DueNone, Reason: "this client's SLA cannot be applied: " + err.Error()}
	}
	d := Due{Clock: "response", Business: !sla.Calendar.AlwaysOpen}
	c := st.Response
	if c.Stopped {
		d.Clock, c = "resolution", st.Resolution
	}
	if c.Stopped || (c.Deadline.IsZero() && !c.Breached) {
		// Resolved, or a timeline without its opening: nothing is running.
		return Due{State: DueNone, Reason: "its timeline has no open SLA clock"}
	}
	d.Target, d.Paused = c.Target, !c.Running
	warnAt := sla.WarnAt
	if warnAt <= 0 || warnAt >= 1 {
		warnAt = 0.75 // the baseline's share, for an SLA stored before it had one
	}
	switch {
	case c.Breached:
		d.State, d.Over = DueBreached, c.Used-c.Target
	default:
		d.State, d.Deadline = DueOK, c.Deadline
		d.Left = max(c.Deadline.Sub(now), 0).Round(time.Second)
		if float64(c.Used) >= warnAt*float64(c.Target) {
			d.State = DueNear
		}
	}
	return d
}

// Text is the queue cell: "in 1 h 5 min", "breached 12 min ago", "—".
func (d Due) Text() string {
	switch d.State {
	case DueNone:
		return humane.None
	case DueBreached:
		if d.Over < time.Minute {
			return "breached just now"
		}
		return "breached " + humane.Duration(d.Over) + " ago"
	}
	if d.Paused {
		return humane.Duration(d.Left) + " left, paused"
	}
	return "in " + humane.Duration(d.Left)
}

// Title explains the cell in a sentence: which clock, its target, and why
// there is none when there is none.
func (d Due) Title() string {
	if d.State == DueNone {
		return "No SLA deadline: " + d.Reason
	}
	of := ""
	if d.Business {
		of = " of business time"
	}
	clock := humane.Capital(d.Clock)
	switch {
	case d.State == DueBreached:
		return fmt.Sprintf("%s target of %s missed by %s%s", clock, humane.Duration(d.Target), humane.Duration(d.Over), of)
	case d.Paused:
		return fmt.Sprintf("%s clock paused while waiting on the client; %s of its %s target left", clock, humane.Duration(d.Left), humane.Duration(d.Target))
	case d.State == DueNear:
		return fmt.Sprintf("%s target of %s nearly used up: due %s", clock, humane.Duration(d.Target), d.Text())
	}
	return fmt.Sprintf("%s target of %s: due %s", clock, humane.Duration(d.Target), d.Text())
}

// compare orders clocks by how soon they need attention: furthest past the
// target first, then least time left, and alerts without a clock last.
func (d Due) compare(o Due) int {
	key := func(d Due) (int, time.Duration) {
		switch d.State {
		case DueNone:
			return 2, 0
		case DueBreached:
			return 0, -d.Over
		}
		return 1, d.Left
	}
	ga, ka := key(d)
	gb, kb := key(o)
	if ga != gb {
		return cmp.Compare(ga, gb)
	}
	return cmp.Compare(ka, kb)
}
