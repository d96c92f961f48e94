package notify

import (
	"slices"
	"testing"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

func TestRoute(t *testing.T) {
	crit := alerts.Alert{Source: "nagios", Rule: "disk_full", Severity: alerts.SeverityCritical, Endpoint: "web1", Labels: map[string]string{"team": "ops"}}
	warn := crit
	warn.Severity = alerts.SeverityWarning
	info := crit
	info.Severity = alerts.SeverityInfo
	disabled := routingItem("", nil, "mail")
	disabled.Enabled = false
	excluded := routingItem("", nil, "mail")
	excluded.Excluded = []string{"web1"}
	notRouting := routingItem("", nil, "mail")
	notRouting.Kind = policies.KindThreshold
	noBody := routingItem("", nil, "mail")
	noBody.Routing = nil
	// As the Alertmanager webhook stores it: the raw labels kept, severity
	// mapped (page → critical), endpoint taken from instance.
	am := alerts.Alert{Source: "alertmanager", Rule: "HighLoad", Severity: alerts.SeverityCritical, Endpoint: "web2:9100",
		Labels: map[string]string{"alertname": "HighLoad", "severity": "page", "instance": "web2:9100"}}

	cases := []struct {
		name  string
		alert alerts.Alert
		items []policies.EffectiveItem
		want  []string
	}{
		{"no items, no channels", crit, nil, nil},
		{"no minimum takes everything", info, []policies.EffectiveItem{routingItem("", nil, "mail")}, []string{"mail"}},
		{"critical meets warning", crit, []policies.EffectiveItem{routingItem("warning", nil, "pager")}, []string{"pager"}},
		{"warning meets warning", warn, []policies.EffectiveItem{routingItem("warning", nil, "pager")}, []string{"pager"}},
		{"info is below warning", info, []policies.EffectiveItem{routingItem("warning", nil, "pager")}, nil},
		{"warning is below critical", warn, []policies.EffectiveItem{routingItem("critical", nil, "pager")}, nil},
		{"unknown minimum routes nothing", crit, []policies.EffectiveItem{routingItem("high", nil, "pager")}, nil},
		{"labels all equal", crit, []policies.EffectiveItem{routingItem("", map[string]string{"team": "ops"}, "ops")}, []string{"ops"}},
		{"a label differs", crit, []policies.EffectiveItem{routingItem("", map[string]string{"team": "db"}, "db")}, nil},
		{"a label is missing", crit, []policies.EffectiveItem{routingItem("", map[string]string{"team": "ops", "env": "prod"}, "ops")}, nil},
		{"rule and endpoint as labels", crit, []policies.EffectiveItem{routingItem("", map[string]string{"rule": "disk_full", "endpoint": "web1", "source": "nagios"}, "disks")}, []string{"disks"}},
		{"alertname is the rule", crit, []policies.EffectiveItem{routingItem("", map[string]string{"alertname": "disk_full"}, "disks")}, []string{"disks"}},
		{"instance names the endpoint", crit, []policies.EffectiveItem{routingItem("", map[string]string{"instance": "web1"}, "hosts")}, []string{"hosts"}},
		{"endpoint names alertmanager's instance", am, []policies.EffectiveItem{routingItem("", map[string]string{"endpoint": "web2:9100"}, "hosts")}, []string{"hosts"}},
		{"alertmanager severity label is matched raw", am, []policies.EffectiveItem{routingItem("", map[string]string{"severity": "page"}, "pager")}, []string{"pager"}},
		{"alertmanager severity label wins over the mapped one", am, []policies.EffectiveItem{routingItem("", map[string]string{"severity": "critical"}, "pager")}, nil},
		{"mapped severity still meets a minimum", am, []policies.EffectiveItem{routingItem("critical", nil, "pager")}, []string{"pager"}},
		{"an empty value selects a missing label", crit, []policies.EffectiveItem{routingItem("", map[string]string{"env": ""}, "ops")}, []string{"ops"}},
		{"disabled item", crit, []policies.EffectiveItem{disabled}, nil},
		{"excluded endpoint", crit, []policies.EffectiveItem{excluded}, nil},
		{"other kinds are ignored", crit, []policies.EffectiveItem{notRouting, noBody}, nil},
		{"several items, in order, each channel once", crit, []policies.EffectiveItem{
			routingItem("warning", nil, "pager", "mail"),
			routingItem("", map[string]string{"team": "ops"}, "mail", "ops-hook"),
			routingItem("critical", map[string]string{"team": "db"}, "db"),
		}, []string{"pager", "mail", "ops-hook"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Route(tc.alert, tc.items); !slices.Equal(got, tc.want) {
				t.Fatalf("Route = %q, want %q", got, tc.want)
			}
		})
	}
}
