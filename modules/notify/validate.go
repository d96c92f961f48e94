package notify

import (
	"crypto/rand"
	"encoding/base64"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

var channelName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// Limits on a channel's fields.
const (
	maxRecipients = 20
	maxURL        = 2048
	minSecret     = 16
	maxSecret     = 256
)

// normalize validates in and returns the channel to store.
func (in ChannelInput) normalize() (Channel, error) {
	name := strings.TrimSpace(in.Name)
	if !channelName.MatchString(name) {
		return Channel{}, invalid("channel name %q must be 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", in.Name)
	}
	events, err := normalizeEvents(in.Events)
	if err != nil {
		return Channel{}, err
	}
	ch := Channel{Name: name, Kind: in.Kind, Enabled: true, Events: events, ClientFacing: in.ClientFacing}
	switch in.Kind {
	case KindEmail:
		if in.URL != "" || in.Secret != "" {
			return Channel{}, invalid("an e-mail channel takes addresses, not a URL or secret")
		}
		to, err := normalizeAddresses(in.EmailTo)
		if err != nil {
			return Channel{}, err
		}
		ch.EmailTo = to
	case KindWebhook:
		if len(in.EmailTo) > 0 {
			return Channel{}, invalid("a webhook channel takes a URL, not e-mail addresses")
		}
		u, err := normalizeURL(in.URL)
		if err != nil {
			return Channel{}, err
		}
		secret, err := normalizeSecret(in.Secret)
		if err != nil {
			return Channel{}, err
		}
		ch.URL, ch.Secret = u, secret
	case KindInbox:
		if len(in.EmailTo) > 0 || in.URL != "" || in.Secret != "" {
			return Channel{}, invalid("an inbox channel takes no addresses, URL or secret: it keeps what it is sent here")
		}
	default:
		return Channel{}, invalid("channel kind must be %q, %q or %q, not %q", KindEmail, KindWebhook, KindInbox, in.Kind)
	}
	return ch, nil
}

// normalizeEvents keeps the known events once each, in lifecycle order;
// none given means DefaultEvents. The names of before the full event set
// (alert.firing, alert.escalated) stand for their successors.
func normalizeEvents(in []string) ([]string, error) {
	if len(in) == 0 {
		return slices.Clone(DefaultEvents), nil
	}
	return pickEvents(in, AllEvents)
}

// pickEvents keeps the events of in that known lists, in known's order, or
// says which one is not known.
func pickEvents(in, known []string) ([]string, error) {
	var want []string
	for _, e := range in {
		if next, ok := legacyEvents[e]; ok {
			want = append(want, next...)
			continue
		}
		if !slices.Contains(known, e) {
			return nil, invalid("event %q is not one of %s", e, strings.Join(known, ", "))
		}
		want = append(want, e)
	}
	var out []string
	for _, e := range known {
		if slices.Contains(want, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// normalizeAddresses accepts "a@example.com" or "Ops <a@example.com>" and
// keeps the bare addresses, once each, in the order given.
func normalizeAddresses(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		a, err := mail.ParseAddress(s)
		if err != nil || len(a.Address) > 254 || !strings.Contains(a.Address, "@") {
			return nil, invalid("%q is not an e-mail address", s)
		}
		_, domain, _ := strings.Cut(a.Address, "@")
		if !strings.Contains(domain, ".") && domain != "localhost" {
			return nil, invalid("%q is not an e-mail address: the domain has no dot", s)
		}
		if key := strings.ToLower(a.Address); !seen[key] {
			seen[key] = true
			out = append(out, a.Address)
		}
	}
	if len(out) == 0 {
		return nil, invalid("an e-mail channel needs at least one address")
	}
	if len(out) > maxRecipients {
		return nil, invalid("an e-mail channel takes at most %d addresses", maxRecipients)
	}
	return out, nil
}

// normalizeURL accepts absolute http and https URLs without credentials.
func normalizeURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", invalid("a webhook channel needs a URL")
	}
	if len(raw) > maxURL {
		return "", invalid("the webhook URL is longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", invalid("the webhook URL is not valid: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", invalid("the webhook URL must start with https:// or http://")
	}
	if u.Hostname() == "" {
		return "", invalid("the webhook URL has no host")
	}
	if u.User != nil {
		return "", invalid("the webhook URL must not contain a user name or password; the signature authenticates the sender")
	}
	if u.Fragment != "" {
		return "", invalid("the webhook URL must not contain a #fragment")
	}
	return u.String(), nil
}

// normalizeSecret checks a given secret or makes one: 32 random bytes.
func normalizeSecret(s string) (string, error) {
	if s == "" {
		b := make([]byte, 32)
		_, _ = rand.Read(b) // crypto/rand.Read never fails
		return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
	}
	if len(s) < minSecret || len(s) > maxSecret {
		return "", invalid("a webhook secret must be %d-%d characters", minSecret, maxSecret)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return "", invalid("a webhook secret must not contain spaces or control characters")
		}
	}
	return s, nil
}

// redactURL keeps a URL's scheme and host.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host
}
