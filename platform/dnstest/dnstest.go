// Package dnstest runs a real, authoritative-only DNS server on loopback so
// tests can exercise code that resolves names through an ordinary resolver
// (net.Resolver with a custom Dial) without touching the network.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Server is a DNS server listening on UDP and TCP on the same loopback port.
// Records are held in memory and may be changed while it runs.
type Server struct {
	addr string

	mu  sync.RWMutex
	txt map[string][]string // fqdn (lower case) → TXT strings
	a   map[string]net.IP   // fqdn (lower case) → IPv4
}

// Start listens on 127.0.0.1 on a random port (UDP and TCP) and stops the
// server when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{txt: map[string][]string{}, a: map[string]net.IP{}}

	// UDP picks the port; TCP must get the same one, which can be taken by
	// someone else in between, so retry a few times.
	var pc net.PacketConn
	var ln net.Listener
	var err error
	for range 20 {
		pc, err = net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("dnstest: listen udp: %v", err)
		}
		ln, err = net.Listen("tcp4", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close()
	}
	if err != nil {
		t.Fatalf("dnstest: listen tcp: %v", err)
	}
	s.addr = pc.LocalAddr().String()

	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: ln, Handler: s}
	var wg sync.WaitGroup
	started := make(chan struct{}, 2)
	udp.NotifyStartedFunc = func() { started <- struct{}{} }
	tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	for _, srv := range []*dns.Server{udp, tcp} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = srv.ActivateAndServe()
		}()
	}
	for range 2 {
		select {
		case <-started:
		case <-time.After(5 * time.Second):
			t.Fatalf("dnstest: server did not start")
		}
	}
	t.Cleanup(func() {
		_ = udp.Shutdown()
		_ = tcp.Shutdown()
		wg.Wait()
	})
	return s
}

// Addr is the "127.0.0.1:PORT" address to send queries to (UDP or TCP).
func (s *Server) Addr() string { return s.addr }

// SetTXT replaces the TXT strings for name; with no values the TXT record is
// deleted. Names are case-insensitive and the trailing dot is optional.
func (s *Server) SetTXT(name string, values ...string) {
	key := canonical(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(values) == 0 {
		delete(s.txt, key)
		return
	}
	s.txt[key] = append([]string(nil), values...)
}

// SetA sets the IPv4 address for name. An empty or unparsable ip deletes it.
func (s *Server) SetA(name, ip string) {
	key := canonical(name)
	parsed := net.ParseIP(ip).To4()
	s.mu.Lock()
	defer s.mu.Unlock()
	if parsed == nil {
		delete(s.a, key)
		return
	}
	s.a[key] = parsed
}

func canonical(name string) string {
	return dns.Fqdn(strings.ToLower(strings.TrimSpace(name)))
}

// ServeDNS answers from the in-memory records: unknown names get NXDOMAIN, a
// known name asked for a type it lacks gets NOERROR with no answers.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	key := canonical(q.Name)

	s.mu.RLock()
	txt, hasTXT := s.txt[key]
	ip, hasA := s.a[key]
	s.mu.RUnlock()

	if !hasTXT && !hasA {
		m.Rcode = dns.RcodeNameError
		_ = w.WriteMsg(m)
		return
	}
	hdr := dns.RR_Header{Name: q.Name, Class: dns.ClassINET, Ttl: 0}
	switch q.Qtype {
	case dns.TypeTXT:
		if hasTXT {
			for _, v := range txt {
				h := hdr
				h.Rrtype = dns.TypeTXT
				m.Answer = append(m.Answer, &dns.TXT{Hdr: h, Txt: splitTXT(v)})
			}
		}
	case dns.TypeA:
		if hasA {
			h := hdr
			h.Rrtype = dns.TypeA
			m.Answer = append(m.Answer, &dns.A{Hdr: h, A: ip})
		}
	}
	_ = w.WriteMsg(m)
}

// splitTXT cuts a value into the 255-byte character-strings a TXT record is
// made of; resolvers join them back into one value.
func splitTXT(v string) []string {
	if len(v) <= 255 {
		return []string{v}
	}
	var parts []string
	for len(v) > 255 {
		parts = append(parts, v[:255])
		v = v[255:]
	}
	return append(parts, v)
}
