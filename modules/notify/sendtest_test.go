package notify

import (
	"context"
	"errors"
	"mime"
	"net/mail"
	"net/netip"
	"strings"
	"testing"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// TestSendTest: "Send test" goes through each kind's real sender — a
// webhook signed as usual (a receiver that checks signatures accepts it),
// e-mail through SMTP, the inbox — and reports the receiver's answer or the
// reason it failed; every attempt is audited.
func TestSendTest(t *testing.T) {
	f := newFixture(t)
	h := newIdleHarness(t, f, nil)
	tn := f.tenant(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	good, failing := newReceiver(t, secret), newReceiver(t, secret, 500)
	for _, in := range []ChannelInput{
		{Name: "good-hook", Kind: KindWebhook, URL: good.URL, Secret: secret},
		{Name: "failing-hook", Kind: KindWebhook, URL: failing.URL, Secret: secret},
		{Name: "wrong-secret", Kind: KindWebhook, URL: good.URL, Secret: "whsec_not_what_the_receiver_has"},
		{Name: "mail", Kind: KindEmail, EmailTo: []string{"ops@acme.example"}},
		{Name: "box", Kind: KindInbox},
	} {
		if _, err := h.svc.Create(ctx, tn, in); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		channel string
		ok      bool
		detail  string
	}{
		{"good-hook", true, "delivered, HTTP 200"},
		{"failing-hook", false, "HTTP 500"},
		{"wrong-secret", false, "HTTP 401: bad signature"},
		{"mail", true, "sent to ops@acme.example"},
		{"box", true, "received in the inbox"},
	}
	for _, tc := range cases {
		t.Run(tc.channel, func(t *testing.T) {
			out, err := h.svc.SendTest(ctx, tn, tc.channel)
			if err != nil {
				t.Fatal(err)
			}
			if out.OK != tc.ok || !strings.Contains(out.Detail, tc.detail) {
				t.Fatalf("outcome %+v, want ok=%v with %q", out, tc.ok, tc.detail)
			}
		})
	}
	if _, err := h.svc.SendTest(ctx, tn, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a missing channel: %v", err)
	}

	if ps := good.payloads(t); len(ps) != 2 || ps[0].Event != EventTest || ps[0].Alert.ID != 0 || ps[0].Client != tn.Name ||
		ps[0].Alert.URL != "https://console.msp.example/t/"+tn.Slug+"/channels" {
		t.Fatalf("test payloads %+v", ps)
	}
	msgs := h.mail.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d mails", len(msgs))
	}
	m, err := mail.ReadMessage(strings.NewReader(string(msgs[0].Data)))
	if err != nil {
		t.Fatal(err)
	}
	if subject, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); subject != "[TEST] switchboard_test" {
		t.Fatalf("subject %q", subject)
	}
	inbox, err := h.svc.Inbox(ctx, tn, 20)
	if err != nil || len(inbox) != 1 || inbox[0].Event != EventTest || inbox[0].AlertID != nil {
		t.Fatalf("inbox %+v (%v)", inbox, err)
	}

	var audited []struct{ Actor, Target, Summary string }
	if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT actor, target, summary FROM audit_log WHERE action = 'notify.channel_tested' ORDER BY id`).Scan(&audited).Error
	}); err != nil {
		t.Fatal(err)
	}
	if len(audited) != len(cases) {
		t.Fatalf("audit %+v", audited)
	}
	for i, a := range audited {
		want := "delivered: "
		if !cases[i].ok {
			want = "failed: "
		}
		if a.Actor != "tech@msp.example" || a.Target != cases[i].channel || !strings.HasPrefix(a.Summary, want) {
			t.Errorf("audit entry %+v, want %s%s", a, want, cases[i].channel)
		}
	}
}

// TestCreateWarnsAboutRefusedAddresses: a webhook this server will refuse
// to reach is created with a warning that says why (see addrcheck.go for
// why not a refusal); "Send test" then shows the refusal itself, and the
// receiver is never reached.
func TestCreateWarnsAboutRefusedAddresses(t *testing.T) {
	f := newFixture(t)
	strict := newIdleHarness(t, f, func(o *Options) { o.AllowPrivateNetworks = false })
	lab := newIdleHarness(t, f, nil) // allows private networks
	dns := map[string]string{"intranet.acme.example": "192.168.10.4", "hooks.acme.example": "93.184.216.34"}
	strict.svc.lookup = func(_ context.Context, host string) ([]netip.Addr, error) {
		if a, ok := dns[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, errors.New("no such host")
	}
	tn := f.tenant(t)
	ctx := context.Background()
	cases := []struct {
		name, url string
		svc       *Service
		warning   string // fragment; "" for none
	}{
		{"private literal", "http://10.0.0.5:8080/hook", strict.svc, "10.0.0.5 is a loopback, private or link-local address"},
		{"loopback v6", "http://[::1]:9/hook", strict.svc, "::1 is a loopback"},
		{"metadata address", "http://169.254.169.254/latest", strict.svc, "169.254.169.254"},
		{"localhost name", "http://localhost:8080/hook", strict.svc, "localhost is a loopback name"},
		{"name resolving privately", "https://intranet.acme.example/hook", strict.svc, "intranet.acme.example resolves to 192.168.10.4"},
		{"public name", "https://hooks.acme.example/hook", strict.svc, ""},
		{"name that does not resolve (yet)", "https://new.acme.example/hook", strict.svc, ""},
		{"private literal where private networks are allowed", "http://10.0.0.5:8080/hook", lab.svc, ""},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := tc.svc.Create(ctx, tn, ChannelInput{Name: "hook-" + string(rune('a'+i)), Kind: KindWebhook, URL: tc.url})
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			if (tc.warning == "") != (ch.Warning == "") || !strings.Contains(ch.Warning, tc.warning) {
				t.Fatalf("warning %q, want %q", ch.Warning, tc.warning)
			}
			if tc.warning != "" && !strings.Contains(ch.Warning, "notify.allow_private_networks") {
				t.Fatalf("warning %q does not name the setting", ch.Warning)
			}
		})
	}

	rcv := newReceiver(t, secret)
	if ch, err := strict.svc.Create(ctx, tn, ChannelInput{Name: "loop", Kind: KindWebhook, URL: rcv.URL, Secret: secret}); err != nil || ch.Warning == "" {
		t.Fatalf("loopback receiver: %+v, %v", ch, err)
	}
	out, err := strict.svc.SendTest(ctx, tn, "loop")
	if err != nil || out.OK || !strings.Contains(out.Detail, "loopback, private or link-local") || rcv.count() != 0 {
		t.Fatalf("test of a refused address: %+v, %v; receiver reached %d times", out, err, rcv.count())
	}
}
