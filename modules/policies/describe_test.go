package policies

import (
	"testing"
	"time"
)

// TestDescribe: audit entries and the CLI say what an item does in words.
func TestDescribe(t *testing.T) {
	at := time.Date(2026, 12, 24, 18, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		item Item
		want string
	}{
		{"threshold with a wait", Item{Kind: KindThreshold, Enabled: true, Threshold: &Threshold{Metric: "memory_percent", Operator: ">", Value: 92.5, For: 5 * time.Minute, Severity: "critical", AutoResolve: true}},
			"memory_percent > 92.5 for 5 min → critical, resolves itself"},
		{"threshold at once, disabled", Item{Kind: KindThreshold, Threshold: &Threshold{Metric: "cpu_percent", Operator: ">=", Value: 95, Severity: "warning"}},
			"cpu_percent >= 95 → warning (disabled)"},
		{"routing with labels in name order", Item{Kind: KindRouting, Enabled: true, Routing: &Routing{MinSeverity: "warning", Channels: []string{"oncall", "psa"}, Labels: map[string]string{"team": "db", "env": "prod"}}},
			"warning and above → oncall, psa when env=prod, team=db"},
		{"maintenance", Item{Kind: KindMaintenance, Enabled: true, Maintenance: &Maintenance{StartsAt: at, EndsAt: at.Add(2 * time.Hour)}},
			"maintenance 2026-12-24 18:00 UTC – 2026-12-24 20:00 UTC"},
		{"agent", Item{Kind: KindAgent, Enabled: true, Agent: &AgentSettings{CheckInInterval: 90 * time.Second, OfflineAfterMissed: 1}},
			"agents check in every 1 min 30 s, offline after 1 missed check-in"},
		{"sla", Item{Kind: KindSLA, Enabled: true, SLA: &SLA{Targets: map[string]SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
			Calendar: SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}},
			"critical: acknowledge in 15 min, resolve in 4 h; warning: acknowledge in 1 h, resolve in 8 h; info: acknowledge in 4 h, resolve in 1 d; 24×7; msp calendar; warn at 75%"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.item.Describe(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
