package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestChannelValidation(t *testing.T) {
	var many []string
	for i := range 21 {
		many = append(many, fmt.Sprintf("user%d@acme.example", i))
	}
	cases := []struct {
		name    string
		in      ChannelInput
		wantErr string // fragment of the message; empty: valid
		check   func(*testing.T, Channel)
	}{
		{"email", ChannelInput{Name: "ops-mail", Kind: KindEmail, EmailTo: []string{"ops@acme.example", "Night Shift <night@acme.example>", "OPS@acme.example"}}, "",
			func(t *testing.T, c Channel) {
				if !slices.Equal(c.EmailTo, []string{"ops@acme.example", "night@acme.example"}) || !c.Enabled {
					t.Fatalf("addresses %q enabled %v", c.EmailTo, c.Enabled)
				}
			}},
		{"webhook with a generated secret", ChannelInput{Name: "hook", Kind: KindWebhook, URL: " https://hooks.acme.example/alerts?token=abc "}, "",
			func(t *testing.T, c Channel) {
				if c.URL != "https://hooks.acme.example/alerts?token=abc" || !strings.HasPrefix(c.Secret, "whsec_") || len(c.Secret) < 40 {
					t.Fatalf("url %q secret %q", c.URL, c.Secret)
				}
			}},
		{"webhook over http with a given secret", ChannelInput{Name: "hook.2", Kind: KindWebhook, URL: "http://10.0.0.5:8080/x", Secret: "0123456789abcdef"}, "", nil},
		{"name with capitals", ChannelInput{Name: "Ops", Kind: KindEmail, EmailTo: []string{"a@b.example"}}, "lowercase", nil},
		{"empty name", ChannelInput{Kind: KindEmail, EmailTo: []string{"a@b.example"}}, "channel name", nil},
		{"unknown kind", ChannelInput{Name: "sms", Kind: "sms"}, `not "sms"`, nil},
		{"no addresses", ChannelInput{Name: "m", Kind: KindEmail}, "at least one address", nil},
		{"not an address", ChannelInput{Name: "m", Kind: KindEmail, EmailTo: []string{"ops at acme"}}, "not an e-mail address", nil},
		{"header injection", ChannelInput{Name: "m", Kind: KindEmail, EmailTo: []string{"a@b.example\r\nBcc: x@y.example"}}, "not an e-mail address", nil},
		{"dotless domain", ChannelInput{Name: "m", Kind: KindEmail, EmailTo: []string{"root@intranet"}}, "no dot", nil},
		{"too many addresses", ChannelInput{Name: "m", Kind: KindEmail, EmailTo: many}, "at most 20", nil},
		{"email with a URL", ChannelInput{Name: "m", Kind: KindEmail, EmailTo: []string{"a@b.example"}, URL: "https://x.example"}, "not a URL", nil},
		{"no URL", ChannelInput{Name: "h", Kind: KindWebhook}, "needs a URL", nil},
		{"ftp URL", ChannelInput{Name: "h", Kind: KindWebhook, URL: "ftp://x.example/"}, "https:// or http://", nil},
		{"relative URL", ChannelInput{Name: "h", Kind: KindWebhook, URL: "/hooks"}, "https:// or http://", nil},
		{"URL with credentials", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://user:pw@x.example/"}, "user name or password", nil},
		{"URL with a user only", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://user@x.example/"}, "user name or password", nil},
		{"URL without host", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https:///path"}, "no host", nil},
		{"URL with fragment", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://x.example/#a"}, "fragment", nil},
		{"short secret", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://x.example/", Secret: "short"}, "16-256", nil},
		{"secret with spaces", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://x.example/", Secret: "a secret with spaces"}, "spaces", nil},
		{"inbox", ChannelInput{Name: "box", Kind: KindInbox}, "",
			func(t *testing.T, c Channel) {
				if !slices.Equal(c.Events, DefaultEvents) || c.URL != "" || c.Secret != "" {
					t.Fatalf("inbox %+v", c)
				}
			}},
		{"inbox with a URL", ChannelInput{Name: "box", Kind: KindInbox, URL: "https://x.example/"}, "takes no addresses", nil},
		{"events in lifecycle order, once each", ChannelInput{Name: "box", Kind: KindInbox, Events: []string{AlertResolved, AlertCreated, AlertResolved}}, "",
			func(t *testing.T, c Channel) {
				if !slices.Equal(c.Events, []string{AlertCreated, AlertResolved}) {
					t.Fatalf("events %q", c.Events)
				}
			}},
		{"unknown event", ChannelInput{Name: "box", Kind: KindInbox, Events: []string{"alert.deleted"}}, `"alert.deleted" is not one of`, nil},
		{"webhook with addresses", ChannelInput{Name: "h", Kind: KindWebhook, URL: "https://x.example/", EmailTo: []string{"a@b.example"}}, "not e-mail addresses", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := tc.in.normalize()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.check != nil {
					tc.check(t, ch)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestBlockedAddresses(t *testing.T) {
	cases := map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fd00::1": true, "100.64.0.1": true, "0.0.0.0": true,
		"::ffff:127.0.0.1": true, "224.0.0.1": true,
		"93.184.216.34": false, "2606:2800:220:1::1": false, "8.8.8.8": false,
	}
	for addr, want := range cases {
		if got := blockedAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blockedAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
