package dashboard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchboard/modules/alerts"
)

// BenchmarkWorkQueue reads the all-clients queue over 30 busy clients of 40
// open alerts each, as the console home does (25 rows, the 25 busiest).
func BenchmarkWorkQueue(b *testing.B) {
	s, _, list := setup(b, 30)
	ctx := context.Background()
	for _, tn := range list {
		var sigs []alerts.Signal
		for i := range 40 {
			sev := alerts.SeverityWarning
			if i%5 == 0 {
				sev = alerts.SeverityCritical
			}
			sigs = append(sigs, alerts.Signal{Source: "bench", Rule: fmt.Sprintf("r%d", i), Severity: sev, Summary: "s"})
		}
		if _, err := s.alerts.Ingest(ctx, s.tenants.Scope(tn), sigs); err != nil {
			b.Fatal(err)
		}
	}
	ids := make([]int64, len(list))
	for i, tn := range list {
		ids[i] = tn.ID
	}
	b.ResetTimer()
	for b.Loop() {
		home, err := s.tenants.Home(ctx, ids, 0, homePageSize, queueSize)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.WorkQueue(ctx, home.Urgent, QueueOptions{Limit: queueSize, Reach: queueSize, Now: time.Now()}); err != nil {
			b.Fatal(err)
		}
	}
}
