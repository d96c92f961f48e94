package notify

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/pgtest"
	"switchboard/platform/smtptest"
	"switchboard/platform/tenancy"
)

// quickRetry retries at once, so a test sees several attempts in milliseconds.
type quickRetry struct{}

func (quickRetry) NextRetry(*rivertype.JobRow) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

// harness is a notify service with a running River client of its own,
// working a queue of its own, so tests cannot take each other's jobs.
type harness struct {
	svc    *Service
	jobs   *jobs.Client
	events *outbox.Subscribers
	drains *outbox.Drainer
	mail   *smtptest.Server
	queue  string
}

func newHarness(t *testing.T, f fixture, tweak func(*Options)) *harness {
	t.Helper()
	h := newIdleHarness(t, f, tweak)
	h.start(t)
	return h
}

// newIdleHarness builds the harness without starting its River client, so
// jobs wait until start.
func newIdleHarness(t *testing.T, f fixture, tweak func(*Options)) *harness {
	t.Helper()
	mail, addr := startSMTP(t)
	h := &harness{mail: mail, queue: fmt.Sprintf("notify_test_%d", seq.Add(1))}
	opts := Options{
		SMTP:                 SMTPConfig{Host: addr.IP.String(), Port: addr.Port, From: "Switchboard <alerts@msp.example>"},
		Queue:                h.queue,
		BaseURL:              "https://console.msp.example/",
		AllowPrivateNetworks: true, // httptest listens on loopback
		Logger:               quiet,
	}
	if tweak != nil {
		tweak(&opts)
	}
	var err error
	h.jobs, err = jobs.New(context.Background(), pgtest.URL(), jobs.Options{
		Queues: map[string]int{h.queue: 4}, RetryPolicy: quickRetry{}, PollInterval: 20 * time.Millisecond,
		MaxConns: 4, Logger: quiet, TestOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.events = outbox.NewSubscribers()
	h.svc = NewService(Deps{Alerts: f.alerts, Tenants: f.lookup, Jobs: h.jobs, Events: h.events}, opts)
	// No DNS in tests: a name looked up for a creation warning resolves
	// nowhere unless the test says otherwise.
	h.svc.lookup = func(context.Context, string) ([]netip.Addr, error) { return nil, errors.New("no DNS in tests") }
	h.drains = outbox.NewDrainer(f.cluster, f.lookup, h.events, h.jobs, quiet)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := h.jobs.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return h
}

// start begins working the harness's queue.
func (h *harness) start(t *testing.T) {
	t.Helper()
	if err := h.jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// fire ingests one firing signal and returns the alert as stored.
func fire(t *testing.T, f fixture, tn tenancy.Tenant, sig alerts.Signal) alerts.Alert {
	t.Helper()
	ctx := context.Background()
	out, err := f.alerts.Ingest(ctx, tn, []alerts.Signal{sig})
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := f.alerts.Get(ctx, tn, out[0].AlertID)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func diskFull() alerts.Signal {
	return alerts.Signal{Source: "nagios", Rule: "disk_full", Severity: alerts.SeverityCritical, Summary: "disk 97% full on /",
		Endpoint: "web1", Labels: map[string]string{"team": "ops", "mount": "/"}}
}

// notifyEvents waits until the alert's timeline holds n delivery events
// (notified or notify_failed) and returns them.
func notifyEvents(t *testing.T, f fixture, tn tenancy.Tenant, alertID int64, n int) []alerts.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, events, err := f.alerts.Get(context.Background(), tn, alertID)
		if err != nil {
			t.Fatal(err)
		}
		var got []alerts.Event
		for _, e := range events {
			if e.Kind == EventNotified || e.Kind == EventNotifyFailed {
				got = append(got, e)
			}
		}
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) != n {
				t.Fatalf("alert #%d: %d delivery event(s), want %d: %+v", alertID, len(got), n, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finalState waits for the harness's only job to finish and returns its state.
func (h *harness) finalState(t *testing.T) rivertype.JobState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := h.jobs.River().JobList(context.Background(), river.NewJobListParams().Queues(h.queue).First(10))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Jobs) != 1 {
			t.Fatalf("queue %s holds %d jobs, want 1", h.queue, len(res.Jobs))
		}
		j := res.Jobs[0]
		if j.FinalizedAt != nil || time.Now().After(deadline) {
			return j.State
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// routingItem is an enabled routing policy item.
func routingItem(minSeverity string, labels map[string]string, channels ...string) policies.EffectiveItem {
	return policies.EffectiveItem{Origin: policies.OriginTenant, Item: policies.Item{
		Key: "route", Kind: policies.KindRouting, Enabled: true,
		Routing: &policies.Routing{MinSeverity: minSeverity, Labels: labels, Channels: channels},
	}}
}
