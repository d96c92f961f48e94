// Package policies holds the MSP's global policy baselines (control plane)
// and each tenant's overrides (tenant schema), and merges them into the
// effective policy a tenant runs with.
package policies

import "time"

// Kinds of policy item.
const (
	KindThreshold   = "threshold"   // a metric condition that raises an alert
	KindRouting     = "routing"     // which notification channels get which alerts
	KindMaintenance = "maintenance" // a window in which matching alerts are suppressed
	KindAgent       = "agent"       // agent check-in settings
)

// Threshold raises an alert when Metric Operator Value has held continuously
// for For. Metric names: cpu_percent, memory_percent, disk_percent (any
// mount; the label "mount" says which), uptime_seconds.
type Threshold struct {
	Metric      string        `json:"metric"`
	Operator    string        `json:"operator"` // >, >=, <, <=
	Value       float64       `json:"value"`
	For         time.Duration `json:"for"`
	Severity    string        `json:"severity"` // warning or critical
	AutoResolve bool          `json:"auto_resolve"`
}

// Routing sends alerts of at least MinSeverity whose labels match to Channels.
type Routing struct {
	MinSeverity string            `json:"min_severity"` // info, warning or critical
	Labels      map[string]string `json:"labels"`       // all must be equal; empty matches everything
	Channels    []string          `json:"channels"`     // notification channel names in the tenant
}

// Maintenance suppresses matching alerts during a recurring weekly window or
// a one-off range.
type Maintenance struct {
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"starts_at"`
	EndsAt   time.Time         `json:"ends_at"`
}

// AgentSettings tell agents how often to check in and the server when to
// consider an endpoint offline.
type AgentSettings struct {
	CheckInInterval    time.Duration `json:"check_in_interval"`
	OfflineAfterMissed int           `json:"offline_after_missed"`
}

// Item is one named policy item with exactly one of its bodies set.
type Item struct {
	Key         string         `json:"key"` // unique name, e.g. "cpu-high"
	Kind        string         `json:"kind"`
	Enabled     bool           `json:"enabled"`
	Threshold   *Threshold     `json:"threshold,omitempty"`
	Routing     *Routing       `json:"routing,omitempty"`
	Maintenance *Maintenance   `json:"maintenance,omitempty"`
	Agent       *AgentSettings `json:"agent,omitempty"`
	SLA         *SLA           `json:"sla,omitempty"`
}

// Origins of an effective item.
const (
	OriginGlobal     = "global"     // the MSP's baseline, untouched
	OriginOverridden = "overridden" // the tenant changed or disabled it
	OriginLocked     = "locked"     // a compliance baseline the tenant cannot change
	OriginTenant     = "tenant"     // the tenant's own addition
)

// EffectiveItem is an item as a tenant runs it, with where its value came from.
type EffectiveItem struct {
	Item
	Origin string `json:"origin"`
	// Excluded lists endpoints (hostnames) this item does not apply to.
	Excluded []string `json:"excluded"`
}

// Effective is a tenant's whole effective policy.
type Effective struct {
	Items []EffectiveItem `json:"items"`
}

// DefaultAgentSettings apply when no agent item is enabled.
var DefaultAgentSettings = AgentSettings{CheckInInterval: time.Minute, OfflineAfterMissed: 3}

// Agent returns the effective agent settings.
func (e Effective) Agent() AgentSettings {
	for _, it := range e.Items {
		if it.Kind == KindAgent && it.Enabled && it.Agent != nil {
			return *it.Agent
		}
	}
	return DefaultAgentSettings
}

// Thresholds returns the enabled thresholds that apply to endpoint host.
func (e Effective) Thresholds(host string) []EffectiveItem {
	var out []EffectiveItem
	for _, it := range e.Items {
		if it.Kind != KindThreshold || !it.Enabled || it.Threshold == nil {
			continue
		}
		excluded := false
		for _, x := range it.Excluded {
			if x == host {
				excluded = true
			}
		}
		if !excluded {
			out = append(out, it)
		}
	}
	return out
}
