package metrics

import "switchboard/platform/fault"

// Ingested counts n alert signals of a client with one outcome (created,
// repeated, resolved, suppressed, ignored, rejected). client is the
// tenant's slug; it labels nothing unless the top-N opt-in is on.
func (m *Metrics) Ingested(client, outcome string, n int) {
	if n <= 0 {
		return
	}
	m.ingested.WithLabelValues(outcome).Add(float64(n))
	if m.top != nil {
		m.top.add(client, n)
	}
}

// checkInResults are the results a check-in is counted under: ok, a fault
// kind's name, or error for an internal failure.
var checkInResults = []string{"ok", "invalid", "unauthorized", "forbidden", "not_found", "conflict", "too_large", "unavailable", "error"}

// faultNames names each fault kind in labels.
var faultNames = map[error]string{
	fault.Invalid: "invalid", fault.Unauthorized: "unauthorized", fault.Forbidden: "forbidden", fault.NotFound: "not_found",
	fault.Conflict: "conflict", fault.TooLarge: "too_large", fault.Unavailable: "unavailable", fault.Unsupported: "invalid",
}

// CheckedIn counts one agent check-in by how it ended: err nil is "ok", an
// error of a fault kind is that kind ("unauthorized", "forbidden" for a
// suspended client …), anything else "error". Database failures count as
// "unavailable", as the web layer answers them.
func (m *Metrics) CheckedIn(err error) {
	m.checkIns.WithLabelValues(result(err)).Inc()
}

func result(err error) string {
	if err == nil {
		return "ok"
	}
	if name, ok := faultNames[fault.KindOf(fault.FromDatabase(err))]; ok {
		return name
	}
	return "error"
}

// Delivery outcomes: sent; failed and to be retried; failed for good
// (permanent, or out of attempts).
const (
	Delivered = "delivered"
	Retrying  = "retrying"
	Failed    = "failed"
)

// Delivery counts one delivery attempt to a channel of kind (email,
// webhook …) with one outcome.
func (m *Metrics) Delivery(kind, outcome string) {
	m.deliveries.WithLabelValues(kind, outcome).Inc()
}
