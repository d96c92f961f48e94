package alerts

import (
	"context"
	"testing"
	"time"

	"switchboard/modules/audit"
)

// TestAlertFiresWhenItsSilenceIsOver: a signal muted by a silence, seen
// again after the silence was expired, opens the alert as a new one would —
// action "created", an "opened" event published for notifications, its
// work starting now — instead of counting as a repeat nobody is told of.
func TestAlertFiresWhenItsSilenceIsOver(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	sig := []Signal{{Source: "nagios", Rule: "disk", Severity: SeverityCritical, Labels: map[string]string{"host": "web9"}}}
	now := time.Now()
	sil, err := f.alerts.CreateSilence(ctx, tn, []Matcher{{Name: "host", Op: "=", Value: "web9"}}, now.Add(-time.Minute), now.Add(time.Hour), "patching")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		before     func()
		wantAction string
		wantStatus string
	}{
		{"muted", func() {}, "suppressed", StatusSuppressed},
		{"still muted", func() {}, "repeated", StatusSuppressed},
		{"silence over: it opens", func() {
			if _, _, err := f.alerts.ExpireSilence(ctx, tn, sil.ID); err != nil {
				t.Fatal(err)
			}
		}, "created", StatusFiring},
		{"then it repeats", func() {}, "repeated", StatusFiring},
	}
	var id int64
	var mutedAt time.Time
	for _, tc := range cases {
		tc.before()
		out, err := f.alerts.Ingest(ctx, tn, sig)
		if err != nil {
			t.Fatal(err)
		}
		if o := out[0]; o.Action != tc.wantAction || o.Status != tc.wantStatus || (id != 0 && o.AlertID != id) {
			t.Fatalf("%s: %+v, want %s/%s on alert %d", tc.name, o, tc.wantAction, tc.wantStatus, id)
		}
		id = out[0].AlertID
		a, events, err := f.alerts.Get(ctx, tn, id)
		if err != nil {
			t.Fatal(err)
		}
		switch tc.name {
		case "muted":
			mutedAt = a.FirstSeenAt
		case "silence over: it opens":
			if !a.FirstSeenAt.After(mutedAt) {
				t.Errorf("its work starts when it fires: first seen %v, muted at %v", a.FirstSeenAt, mutedAt)
			}
			last := events[len(events)-1]
			if last.Kind != "created" || last.Body != "no longer suppressed: " {
				t.Errorf("last timeline entry %+v, want it opened", last)
			}
		}
	}
}
