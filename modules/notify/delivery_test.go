package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// TestDeliveryStaysInItsTenant gives two tenants the same alert id and the
// same channel name and checks that a delivery for one never touches the other.
func TestDeliveryStaysInItsTenant(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, nil)
	a, b := f.tenant(t), f.tenant(t)
	ctx := context.Background()
	rcvA, rcvB := newReceiver(t, secret), newReceiver(t, secret)
	for _, x := range []struct {
		tn  tenancy.Tenant
		rcv *receiver
	}{{a, rcvA}, {b, rcvB}} {
		if _, err := h.svc.Create(ctx, x.tn, ChannelInput{Name: "hook", Kind: KindWebhook, URL: x.rcv.URL, Secret: secret}); err != nil {
			t.Fatal(err)
		}
	}
	alertA, alertB := fire(t, f, a, diskFull()), fire(t, f, b, diskFull())
	if alertA.ID != alertB.ID {
		t.Fatalf("want the same alert id in both schemas, got %d and %d", alertA.ID, alertB.ID)
	}
	if _, err := h.svc.Enqueue(ctx, a, []alerts.Alert{alertA}, []policies.EffectiveItem{routingItem("", nil, "hook")}); err != nil {
		t.Fatal(err)
	}
	notifyEvents(t, f, a, alertA.ID, 1)
	h.finalState(t)

	if rcvA.count() != 1 || rcvB.count() != 0 {
		t.Fatalf("receivers: a=%d b=%d", rcvA.count(), rcvB.count())
	}
	// Counted as the superuser, schema by schema.
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(tn tenancy.Tenant) (n int) {
		q := `SELECT count(*) FROM ` + tn.Schema() + `.alert_events WHERE kind IN ('notified', 'notify_failed')`
		if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(a) != 1 || count(b) != 0 {
		t.Fatalf("delivery events: %s=%d %s=%d", a.Schema(), count(a), b.Schema(), count(b))
	}
}

func TestEnqueue(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, nil)
	tn := f.tenant(t)
	ctx := context.Background()
	rcv := newReceiver(t, secret)
	for _, in := range []ChannelInput{
		{Name: "hook", Kind: KindWebhook, URL: rcv.URL, Secret: secret},
		{Name: "off", Kind: KindWebhook, URL: rcv.URL, Secret: secret},
	} {
		if _, err := h.svc.Create(ctx, tn, in); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.svc.SetEnabled(ctx, tn, "off", false); err != nil {
		t.Fatal(err)
	}
	routing := []policies.EffectiveItem{routingItem("warning", nil, "hook", "off", "missing")}

	info := diskFull()
	info.Rule, info.Severity = "disk_filling", alerts.SeverityInfo
	quiet := fire(t, f, tn, info)
	if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{quiet}, routing); err != nil || n != 0 {
		t.Fatalf("below the minimum: %d, %v", n, err)
	}
	suppressed := fire(t, f, tn, diskFull())
	suppressed.Status = alerts.StatusSuppressed
	if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{suppressed}, routing); err != nil || n != 0 {
		t.Fatalf("suppressed: %d, %v", n, err)
	}

	a := suppressed
	a.Status = alerts.StatusFiring
	// One job: "off" is disabled, "missing" does not exist (and says so on the timeline).
	if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, routing); err != nil || n != 1 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	// Again: the job exists, nothing new (and no second delivery).
	if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, routing); err != nil || n != 0 {
		t.Fatalf("second Enqueue = %d, %v", n, err)
	}
	events := notifyEvents(t, f, tn, a.ID, 3) // missing ×2 (one per Enqueue), delivered once
	var delivered, missing int
	for _, e := range events {
		switch {
		case e.Kind == EventNotified && strings.HasPrefix(e.Body, "webhook hook:"):
			delivered++
		case e.Kind == EventNotifyFailed && strings.Contains(e.Body, "channel missing: no such channel"):
			missing++
		default:
			t.Errorf("unexpected event %+v", e)
		}
	}
	if delivered != 1 || missing != 2 || h.finalState(t) != rivertype.JobStateCompleted || rcv.count() != 1 {
		t.Fatalf("delivered %d, missing %d, requests %d", delivered, missing, rcv.count())
	}
}

func TestChannelGoneBeforeDelivery(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	ctx := context.Background()
	// Not working its queue yet, so the channel can go first.
	h := newIdleHarness(t, f, nil)
	rcv := newReceiver(t, secret)
	if _, err := h.svc.Create(ctx, tn, ChannelInput{Name: "hook", Kind: KindWebhook, URL: rcv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	a := fire(t, f, tn, diskFull())
	if _, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, []policies.EffectiveItem{routingItem("", nil, "hook")}); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Delete(ctx, tn, "hook"); err != nil {
		t.Fatal(err)
	}
	h.start(t)
	ev := notifyEvents(t, f, tn, a.ID, 1)[0]
	if ev.Kind != EventNotifyFailed || !strings.Contains(ev.Body, "was deleted before delivery") {
		t.Fatalf("event %+v", ev)
	}
	if st := h.finalState(t); st != rivertype.JobStateCancelled || rcv.count() != 0 {
		t.Fatalf("job %s, requests %d", st, rcv.count())
	}
}

// TestAnnouncedFromTheOutbox: an ingest records the new alert in the
// tenant's outbox; draining it routes the alert with the tenant's policy and
// delivers it. Draining the same events again (a crash before they were
// deleted), even after River forgot the finished job, sends nothing twice.
func TestAnnouncedFromTheOutbox(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, nil)
	tn := f.tenant(t)
	ctx := context.Background()
	if _, err := h.svc.Create(ctx, tn, ChannelInput{Name: "ops-mail", Kind: KindEmail, EmailTo: []string{"ops@acme.example"}}); err != nil {
		t.Fatal(err)
	}
	var asked int
	h.svc.deps.Policies = PoliciesFunc(func(_ context.Context, got tenancy.Tenant) (policies.Effective, error) {
		asked++
		if got.ID != tn.ID {
			t.Errorf("policy asked for tenant %d", got.ID)
		}
		return policies.Effective{Items: []policies.EffectiveItem{routingItem("critical", map[string]string{"team": "ops"}, "ops-mail")}}, nil
	})
	a := fire(t, f, tn, diskFull())
	if n, err := h.drains.Drain(ctx, tn); err != nil || n != 1 {
		t.Fatalf("drained %d event(s) (%v), want 1", n, err)
	}
	if ev := notifyEvents(t, f, tn, a.ID, 1)[0]; ev.Kind != EventNotified {
		t.Fatalf("event %+v", ev)
	}
	if asked != 1 || len(h.mail.Messages()) != 1 {
		t.Fatalf("policy read %d times, %d mail(s)", asked, len(h.mail.Messages()))
	}

	// The same event handed over again, after River dropped its finished job.
	if err := f.cluster.ControlDB().Exec(`DELETE FROM control.river_job WHERE queue = ?`, h.queue).Error; err != nil {
		t.Fatal(err)
	}
	if err := h.svc.announce(ctx, tn, []alerts.Opened{{Alert: a}}); err != nil {
		t.Fatal(err)
	}
	if st := h.finalState(t); st != rivertype.JobStateCompleted {
		t.Fatalf("second job ended %s", st)
	}
	if len(h.mail.Messages()) != 1 {
		t.Fatalf("%d mails after a repeated announcement, want 1", len(h.mail.Messages()))
	}
	notifyEvents(t, f, tn, a.ID, 1)
}
