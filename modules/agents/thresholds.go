package agents

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

// condKey names one condition of one endpoint: a threshold, and for
// disk_percent the mount it watches.
type condKey struct {
	Rule  string
	Mount string
}

// condState is a condition's stored clock: since when it has held without a
// break (nil: it does not hold), and whether its alert is open.
type condState struct {
	Since  *time.Time
	Firing bool
}

func (s condState) zero() bool { return s.Since == nil && !s.Firing }

func (s condState) equal(o condState) bool {
	if s.Firing != o.Firing || (s.Since == nil) != (o.Since == nil) {
		return false
	}
	return s.Since == nil || s.Since.Equal(*o.Since)
}

// observation is one threshold applied to one value of a report.
type observation struct {
	key   condKey
	th    policies.Threshold
	value float64
}

// observe pairs each applicable threshold with the value it watches: one
// observation per threshold, or per reported mount for disk_percent.
// Thresholds on metrics agents do not report are skipped.
func observe(items []policies.EffectiveItem, r Report) []observation {
	var out []observation
	for _, it := range items {
		if it.Threshold == nil {
			continue
		}
		th := *it.Threshold
		switch th.Metric {
		case metricCPU:
			out = append(out, observation{key: condKey{Rule: it.Key}, th: th, value: r.CPUPercent})
		case metricMemory:
			out = append(out, observation{key: condKey{Rule: it.Key}, th: th, value: r.MemoryPercent})
		case metricUptime:
			out = append(out, observation{key: condKey{Rule: it.Key}, th: th, value: float64(r.UptimeSeconds)})
		case metricDisk:
			for _, d := range r.Disks {
				out = append(out, observation{key: condKey{Rule: it.Key, Mount: d.Mount}, th: th, value: d.UsedPercent})
			}
		}
	}
	return out
}

// Signals a transition asks for.
const (
	emitNone     = ""
	emitFiring   = alerts.StatusFiring
	emitResolved = alerts.StatusResolved
)

// transition is what one check-in does to one condition.
type transition struct {
	key      condKey
	prev     condState
	next     condState // the zero state means: forget the condition
	emit     string
	th       *policies.Threshold // nil: the threshold no longer applies
	value    float64
	observed bool // false: the mount (or threshold) was not in this report
}

// step advances one condition's clock. The condition must hold at every
// check-in for th.For before it fires: one check-in where it does not hold
// clears the clock. restart clears it too (the endpoint was silent for so
// long that nothing can be said about the time in between). A firing alert
// is re-raised at every check-in while the condition holds (the alerts
// module counts repeats); when the condition stops holding an auto-resolving
// threshold asks for a resolve and stays firing until that is confirmed.
func step(st condState, holds bool, th policies.Threshold, now time.Time, restart bool) (condState, string) {
	if restart {
		st.Since = nil
	}
	if holds {
		if st.Since == nil {
			t := now
			st.Since = &t
		}
		if now.Sub(*st.Since) >= th.For {
			return st, emitFiring
		}
		return st, emitNone
	}
	st.Since = nil
	if st.Firing {
		if th.AutoResolve {
			return st, emitResolved
		}
		st.Firing = false // the alert stays open for someone to resolve by hand
	}
	return st, emitNone
}

// evaluate runs every observation through step, and treats stored
// conditions that this report did not observe as no longer holding: a
// vanished mount under a threshold that still applies (its auto-resolve
// decides), or a threshold that no longer applies to this endpoint (removed,
// disabled or excluded), whose clock is forgotten and whose open alert, if
// any, is left for someone to resolve.
func evaluate(obs []observation, prev map[condKey]condState, items []policies.EffectiveItem, now time.Time, restart bool) []transition {
	var out []transition
	seen := map[condKey]bool{}
	for _, o := range obs {
		seen[o.key] = true
		th := o.th
		next, emit := step(prev[o.key], th.Holds(o.value), th, now, restart)
		out = append(out, transition{key: o.key, prev: prev[o.key], next: next, emit: emit, th: &th, value: o.value, observed: true})
	}
	byKey := map[string]*policies.Threshold{}
	for _, it := range items {
		if it.Threshold != nil {
			byKey[it.Key] = it.Threshold
		}
	}
	var stale []condKey
	for k := range prev {
		if !seen[k] {
			stale = append(stale, k)
		}
	}
	sort.Slice(stale, func(i, j int) bool { return stale[i].Rule+"\x00"+stale[i].Mount < stale[j].Rule+"\x00"+stale[j].Mount })
	for _, k := range stale {
		th := byKey[k.Rule]
		if th == nil {
			out = append(out, transition{key: k, prev: prev[k]})
			continue
		}
		next, emit := step(prev[k], false, *th, now, restart)
		out = append(out, transition{key: k, prev: prev[k], next: next, emit: emit, th: th})
	}
	return out
}

// thresholdSignal is the alert signal of a transition that emits one. Its
// labels (and so its fingerprint) are the same for firing and resolving.
func thresholdSignal(tr transition, host string) alerts.Signal {
	th := tr.th
	labels := map[string]string{"host": host, "metric": th.Metric}
	subject := th.Metric
	if tr.key.Mount != "" {
		labels["mount"] = tr.key.Mount
		subject = fmt.Sprintf("%s of %s", th.Metric, tr.key.Mount)
	}
	sig := alerts.Signal{Source: alertSource, Rule: tr.key.Rule, Severity: th.Severity, Status: tr.emit,
		Endpoint: endpointName(host), Labels: labels}
	switch {
	case tr.emit == emitResolved && !tr.observed:
		sig.Summary = fmt.Sprintf("%s on %s is no longer reported", subject, host)
	case tr.emit == emitResolved:
		sig.Summary = fmt.Sprintf("%s on %s is back to %s (threshold %s %s)", subject, host, num(tr.value), th.Operator, num(th.Value))
	default:
		sig.Summary = fmt.Sprintf("%s on %s is %s (%s %s", subject, host, num(tr.value), th.Operator, num(th.Value))
		if th.For > 0 {
			sig.Summary += " for " + th.For.String()
		}
		sig.Summary += ")"
	}
	return sig
}

// endpointName fits a hostname into the alerts module's endpoint field,
// which is shorter than the longest DNS name.
func endpointName(host string) string {
	if utf8.RuneCountInString(host) <= 200 {
		return host
	}
	return string([]rune(host)[:200])
}

// num formats a metric for a summary: whole numbers as such, others to one decimal.
func num(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
