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
	"switchboard/platform/tenancy"
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

	msgs := h.mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if m.From != "alerts@msp.example" || !slices.Equal(m.To, []string{"ops@acme.example", "night@acme.example"}) {
		t.Fatalf("envelope from %q to %q", m.From, m.To)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
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

// TestEmailSpeaksAsTheClient: with a brand, the sender name, the link and
// the signature are the client's; nothing points at the console or the MSP.
func TestEmailSpeaksAsTheClient(t *testing.T) {
	for _, tc := range []struct {
		name      string
		portal    string
		wantLink  string
		wantNoURL bool
	}{
		{"with a portal", "https://portal.acme.example", "View the alert: https://portal.acme.example/alerts/", false},
		{"without a portal", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			h := newHarness(t, f, nil)
			h.svc.deps.Brand = func(context.Context, tenancy.Tenant) (EmailBrand, error) {
				return EmailBrand{SenderName: "Acme Service Desk", Name: "Acme Health IT", PortalURL: tc.portal}, nil
			}
			tn := f.tenant(t)
			ctx := context.Background()
			if _, err := h.svc.Create(ctx, tn, ChannelInput{Name: "client-mail", Kind: KindEmail, EmailTo: []string{"it@acme.example"}}); err != nil {
				t.Fatal(err)
			}
			a := fire(t, f, tn, diskFull())
			if n, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, []policies.EffectiveItem{routingItem("critical", nil, "client-mail")}); err != nil || n != 1 {
				t.Fatalf("Enqueue = %d, %v", n, err)
			}
			notifyEvents(t, f, tn, a.ID, 1)
			msgs := h.mail.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(msgs[0].Data)))
			if err != nil {
				t.Fatal(err)
			}
			if from := msg.Header.Get("From"); from != `"Acme Service Desk" <alerts@msp.example>` {
				t.Errorf("From = %q", from)
			}
			body, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
			text := string(body)
			if !strings.Contains(text, "Sent by Acme Health IT") || (tc.wantLink != "" && !strings.Contains(text, tc.wantLink+strconv.FormatInt(a.ID, 10))) {
				t.Errorf("body:\n%s", text)
			}
			for _, leak := range []string{"Switchboard", "console.msp.example", "/t/" + tn.Slug} {
				if strings.Contains(text, leak) {
					t.Errorf("the client's e-mail reveals %q:\n%s", leak, text)
				}
			}
			if tc.wantNoURL && strings.Contains(text, "http") {
				t.Errorf("a client without a portal gets a link:\n%s", text)
			}
		})
	}
}
