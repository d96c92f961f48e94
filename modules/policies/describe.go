package policies

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"switchboard/platform/humane"
)

// Describe says in words what an item does, for audit entries and the CLI:
// "memory_percent > 90 for 5 min → critical", not its stored JSON. Times
// are in UTC (an audit entry is read by people in many zones; its page
// shows the entry's own time in the reader's).
func (it Item) Describe() string {
	var what string
	switch {
	case it.Threshold != nil:
		th := it.Threshold
		what = fmt.Sprintf("%s %s %s", th.Metric, th.Operator, strconv.FormatFloat(th.Value, 'f', -1, 64))
		if th.For > 0 {
			what += " for " + humane.Duration(th.For)
		}
		what += " → " + th.Severity
		if th.AutoResolve {
			what += ", resolves itself"
		}
	case it.Routing != nil:
		what = fmt.Sprintf("%s and above → %s", it.Routing.MinSeverity, strings.Join(it.Routing.Channels, ", "))
		if len(it.Routing.Labels) > 0 {
			what += " when " + labels(it.Routing.Labels)
		}
	case it.Maintenance != nil:
		m := it.Maintenance
		what = fmt.Sprintf("maintenance %s – %s", humane.At(m.StartsAt, nil), humane.At(m.EndsAt, nil))
		if len(m.Labels) > 0 {
			what += " for " + labels(m.Labels)
		}
	case it.Agent != nil:
		what = fmt.Sprintf("agents check in every %s, offline after %s", humane.Duration(it.Agent.CheckInInterval),
			humane.Plural(it.Agent.OfflineAfterMissed, "missed check-in", "missed check-ins"))
	case it.SLA != nil:
		what = it.SLA.Describe()
	default:
		what = it.Kind
	}
	if !it.Enabled {
		what += " (disabled)"
	}
	return what
}

// labels lists label matches in name order: "env=prod, team=db".
func labels(m map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ", ")
}
