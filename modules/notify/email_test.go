package notify

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

func TestEmailDelivery(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, nil)
	tn := f.tenant(t)
	ctx := context.Background()
	if _, err := h.svc.Create(ctx, tn, ChannelInput{Name: "ops-mail", Kind: KindEmail,
		EmailTo: []string{"ops@acme.example", "nobody@acme.example", "Night <night@acme.example>"}}); err != nil {
		t.Fatal(err)
	}
	a := fire(t, f, tn, diskFull())
	if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, []policies.EffectiveItem{routingItem("critical", nil, "ops-mail")}); err != nil || n != 1 {
		t.Fatalf("Enqueue = %d, %v", n, err)
	}
	ev := notifyEvents(t, f, tn, a.ID, 1)[0]
	if ev.Kind != EventNotified || ev.Actor != "notify" ||
		!strings.Contains(ev.Body, "sent to ops@acme.example, night@acme.example") || !strings.Contains(ev.Body, "refused: nobody@acme.example") {
		t.Fatalf("event %+v", ev)
	}

	msgs := h.mail.all()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.from != "alerts@msp.example" || !slices.Equal(m.to, []string{"ops@acme.example", "night@acme.example"}) {
		t.Fatalf("envelope from %q to %q", m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.data)))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "[CRITICAL] disk_full on web1" {
		t.Fatalf("subject %q (%v)", subject, err)
	}
	if msg.Header.Get("From") != `"Switchboard" <alerts@msp.example>` || msg.Header.Get("Auto-Submitted") != "auto-generated" {
		t.Fatalf("headers %v", msg.Header)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"disk 97% full on /", "Severity: critical", "Endpoint: web1", "mount=/, team=ops",
		"View the alert: https://console.msp.example/t/" + tn.Slug + "/alerts/" + strconv.FormatInt(a.ID, 10)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(subject+string(body), tn.Name) {
		t.Error("the message names the tenant")
	}
	if st := h.finalState(t); st != rivertype.JobStateCompleted {
		t.Fatalf("job %s", st)
	}
}
