package notify

import (
	"slices"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

// severityRank orders severities for a route's minimum.
var severityRank = map[string]int{alerts.SeverityInfo: 0, alerts.SeverityWarning: 1, alerts.SeverityCritical: 2}

// Route returns the names of the channels the routing items send a to, in
// the order the items list them, each once. An item applies when it is an
// enabled routing item, a's endpoint is not excluded from it, a is at least
// its minimum severity (none: any), and every one of its labels equals a's,
// read by the one rule silences and maintenance windows use (alerts.Selector:
// a's own label first, else the field the name stands for, so "instance"
// and "endpoint" both name a's endpoint). No applicable item means no
// channel: nothing is sent.
func Route(a alerts.Alert, items []policies.EffectiveItem) []string {
	var out []string
	for _, it := range items {
		r := it.Routing
		if it.Kind != policies.KindRouting || !it.Enabled || r == nil || (a.Endpoint != "" && slices.Contains(it.Excluded, a.Endpoint)) {
			continue
		}
		floor := r.MinSeverity
		if floor == "" {
			floor = alerts.SeverityInfo
		}
		need, known := severityRank[floor]
		if !known || severityRank[a.Severity] < need {
			continue // an unknown minimum routes nothing rather than everything
		}
		if !alerts.EqualSelector(r.Labels).Matches(a) {
			continue
		}
		for _, name := range r.Channels {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}
