package dnstest

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func resolverFor(addr, network string) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func TestServer(t *testing.T) {
	s := Start(t)
	if !strings.HasPrefix(s.Addr(), "127.0.0.1:") {
		t.Fatalf("Addr() = %q, want 127.0.0.1:PORT", s.Addr())
	}
	s.SetTXT("_challenge.Example.TEST.", "one", "two")
	s.SetTXT("long.example.test", strings.Repeat("x", 300))
	s.SetA("host.example.test", "192.0.2.7")

	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			r := resolverFor(s.Addr(), network)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()

			txt, err := r.LookupTXT(ctx, "_challenge.example.test")
			slices.Sort(txt)
			if err != nil || !slices.Equal(txt, []string{"one", "two"}) {
				t.Errorf("TXT = %q, %v; want [one two]", txt, err)
			}
			long, err := r.LookupTXT(ctx, "long.example.test")
			if err != nil || len(long) != 1 || len(long[0]) != 300 {
				t.Errorf("long TXT = %d values, %v; want one of 300 bytes", len(long), err)
			}
			ips, err := r.LookupIPAddr(ctx, "host.example.test")
			if err != nil || len(ips) != 1 || ips[0].IP.String() != "192.0.2.7" {
				t.Errorf("A = %v, %v; want 192.0.2.7", ips, err)
			}

			_, err = r.LookupTXT(ctx, "missing.example.test")
			var dnsErr *net.DNSError
			if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
				t.Errorf("unknown name: err = %v, want NXDOMAIN (IsNotFound)", err)
			}
			// Known name, other type: NOERROR with no answers, which the Go
			// resolver also reports as not found, but not as a server failure.
			_, err = r.LookupTXT(ctx, "host.example.test")
			if !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
				t.Errorf("A-only name asked for TXT: err = %v, want not found", err)
			}
		})
	}

	s.SetTXT("_challenge.example.test") // delete
	_, err := resolverFor(s.Addr(), "udp").LookupTXT(context.Background(), "_challenge.example.test")
	if err == nil {
		t.Errorf("deleted TXT still resolves")
	}
}

func TestServerConcurrent(t *testing.T) {
	s := Start(t)
	r := resolverFor(s.Addr(), "udp")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				s.SetTXT("c.example.test", "v")
				if i%2 == 0 {
					s.SetTXT("c.example.test")
				}
				_, _ = r.LookupTXT(context.Background(), "c.example.test")
			}
		}()
	}
	wg.Wait()
}
