package metrics

import (
	"errors"
	"fmt"
	"testing"

	"switchboard/platform/fault"
)

// The top-N opt-in exports the N noisiest clients and one "_other" series
// for the rest; off (0), no family names any client.
func TestTopClients(t *testing.T) {
	counts := map[string]int{"acme": 5, "beta": 3, "gamma": 1, "delta": 1}
	for _, tc := range []struct {
		n    int
		want map[string]float64 // client → count; nil: no family
	}{
		{0, nil},
		{1, map[string]float64{"acme": 5, OtherClients: 5}},
		{2, map[string]float64{"acme": 5, "beta": 3, OtherClients: 2}},
		{3, map[string]float64{"acme": 5, "beta": 3, "delta": 1, OtherClients: 1}}, // ties go by name
		{10, map[string]float64{"acme": 5, "beta": 3, "delta": 1, "gamma": 1, OtherClients: 0}},
	} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			m := New(Options{TopClients: tc.n, Logger: quiet})
			for client, n := range counts {
				m.Ingested(client, "created", n)
			}
			fams := gather(t, m)
			if got, _ := value(fams["switchboard_alerts_ingested_total"], map[string]string{"outcome": "created"}); got != 10 {
				t.Errorf("created: %v, want 10", got)
			}
			f := fams["switchboard_alerts_ingested_by_client_total"]
			if tc.want == nil {
				if f != nil {
					t.Fatalf("per-client family exported with top_tenants 0: %v", f)
				}
				return
			}
			if len(f.GetMetric()) != len(tc.want) {
				t.Errorf("%d series, want %d: %v", len(f.GetMetric()), len(tc.want), f)
			}
			for client, want := range tc.want {
				if got, ok := value(f, map[string]string{"client": client}); !ok || got != want {
					t.Errorf("client %s: %v (present %v), want %v", client, got, ok, want)
				}
			}
		})
	}
}

// A check-in is counted under the kind of its error.
func TestCheckInResults(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "ok"},
		{fault.New(fault.Unauthorized, "bad credential"), "unauthorized"},
		{fault.Kind(fault.Forbidden, "account suspended"), "forbidden"},
		{fmt.Errorf("wrapped: %w", fault.New(fault.Invalid, "bad report")), "invalid"},
		{errors.New("boom"), "error"},
	} {
		if got := result(tc.err); got != tc.want {
			t.Errorf("result(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	m := New(Options{Logger: quiet})
	m.CheckedIn(nil)
	m.CheckedIn(nil)
	m.CheckedIn(errors.New("boom"))
	fams := gather(t, m)
	for result, want := range map[string]float64{"ok": 2, "error": 1, "unauthorized": 0} {
		if got, ok := value(fams["switchboard_agent_checkins_total"], map[string]string{"result": result}); !ok || got != want {
			t.Errorf("checkins{result=%s} = %v (present %v), want %v", result, got, ok, want)
		}
	}
	m.Delivery("webhook", Retrying)
	if got, _ := value(gather(t, m)["switchboard_notification_deliveries_total"], map[string]string{"kind": "webhook", "outcome": "retrying"}); got != 1 {
		t.Errorf("deliveries{webhook,retrying} = %v, want 1", got)
	}
}
