package agents

import (
	"context"
	"strconv"
	"testing"
	"time"
)

func TestOfflineDetection(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tn := f.tenant(t)
	if at := nextOffline(t, tn); at != nil {
		t.Fatalf("a tenant without endpoints is due at %v", at)
	}
	quiet, busy := f.enroll(t, tn, "quiet"), f.enroll(t, tn, "busy")
	// Grace is 3 missed check-ins of 1 minute.
	if at := nextOffline(t, tn); at == nil || !at.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("after enrollment, next offline at %v, want t0+3m", at)
	}

	steps := []struct {
		at       time.Duration
		checkIn  string // credential of who checks in first ("" nobody)
		detect   bool
		want     string // status of the quiet endpoint's offline alerts, "" none
		wantNext time.Duration
	}{
		{1 * time.Minute, busy.Credential, true, "", 3 * time.Minute}, // quiet missed 1 of 3
		{2 * time.Minute, busy.Credential, true, "", 3 * time.Minute},
		{3 * time.Minute, busy.Credential, true, "firing/1", 6 * time.Minute}, // quiet is offline; busy is watched
		{4 * time.Minute, busy.Credential, true, "firing/1", 7 * time.Minute}, // raised once, not again
		{5 * time.Minute, "", true, "firing/1", 7 * time.Minute},
		// Back: resolved. The deadline stays (busy, seen at 4m, is still the oldest).
		{5*time.Minute + 30*time.Second, quiet.Credential, false, "resolved/1", 7 * time.Minute},
		{6 * time.Minute, busy.Credential, true, "resolved/1", 8*time.Minute + 30*time.Second},
	}
	for i, s := range steps {
		f.clock.Set(t0.Add(s.at))
		if s.checkIn != "" {
			host := "busy"
			if s.checkIn == quiet.Credential {
				host = "quiet"
			}
			f.checkIn(t, s.checkIn, report(host))
		}
		if s.detect {
			if err := f.agents.DetectOffline(ctx, tn); err != nil {
				t.Fatal(err)
			}
		}
		got := ""
		for _, a := range f.alertsOf(t, tn, ruleOffline) {
			if a.Endpoint != "quiet" || a.Severity != "critical" || a.Labels["host"] != "quiet" {
				t.Fatalf("step %d: unexpected alert %+v", i, a)
			}
			got += a.Status + "/" + strconv.Itoa(a.Occurrences)
		}
		if got != s.want {
			t.Fatalf("step %d (t0+%s): offline alerts %q, want %q", i, s.at, got, s.want)
		}
		if at := nextOffline(t, tn); at == nil || !at.Equal(t0.Add(s.wantNext)) {
			t.Fatalf("step %d (t0+%s): next offline at %v, want t0+%s", i, s.at, at, s.wantNext)
		}
	}
	eps, _ := f.agents.ListEndpoints(ctx, tn)
	for _, ep := range eps {
		if ep.Status != StatusOnline {
			t.Fatalf("endpoint %s is %s after checking in again", ep.Hostname, ep.Status)
		}
	}
	if n := count(t, tn, `SELECT count(*) FROM endpoints WHERE offline_alert`); n != 0 {
		t.Fatalf("%d endpoints still flagged with an offline alert", n)
	}

	// The sweep entry point visits the given tenants and skips unknown ids.
	f.clock.Set(t0.Add(20 * time.Minute))
	if err := f.agents.DetectOfflineDue(ctx, []int64{tn.ID, 999999}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, tn, `SELECT count(*) FROM endpoints WHERE status = 'offline' AND offline_alert`); n != 2 {
		t.Fatalf("after the sweep %d endpoints are offline with an alert, want 2", n)
	}
	if at := nextOffline(t, tn); at != nil {
		t.Fatalf("with every endpoint offline and alerted nothing is due, got %v", at)
	}
}
