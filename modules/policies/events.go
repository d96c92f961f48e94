package policies

// KindChanged names Changed in the outbox.
const KindChanged = "policy.changed"

// Changed is published when a policy item changes: a tenant's override (in
// the tenant's outbox) or a baseline (in the control plane's, for every
// tenant). Subscribers act on the kinds they care about (KindSLA moves SLA
// deadlines).
type Changed struct {
	Key  string `json:"key"`
	Kind string `json:"kind"`
	// Baseline is true for a baseline change, which concerns every tenant.
	Baseline bool `json:"baseline"`
}

// EventKind names the event in the outbox.
func (Changed) EventKind() string { return KindChanged }
