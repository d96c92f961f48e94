package policies

import (
	"regexp"
	"strings"
	"time"

	"switchboard/platform/fault"
)

// Errors callers map to user-facing outcomes through their fault kinds.
var (
	ErrInvalid  = fault.Kind(fault.Invalid, "invalid policy")
	ErrNotFound = fault.Kind(fault.NotFound, "no such policy item")
	ErrLocked   = fault.Kind(fault.Conflict, "this item is a locked baseline and cannot be changed for one client")
)

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}

var keyPattern = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,62}$`)

// Metrics thresholds may watch.
var metrics = map[string]bool{"cpu_percent": true, "memory_percent": true, "disk_percent": true, "uptime_seconds": true}

// Check validates an item: a key, a known kind and exactly the matching body.
func (it Item) Check() error {
	if !keyPattern.MatchString(it.Key) {
		return invalid("key %q must be 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter", it.Key)
	}
	bodies := 0
	for _, set := range []bool{it.Threshold != nil, it.Routing != nil, it.Maintenance != nil, it.Agent != nil, it.SLA != nil} {
		if set {
			bodies++
		}
	}
	if bodies != 1 {
		return invalid("item %s must have exactly one body", it.Key)
	}
	switch it.Kind {
	case KindThreshold:
		if it.Threshold == nil {
			return invalid("item %s: kind threshold needs a threshold body", it.Key)
		}
		return it.Threshold.check()
	case KindRouting:
		if it.Routing == nil {
			return invalid("item %s: kind routing needs a routing body", it.Key)
		}
		return it.Routing.check()
	case KindMaintenance:
		if it.Maintenance == nil || !it.Maintenance.EndsAt.After(it.Maintenance.StartsAt) {
			return invalid("item %s: a maintenance window must end after it starts", it.Key)
		}
	case KindAgent:
		if it.Agent == nil {
			return invalid("item %s: kind agent needs agent settings", it.Key)
		}
		if it.Agent.CheckInInterval < 10*time.Second || it.Agent.CheckInInterval > 24*time.Hour {
			return invalid("check-in interval must be between 10s and 24h")
		}
		if it.Agent.OfflineAfterMissed < 1 || it.Agent.OfflineAfterMissed > 100 {
			return invalid("offline after missed check-ins must be 1-100")
		}
	case KindSLA:
		if it.SLA == nil {
			return invalid("item %s: kind sla needs SLA settings", it.Key)
		}
		return it.SLA.check()
	default:
		return invalid("kind must be threshold, routing, maintenance, agent or sla, not %q", it.Kind)
	}
	return nil
}

func (t Threshold) check() error {
	if !metrics[t.Metric] {
		return invalid("metric must be cpu_percent, memory_percent, disk_percent or uptime_seconds, not %q", t.Metric)
	}
	switch t.Operator {
	case ">", ">=", "<", "<=":
	default:
		return invalid("operator must be >, >=, < or <=, not %q", t.Operator)
	}
	if strings.HasSuffix(t.Metric, "_percent") && (t.Value < 0 || t.Value > 100) {
		return invalid("a %s threshold must be between 0 and 100, not %g", t.Metric, t.Value)
	}
	if t.Metric == "uptime_seconds" && t.Value < 0 {
		return invalid("an uptime_seconds threshold cannot be negative (%g)", t.Value)
	}
	if t.For < 0 || t.For > 7*24*time.Hour {
		return invalid("for must be between 0 and 7 days")
	}
	if t.Severity != "warning" && t.Severity != "critical" {
		return invalid("severity must be warning or critical, not %q", t.Severity)
	}
	return nil
}

func (r Routing) check() error {
	switch r.MinSeverity {
	case "info", "warning", "critical":
	default:
		return invalid("minimum severity must be info, warning or critical")
	}
	if len(r.Channels) == 0 {
		return invalid("routing needs at least one channel")
	}
	return nil
}

// Holds reports whether value satisfies the threshold's condition.
func (t Threshold) Holds(value float64) bool {
	switch t.Operator {
	case ">":
		return value > t.Value
	case ">=":
		return value >= t.Value
	case "<":
		return value < t.Value
	case "<=":
		return value <= t.Value
	}
	return false
}
