package notify

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// errBlocked is a webhook address in a network tenants may not reach.
var errBlocked = errors.New("webhook address is in a loopback, private or link-local network, which webhooks may not reach (notify.allow_private_networks)")

// sharedSpace is carrier-grade NAT space (RFC 6598), private in all but name.
var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// blockedAddr reports whether ip is off limits to tenant webhooks.
func blockedAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || sharedSpace.Contains(ip) ||
		(ip.Is4() && ip.As4()[0] == 0)
}

// webhookClient returns the client webhooks are sent with. The address
// check runs in the dialer's Control hook, after name resolution and on
// the very address being connected to, so DNS tricks (a name that resolves
// to 127.0.0.1, or changes between a check and the dial) do not get past
// it. No proxy from the environment (it would be dialled instead of the
// receiver) and no redirects (the signed request belongs to one URL).
func webhookClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errBlocked, address)
			}
			if blockedAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", errBlocked, ap.Addr())
			}
			return nil
		}
	}
	return &http.Client{
		Timeout: webhookTimeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: webhookTimeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func isBlocked(err error) bool { return errors.Is(err, errBlocked) }

// unwrapURLError drops net/http's "Post "<full URL>":" prefix, which would
// put the URL's path and query (often a token) on the timeline.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
