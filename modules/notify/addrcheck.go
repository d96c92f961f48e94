package notify

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// A webhook whose address the delivery dialer will refuse (netguard.go) is
// created with a warning, not refused. The dialer is the authority: it runs
// on every delivery, on the address actually dialled, in the process that
// delivers — whose notify.allow_private_networks may differ from that of the
// process creating the channel (an operator command, a lab whose serve
// allows private networks) — and a name's DNS answer at creation may not be
// the one at delivery. Refusing here would make such a channel impossible to
// set up; saying plainly that it will fail, and offering "Send test", tells
// staff everything the refusal would have.

// lookupTimeout bounds the DNS lookup behind a creation warning.
const lookupTimeout = 2 * time.Second

// literalRefusal says why a webhook URL's host is refused by address alone
// (an IP literal in a blocked network, or a localhost name), or "".
func literalRefusal(raw string) string {
	host := webhookHost(raw)
	if host == "" {
		return ""
	}
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return fmt.Sprintf("%s is a loopback name", host)
	}
	if ip, err := netip.ParseAddr(host); err == nil && blockedAddr(ip) {
		return fmt.Sprintf("%s is a loopback, private or link-local address", ip)
	}
	return ""
}

// webhookHost is a URL's host, lower case, without brackets or zone.
func webhookHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	return host
}

// addressWarning is the warning a new webhook channel carries when this
// server would refuse its address: by the address itself, or because every
// address its name resolves to now is refused. "" when deliveries may go
// through (or private networks are allowed).
func (s *Service) addressWarning(ctx context.Context, raw string) string {
	if s.opts.AllowPrivateNetworks {
		return ""
	}
	why := literalRefusal(raw)
	if why == "" {
		why = s.resolvesOnlyToBlocked(ctx, webhookHost(raw))
	}
	if why == "" {
		return ""
	}
	return "Deliveries to this webhook will be refused: " + why +
		", which webhooks may not reach while notify.allow_private_networks is off. Use a public address, or ask the operator."
}

// resolvesOnlyToBlocked looks host up and says so when it resolves, and
// only to blocked addresses. A failed lookup says nothing: the name may
// resolve by the time an alert fires, and delivery reports it if not.
func (s *Service) resolvesOnlyToBlocked(ctx context.Context, host string) string {
	if host == "" {
		return ""
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return "" // a literal: literalRefusal judged it
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := s.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		return ""
	}
	for _, a := range addrs {
		if !blockedAddr(a) {
			return ""
		}
	}
	return fmt.Sprintf("%s resolves to %s, a loopback, private or link-local address", host, addrs[0].Unmap())
}

// resolver looks names up for creation warnings; tests replace it.
type resolver func(ctx context.Context, host string) ([]netip.Addr, error)

func systemResolver(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}
