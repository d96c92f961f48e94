package policies

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"time"
)

// The staff API shows and takes policy items with durations as strings
// ("5m0s", "15m"), as the API's other durations are, rather than the
// nanosecond counts the model stores.

// apiThreshold is a Threshold with For as a duration string.
type apiThreshold struct {
	Metric      string  `json:"metric"`
	Operator    string  `json:"operator"`
	Value       float64 `json:"value"`
	For         string  `json:"for"`
	Severity    string  `json:"severity"`
	AutoResolve bool    `json:"auto_resolve"`
}

// apiAgent is AgentSettings with the interval as a duration string.
type apiAgent struct {
	CheckInInterval    string `json:"check_in_interval"`
	OfflineAfterMissed int    `json:"offline_after_missed"`
}

// apiSLATarget is an SLATarget with duration strings.
type apiSLATarget struct {
	Acknowledge string `json:"acknowledge"`
	Resolve     string `json:"resolve"`
}

// apiSLA is an SLA with duration strings.
type apiSLA struct {
	Targets    map[string]apiSLATarget `json:"targets"`
	Calendar   SLACalendar             `json:"calendar"`
	ClockOwner string                  `json:"clock_owner"`
	WarnAt     float64                 `json:"warn_at"`
}

// apiBody is the kind-specific part of an item: exactly one is set.
type apiBody struct {
	Threshold   *apiThreshold `json:"threshold,omitempty"`
	Routing     *Routing      `json:"routing,omitempty"`
	Maintenance *Maintenance  `json:"maintenance,omitempty"`
	Agent       *apiAgent     `json:"agent,omitempty"`
	SLA         *apiSLA       `json:"sla,omitempty"`
}

// apiItem is an item as the API shows it, with its description in words.
type apiItem struct {
	Key     string `json:"key"`
	Kind    string `json:"kind"`
	Enabled bool   `json:"enabled"`
	Summary string `json:"summary"`
	apiBody
}

// apiBaseline is a baseline with its flags and override count.
type apiBaseline struct {
	apiItem
	Locked     bool      `json:"locked"`
	UpdatedAt  time.Time `json:"updated_at"`
	Overridden int       `json:"overridden_by"`
}

// apiEffectiveItem is an item of a client's effective policy: where it
// comes from and, for an override, the baseline it overrides.
type apiEffectiveItem struct {
	apiItem
	Origin    string   `json:"origin"`
	Excluded  []string `json:"excluded"`
	Overrides *apiItem `json:"overrides,omitempty"`
}

// apiClientPolicy is a client's effective policy.
type apiClientPolicy struct {
	Client string             `json:"client"`
	Items  []apiEffectiveItem `json:"items"`
}

func duration(d time.Duration) string { return d.String() }

// parseDuration reads a duration string; "" is zero.
func parseDuration(field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalid("%s must be a duration like 5m or 1h30m, not %q", field, s)
	}
	return d, nil
}

func toAPIItem(it Item) apiItem {
	out := apiItem{Key: it.Key, Kind: it.Kind, Enabled: it.Enabled, Summary: it.Describe()}
	out.Routing, out.Maintenance = it.Routing, it.Maintenance
	if th := it.Threshold; th != nil {
		out.Threshold = &apiThreshold{Metric: th.Metric, Operator: th.Operator, Value: th.Value, For: duration(th.For),
			Severity: th.Severity, AutoResolve: th.AutoResolve}
	}
	if a := it.Agent; a != nil {
		out.Agent = &apiAgent{CheckInInterval: duration(a.CheckInInterval), OfflineAfterMissed: a.OfflineAfterMissed}
	}
	if s := it.SLA; s != nil {
		targets := map[string]apiSLATarget{}
		for sev, t := range s.Targets {
			targets[sev] = apiSLATarget{Acknowledge: duration(t.Acknowledge), Resolve: duration(t.Resolve)}
		}
		out.SLA = &apiSLA{Targets: targets, Calendar: s.Calendar, ClockOwner: s.ClockOwner, WarnAt: s.WarnAt}
	}
	return out
}

// item turns a body the API was sent into the model's item (not yet
// checked: Item.Check says what is wrong with it).
func (b apiBody) item(key, kind string, enabled bool) (Item, error) {
	it := Item{Key: key, Kind: kind, Enabled: enabled, Routing: b.Routing, Maintenance: b.Maintenance}
	if th := b.Threshold; th != nil {
		d, err := parseDuration("the threshold's for", th.For)
		if err != nil {
			return Item{}, err
		}
		it.Threshold = &Threshold{Metric: th.Metric, Operator: th.Operator, Value: th.Value, For: d, Severity: th.Severity, AutoResolve: th.AutoResolve}
	}
	if a := b.Agent; a != nil {
		d, err := parseDuration("the agent's check-in interval", a.CheckInInterval)
		if err != nil {
			return Item{}, err
		}
		it.Agent = &AgentSettings{CheckInInterval: d, OfflineAfterMissed: a.OfflineAfterMissed}
	}
	if s := b.SLA; s != nil {
		sla, err := s.model()
		if err != nil {
			return Item{}, err
		}
		it.SLA = &sla
	}
	return it, nil
}

func (s apiSLA) model() (SLA, error) {
	out := SLA{Targets: map[string]SLATarget{}, Calendar: s.Calendar, ClockOwner: s.ClockOwner, WarnAt: s.WarnAt}
	for _, sev := range slices.Sorted(maps.Keys(s.Targets)) {
		a, err := parseDuration("the SLA's "+sev+" acknowledge target", s.Targets[sev].Acknowledge)
		if err != nil {
			return SLA{}, err
		}
		r, err := parseDuration("the SLA's "+sev+" resolve target", s.Targets[sev].Resolve)
		if err != nil {
			return SLA{}, err
		}
		out.Targets[sev] = SLATarget{Acknowledge: a, Resolve: r}
	}
	return out, nil
}

func toAPIBaseline(g Global) apiBaseline {
	return apiBaseline{apiItem: toAPIItem(g.Item), Locked: g.Locked, UpdatedAt: g.UpdatedAt.UTC(), Overridden: g.Overridden}
}

// clientPolicy is a client's effective policy as the API shows it; globals
// are the baselines it was merged from.
func clientPolicy(slug string, eff Effective, globals []Global) apiClientPolicy {
	byKey := map[string]Global{}
	for _, g := range globals {
		byKey[g.Key] = g
	}
	out := apiClientPolicy{Client: slug, Items: []apiEffectiveItem{}}
	for _, it := range eff.Items {
		e := apiEffectiveItem{apiItem: toAPIItem(it.Item), Origin: it.Origin, Excluded: it.Excluded}
		if e.Excluded == nil {
			e.Excluded = []string{}
		}
		if g, ok := byKey[it.Key]; ok && it.Origin == OriginOverridden {
			base := toAPIItem(g.Item)
			e.Overrides = &base
		}
		out.Items = append(out.Items, e)
	}
	return out
}

// etag is a strong validator of v's JSON: the same content gives the same
// tag on every read and every replica, any change a new one.
func etag(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// baselineETag versions a stored baseline row: its content, its lock and
// when it was written. The override count is not part of it: clients
// overriding a baseline do not make an edit of it stale.
func baselineETag(g Global) string {
	return etag(struct {
		Item      Item
		Locked    bool
		UpdatedAt string
	}{g.Item, g.Locked, g.UpdatedAt.UTC().Format(time.RFC3339Nano)})
}
