// Package slas computes service-level clocks from an alert's timeline and
// the client's SLA: when each clock started, how much business time it has
// used, how long it was paused, and whether it met its target.
package slas

import (
	"fmt"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

// Event kinds on the alert timeline that move the clocks.
const (
	kindCreated      = "created"
	kindAcknowledged = "acknowledged"
	kindResolved     = "resolved"
	kindWaiting      = "waiting" // waiting on the client: both clocks pause
	kindResumed      = "resumed"
)

// Clock is one SLA clock (response or resolution) of one alert.
type Clock struct {
	Target   time.Duration // business time allowed
	Used     time.Duration // business time used so far (or in total, when stopped)
	Paused   time.Duration // business time spent waiting on the client
	Deadline time.Time     // when the target runs out, if the clock keeps running from now
	Stopped  bool          // acknowledged (response) or resolved (resolution)
	Running  bool          // counting now (not stopped, not paused)
	Met      bool          // stopped within the target
	Breached bool          // used more than the target
}

// State is both clocks of an alert at a moment.
type State struct {
	Response   Clock
	Resolution Clock
	Waiting    bool
}

// Compute replays the alert's events against the SLA's calendar up to now.
// Deriving everything from the event log means a changed calendar or target
// recomputes every clock correctly, with nothing stored to migrate.
func Compute(events []alerts.Event, severity string, sla policies.SLA, now time.Time) (State, error) {
	target, ok := sla.Targets[severity]
	if !ok {
		return State{}, fmt.Errorf("the SLA has no target for severity %q", severity)
	}
	cal, err := sla.Calendar.Build()
	if err != nil {
		return State{}, err
	}
	st := State{Response: Clock{Target: target.Acknowledge}, Resolution: Clock{Target: target.Resolve}}
	var started, pauseFrom time.Time
	running := false
	var ackAt, resolvedAt time.Time
	for _, e := range events {
		switch e.Kind {
		case kindCreated:
			if started.IsZero() {
				started, running = e.At, true
			}
		case kindWaiting:
			if running && pauseFrom.IsZero() {
				pauseFrom = e.At
			}
		case kindResumed:
			if !pauseFrom.IsZero() {
				paused := cal.Between(pauseFrom, e.At)
				if ackAt.IsZero() {
					st.Response.Paused += paused
				}
				if resolvedAt.IsZero() {
					st.Resolution.Paused += paused
				}
				pauseFrom = time.Time{}
			}
		case kindAcknowledged:
			if ackAt.IsZero() {
				ackAt = e.At
			}
		case kindResolved:
			if resolvedAt.IsZero() {
				resolvedAt = e.At
			}
		}
	}
	if started.IsZero() {
		return st, nil // no creation event: nothing to measure
	}
	st.Waiting = !pauseFrom.IsZero()
	// A pause still open counts up to now (or the stop, whichever is first).
	openPause := func(until time.Time) time.Duration {
		if pauseFrom.IsZero() || !until.After(pauseFrom) {
			return 0
		}
		return cal.Between(pauseFrom, until)
	}
	finish := func(c *Clock, stoppedAt time.Time) error {
		end := now
		if !stoppedAt.IsZero() {
			end, c.Stopped = stoppedAt, true
		}
		c.Paused += openPause(end)
		c.Used = max(cal.Between(started, end)-c.Paused, 0)
		c.Running = !c.Stopped && pauseFrom.IsZero()
		c.Breached = c.Used > c.Target
		c.Met = c.Stopped && !c.Breached
		if !c.Stopped {
			// While paused, this is where the deadline would be if work resumed now.
			d, err := cal.Add(now, max(c.Target-c.Used, 0))
			if err != nil {
				return err
			}
			c.Deadline = d
		}
		return nil
	}
	if err := finish(&st.Response, ackAt); err != nil {
		return State{}, err
	}
	if err := finish(&st.Resolution, resolvedAt); err != nil {
		return State{}, err
	}
	return st, nil
}
