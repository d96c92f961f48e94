package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// payloads decodes what a receiver was sent, in order.
func (r *receiver) payloads(t *testing.T) []webhookBody {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]webhookBody, len(r.bodies))
	for i, b := range r.bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("body %s: %v", b, err)
		}
	}
	return out
}

// TestFollowUpsReachSubscribedChannels: acknowledging and resolving an
// alert go from the alerts module's outbox through the delivery jobs to the
// channels that subscribe to those events, and to no other; each payload
// names its event, the client's display name and the alert's console page.
func TestFollowUpsReachSubscribedChannels(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, nil)
	tn := f.tenant(t)
	ctx := context.Background()
	if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Exec(`UPDATE settings SET value = 'Acme Health (display)' WHERE key = 'display_name'`).Error
	}); err != nil {
		t.Fatal(err)
	}
	ticket, pager := newReceiver(t, secret), newReceiver(t, secret)
	for _, in := range []ChannelInput{
		{Name: "psa", Kind: KindWebhook, URL: ticket.URL, Secret: secret, Events: AllEvents},
		{Name: "pager", Kind: KindWebhook, URL: pager.URL, Secret: secret}, // the default: new alerts and escalations
		{Name: "box", Kind: KindInbox, Events: []string{AlertResolved, AlertAcknowledged}},
	} {
		if _, err := h.svc.Create(ctx, tn, in); err != nil {
			t.Fatal(err)
		}
	}
	h.svc.deps.Policies = PoliciesFunc(func(context.Context, tenancy.Tenant) (policies.Effective, error) {
		return policies.Effective{Items: []policies.EffectiveItem{routingItem("", nil, "psa", "pager", "box")}}, nil
	})
	drain := func() {
		t.Helper()
		if _, err := h.drains.Drain(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}

	a := fire(t, f, tn, diskFull())
	drain()
	notifyEvents(t, f, tn, a.ID, 2) // psa and pager
	for _, step := range []struct {
		action alerts.Action
		total  int
	}{{alerts.ActionAcknowledge, 4}, {alerts.ActionWait, 4}, {alerts.ActionResolve, 6}} {
		if _, err := f.alerts.Transition(ctx, tn, []int64{a.ID}, step.action); err != nil {
			t.Fatal(err)
		}
		drain()
		notifyEvents(t, f, tn, a.ID, step.total) // psa and box each time; waiting sends nothing
	}

	link := "https://console.msp.example/t/" + tn.Slug + "/alerts/" + strconv.FormatInt(a.ID, 10)
	var events []string
	for _, p := range ticket.payloads(t) {
		events = append(events, p.Event)
		if p.Client != "Acme Health (display)" || p.Alert.URL != link || p.Alert.ID != a.ID || p.Tenant.Slug != tn.Slug {
			t.Errorf("payload %+v: want client %q and link %s", p, "Acme Health (display)", link)
		}
	}
	if want := []string{AlertCreated, AlertAcknowledged, AlertResolved}; !slices.Equal(events, want) {
		t.Fatalf("the PSA received %q, want %q", events, want)
	}
	if ps := pager.payloads(t); len(ps) != 1 || ps[0].Event != AlertCreated {
		t.Fatalf("the pager (new alerts only) received %+v", ps)
	}
	ticket.mu.Lock()
	ids := map[string]bool{}
	for _, r := range ticket.requests {
		ids[r.Header.Get(HeaderDelivery)] = true
	}
	ticket.mu.Unlock()
	if len(ids) != 3 {
		t.Errorf("delivery ids %v: want one per event", ids)
	}

	inbox, err := h.svc.Inbox(ctx, tn, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 2 || inbox[0].Event != AlertResolved || inbox[1].Event != AlertAcknowledged ||
		inbox[0].Client() != "Acme Health (display)" || inbox[0].Link() != link || inbox[0].Channel != "box" ||
		inbox[0].AlertID == nil || *inbox[0].AlertID != a.ID || inbox[0].Subject != "[RESOLVED] disk_full on web1" {
		t.Fatalf("inbox %+v", inbox)
	}

	// Handed over again (a drain that crashed before deleting): nothing twice.
	if err := h.svc.followUp(ctx, tn, []alerts.Changed{{AlertID: a.ID, Action: alerts.ActionResolve}}); err != nil {
		t.Fatal(err)
	}
	if n := ticket.count(); n != 3 {
		t.Fatalf("the PSA received %d requests after a repeated resolve, want 3", n)
	}

	// An alert a silence muted was never announced: its end is not either.
	if _, err := f.alerts.CreateSilence(ctx, tn, []alerts.Matcher{{Name: "rule", Op: "=", Value: "quiet"}}, a.FirstSeenAt, a.FirstSeenAt.Add(1e12), ""); err != nil {
		t.Fatal(err)
	}
	sig := diskFull()
	sig.Rule = "quiet"
	muted := fire(t, f, tn, sig)
	if muted.Status != alerts.StatusSuppressed {
		t.Fatalf("muted alert is %s", muted.Status)
	}
	if _, err := f.alerts.Transition(ctx, tn, []int64{muted.ID}, alerts.ActionResolve); err != nil {
		t.Fatal(err)
	}
	drain()
	if n := ticket.count(); n != 3 {
		t.Fatalf("the PSA heard of a muted alert's resolution (%d requests)", n)
	}
}
