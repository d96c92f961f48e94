package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// controlTx is what app wires into NewHooks: a control-plane transaction.
func controlTx(f fixture) ControlTx {
	return func(ctx context.Context, fn func(tx *gorm.DB) error) error {
		return f.cluster.ControlDB().WithContext(ctx).Transaction(fn)
	}
}

// hookHarness is a harness whose service also delivers to MSP-wide webhooks.
func hookHarness(t *testing.T, f fixture) (*harness, *Hooks) {
	t.Helper()
	h := newIdleHarness(t, f, nil)
	h.svc.deps.Policies = PoliciesFunc(func(context.Context, tenancy.Tenant) (policies.Effective, error) {
		return policies.Effective{}, nil // no routing: client channels receive nothing unless a test says so
	})
	hooks := NewHooks(h.svc, controlTx(f))
	h.start(t)
	return h, hooks
}

// message is one request a hookReceiver accepted (its signature verified).
type message struct {
	delivery string
	raw      []byte
	body     webhookBody
}

// hookReceiver is a loopback endpoint that verifies every request's
// signature as the package documentation says, answers with the next status
// of its script (200 once it runs out), and hands accepted messages of the
// clients it watches to the test through a channel.
type hookReceiver struct {
	*httptest.Server
	got chan message

	mu     sync.Mutex
	secret string
	script []int
	watch  map[string]bool // client slugs whose messages the test reads
	tries  int
}

func newHookReceiver(t *testing.T, secret string, watch []string, script ...int) *hookReceiver {
	t.Helper()
	r := &hookReceiver{got: make(chan message, 256), secret: secret, script: script, watch: map[string]bool{}}
	for _, s := range watch {
		r.watch[s] = true
	}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *hookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	raw, err := verify(req, r.secret)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b webhookBody
	if err := json.Unmarshal(raw, &b); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !r.watch[b.Tenant.Slug] {
		return // another test's client (MSP-wide webhooks hear every client)
	}
	r.tries++
	status := http.StatusOK
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	w.WriteHeader(status)
	if status < 300 {
		r.got <- message{delivery: req.Header.Get(HeaderDelivery), raw: raw, body: b}
	}
}

// next waits for the next accepted message.
func (r *hookReceiver) next(t *testing.T) message {
	t.Helper()
	select {
	case m := <-r.got:
		checkPayload(t, m.raw)
		return m
	case <-time.After(15 * time.Second):
		t.Fatal("no webhook message within 15 s")
	}
	return message{}
}

// none fails if a message is waiting.
func (r *hookReceiver) none(t *testing.T) {
	t.Helper()
	select {
	case m := <-r.got:
		t.Fatalf("unexpected message %s", m.raw)
	default:
	}
}

func newHook(t *testing.T, hooks *Hooks, url string, events ...string) Hook {
	t.Helper()
	hk, err := hooks.Create(context.Background(), HookInput{URL: url, Events: events, Description: "test PSA"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hooks.Delete(context.Background(), hk.ID) })
	return hk
}

// TestAlertLifeReachesSubscribersInOrder: every event of an alert's life
// (created, assigned, two notes, an SLA warning, acknowledged, an SLA
// breach, resolved), recorded by the alerts and slas modules and drained
// from the outbox at once, reaches an MSP-wide webhook in that order,
// signed; a client's MSP-side channel receives every one of them, and its
// client-facing channel only the note the client may read. Every payload
// validates against webhooks.openapi.json.
func TestAlertLifeReachesSubscribersInOrder(t *testing.T) {
	f := newFixture(t)
	h, hooks := hookHarness(t, f)
	tn := f.tenant(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})

	psa := newHookReceiver(t, "", []string{tn.Slug})
	psa.setSecret(newHook(t, hooks, psa.URL, HookEvents...).Secret)
	mspSide := newHookReceiver(t, secret, []string{tn.Slug})
	clientSide := newHookReceiver(t, secret, []string{tn.Slug})
	for _, in := range []ChannelInput{
		{Name: "noc", Kind: KindWebhook, URL: mspSide.URL, Secret: secret, Events: AllEvents},
		{Name: "client-desk", Kind: KindWebhook, URL: clientSide.URL, Secret: secret, Events: []string{AlertNoted}, ClientFacing: true},
	} {
		if _, err := h.svc.Create(ctx, tn, in); err != nil {
			t.Fatal(err)
		}
	}
	h.svc.deps.Policies = PoliciesFunc(func(context.Context, tenancy.Tenant) (policies.Effective, error) {
		return policies.Effective{Items: []policies.EffectiveItem{routingItem("", nil, "noc", "client-desk")}}, nil
	})

	a := fire(t, f, tn, diskFull())
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.alerts.Assign(ctx, tn, a.ID, "tech@msp.example"))
	must(f.alerts.AddNote(ctx, tn, a.ID, "rebooting web1; client not told yet", false))
	must(f.alerts.AddNote(ctx, tn, a.ID, "We are on it.", true))
	// What the SLA deadline job records when a clock passes its moment
	// (slas/breach.go): the timeline entry and the Reached event, together.
	must(f.alerts.AddEvent(ctx, tn, a.ID, "sla_warning", "sla", "response clock at 75% of its 1 h target",
		slas.Reached{AlertID: a.ID, Clock: "response", Level: slas.LevelWarning, FirstSeenAt: a.FirstSeenAt}))
	_, err := f.alerts.Transition(ctx, tn, []int64{a.ID}, alerts.ActionAcknowledge)
	must(err)
	must(f.alerts.AddEvent(ctx, tn, a.ID, "sla_breach", "sla", "resolution target 4 h missed",
		slas.Reached{AlertID: a.ID, Clock: "resolution", Level: slas.LevelBreach, FirstSeenAt: a.FirstSeenAt}))
	_, err = f.alerts.Transition(ctx, tn, []int64{a.ID}, alerts.ActionResolve)
	must(err)
	if _, err := h.drains.Drain(ctx, tn); err != nil {
		t.Fatal(err)
	}

	life := []string{AlertCreated, AlertAssigned, AlertNoted, AlertNoted, SLAWarning, AlertAcknowledged, SLABreached, AlertResolved}
	var got []string
	var last time.Time
	for range life {
		m := psa.next(t)
		b := m.body
		got = append(got, b.Event)
		if b.Tenant.Slug != tn.Slug || b.Alert == nil || b.Alert.ID != a.ID || b.Alert.URL == "" || m.delivery == "" {
			t.Fatalf("payload %s (delivery %q)", m.raw, m.delivery)
		}
		if b.OccurredAt.Before(last) {
			t.Errorf("%s occurred at %s, before the event before it (%s)", b.Event, b.OccurredAt, last)
		}
		last = b.OccurredAt
		switch b.Event {
		case AlertAssigned:
			if b.Assignment == nil || b.Assignment.To != "tech@msp.example" || b.Assignment.From != "" {
				t.Errorf("assignment payload %s", m.raw)
			}
		case AlertNoted:
			if b.Note == nil || b.Note.Author != "tech@msp.example" {
				t.Errorf("note payload %s", m.raw)
			}
		case SLAWarning, SLABreached:
			if b.SLA == nil || b.Reason == "" {
				t.Errorf("SLA payload %s", m.raw)
			}
		}
	}
	if !slices.Equal(got, life) {
		t.Fatalf("the MSP-wide webhook received %v, want %v", got, life)
	}

	// The client's MSP-side channel: every event (its jobs run side by side,
	// so in any order), both notes included.
	var channel []string
	notes := map[bool]bool{}
	for range life {
		m := mspSide.next(t)
		channel = append(channel, m.body.Event)
		if m.body.Note != nil {
			notes[m.body.Note.ClientVisible] = true
		}
	}
	slices.Sort(channel)
	want := slices.Clone(life)
	slices.Sort(want)
	if !slices.Equal(channel, want) || !notes[true] || !notes[false] {
		t.Fatalf("the MSP-side channel received %v (notes %v), want %v and both notes", channel, notes, want)
	}
	// The client-facing channel: the shared note, never the internal one.
	m := clientSide.next(t)
	if m.body.Note == nil || !m.body.Note.ClientVisible || m.body.Note.Text != "We are on it." {
		t.Fatalf("the client-facing channel received %s", m.raw)
	}
	clientSide.none(t)
}

// TestMSPWideWebhookSpansClients: one MSP-wide webhook hears the new
// alerts of two clients, and their onboarding and suspension (control-plane
// events from the control plane's outbox); a webhook that did not choose an
// event does not receive it.
func TestMSPWideWebhookSpansClients(t *testing.T) {
	f := newFixture(t)
	h, hooks := hookHarness(t, f)
	ctx := context.Background()
	slugs := []string{fmt.Sprintf("nh-a-%d", seq.Add(1)), fmt.Sprintf("nh-b-%d", seq.Add(1))}
	psa := newHookReceiver(t, "", slugs)
	psa.setSecret(newHook(t, hooks, psa.URL, AlertCreated, ClientCreated, ClientSuspended).Secret)
	quiet := newHookReceiver(t, "", slugs)
	quiet.setSecret(newHook(t, hooks, quiet.URL, AlertResolved).Secret)

	var clients []tenancy.Tenant
	for _, slug := range slugs {
		tn, err := f.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Hooked " + slug})
		if err != nil {
			t.Fatal(err)
		}
		scoped := f.tenants.Scope(tn)
		f.lookup.add(scoped)
		clients = append(clients, scoped)
	}
	drainControl := func() {
		t.Helper()
		if _, err := h.drains.DrainControl(ctx); err != nil {
			t.Fatal(err)
		}
	}
	drainControl()
	seen := map[string]string{}
	for range slugs {
		m := psa.next(t)
		seen[m.body.Tenant.Slug] = m.body.Event
		if m.body.Alert != nil {
			t.Errorf("a client event carries an alert: %s", m.raw)
		}
	}
	if seen[slugs[0]] != ClientCreated || seen[slugs[1]] != ClientCreated {
		t.Fatalf("client events %v", seen)
	}

	for _, tn := range clients {
		fire(t, f, tn, diskFull())
		if _, err := h.drains.Drain(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	clear(seen)
	for range clients {
		m := psa.next(t)
		seen[m.body.Tenant.Slug] = m.body.Event
	}
	if seen[slugs[0]] != AlertCreated || seen[slugs[1]] != AlertCreated {
		t.Fatalf("alert events %v", seen)
	}

	if _, err := f.tenants.Suspend(ctx, slugs[1]); err != nil {
		t.Fatal(err)
	}
	drainControl()
	if m := psa.next(t); m.body.Event != ClientSuspended || m.body.Tenant.Slug != slugs[1] {
		t.Fatalf("after suspending: %s", m.raw)
	}
	psa.none(t)
	quiet.none(t)
}

// TestFailingWebhookIsRetriedThenRedelivered: a receiver failing twice is
// retried (every attempt in the delivery log) until it takes the event;
// Redeliver sends the same bytes under the same delivery id again, as a
// second round in the log.
func TestFailingWebhookIsRetriedThenRedelivered(t *testing.T) {
	f := newFixture(t)
	h, hooks := hookHarness(t, f)
	tn := f.tenant(t)
	ctx := context.Background()
	rcv := newHookReceiver(t, "", []string{tn.Slug}, http.StatusInternalServerError, http.StatusBadGateway)
	hk := newHook(t, hooks, rcv.URL, AlertCreated)
	rcv.setSecret(hk.Secret)

	fire(t, f, tn, diskFull())
	if _, err := h.drains.Drain(ctx, tn); err != nil {
		t.Fatal(err)
	}
	first := rcv.next(t)
	log := waitDelivery(t, hooks, hk.ID, func(d Delivery) bool { return d.Status == deliveryDelivered && len(d.Attempts) == 3 })
	for i, a := range log.Attempts {
		if a.OK != (i == 2) || a.Round != 1 || a.Attempt != i+1 || a.StatusCode == nil {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	if log.Delivery != first.delivery || log.Payload != string(first.raw) || log.Client != tn.Slug {
		t.Fatalf("log %+v for delivery %q", log, first.delivery)
	}

	if _, err := hooks.Redeliver(ctx, log.ID); err != nil {
		t.Fatal(err)
	}
	again := rcv.next(t)
	if again.delivery != first.delivery || !bytes.Equal(again.raw, first.raw) {
		t.Fatalf("redelivered %q %s, first %q %s", again.delivery, again.raw, first.delivery, first.raw)
	}
	log = waitDelivery(t, hooks, hk.ID, func(d Delivery) bool { return len(d.Attempts) == 4 && d.Status == deliveryDelivered })
	if a := log.Attempts[3]; a.Round != 2 || !a.OK {
		t.Fatalf("redelivery attempt %+v", a)
	}
	if _, err := hooks.Redeliver(ctx, 1<<40); !errors.Is(err, ErrHookNotFound) {
		t.Fatalf("redelivering nothing: %v", err)
	}
}

// waitDelivery polls the webhook's only delivery until ok accepts it: the
// attempt is logged just after the receiver answers.
func waitDelivery(t *testing.T, hooks *Hooks, hookID int64, ok func(Delivery) bool) Delivery {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := hooks.Deliveries(context.Background(), hookID, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) == 1 && ok(list[0]) {
			return list[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery log %+v", list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHookInput: what creating an MSP-wide webhook refuses, and how it
// reads what it accepts.
func TestHookInput(t *testing.T) {
	long := string(bytes.Repeat([]byte("x"), 201))
	for _, tc := range []struct {
		name   string
		in     HookInput
		refuse string // "" when accepted
		events []string
	}{
		{"all events", HookInput{URL: "https://psa.example/hook", Events: HookEvents}, "", HookEvents},
		{"lifecycle order, once each, legacy names", HookInput{URL: "https://psa.example/hook",
			Events: []string{ClientCreated, "alert.firing", AlertCreated}}, "", []string{AlertCreated, ClientCreated}},
		{"no URL", HookInput{Events: HookEvents}, "needs a URL", nil},
		{"ftp", HookInput{URL: "ftp://psa.example/", Events: HookEvents}, "https://", nil},
		{"credentials", HookInput{URL: "https://u:p@psa.example/", Events: HookEvents}, "user name", nil},
		{"no events", HookInput{URL: "https://psa.example/hook"}, "at least one event", nil},
		{"unknown event", HookInput{URL: "https://psa.example/hook", Events: []string{"alert.exploded"}}, "alert.exploded", nil},
		{"long description", HookInput{URL: "https://psa.example/hook", Events: HookEvents, Description: long}, "200", nil},
		{"NUL in description", HookInput{URL: "https://psa.example/hook", Events: HookEvents, Description: "a\x00b"}, "text", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.in.normalize()
			if tc.refuse != "" {
				if !errors.Is(err, ErrHookInvalid) || !bytes.Contains([]byte(err.Error()), []byte(tc.refuse)) {
					t.Fatalf("err %v, want invalid mentioning %q", err, tc.refuse)
				}
				return
			}
			if err != nil || !slices.Equal(got.Events, tc.events) || len(got.Secret) < minSecret {
				t.Fatalf("got %+v, %v", got, err)
			}
		})
	}
}

// TestOrderBackoff: a delivery waiting behind an earlier one looks again
// soon at first, then less and less often, never rarer than every 30 s.
func TestOrderBackoff(t *testing.T) {
	for _, tc := range []struct {
		waited, want time.Duration
	}{
		{0, orderWait},
		{time.Second, orderWait},
		{8 * time.Second, 2 * time.Second},
		{time.Minute, 15 * time.Second},
		{10 * time.Minute, 30 * time.Second},
	} {
		if got := orderBackoff(tc.waited); got != tc.want {
			t.Errorf("after %v: %v, want %v", tc.waited, got, tc.want)
		}
	}
}
