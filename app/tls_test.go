package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"

	"switchboard/modules/tenants"
	"switchboard/platform/dnstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// TestTLSEndToEnd runs `switchboard serve --tls` in-process against Pebble
// (letsencrypt's test ACME server, also in-process) whose validation
// authority resolves names through a real DNS server on loopback and dials
// the replica's own ports, exactly as a public CA would dial 80 and 443.
func TestTLSEndToEnd(t *testing.T) {
	e, _, _ := testServer(t) // migrated database; e creates tenants and reads the cache table
	ctx := context.Background()
	const (
		verified   = "portal.tls-verified.example"
		unverified = "portal.tls-unverified.example"
		unknown    = "nobody.tls-unknown.example"
		console    = "console.tls-test.example"
	)
	if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "tls-verified", Name: "Verified Health", Domain: verified, TrustDomain: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "tls-unverified", Name: "Unverified Legal", Domain: unverified}); err != nil {
		t.Fatal(err)
	}
	if ds, err := e.tenants.ListDomains(ctx, "tls-unverified"); err != nil || len(ds) != 1 || ds[0].Verified {
		t.Fatalf("%s should be listed and unverified (no TXT record was published): %+v, %v", unverified, ds, err)
	}
	dns := dnstest.Start(t)
	for _, h := range []string{verified, unverified, unknown, console} {
		dns.SetA(h, "127.0.0.1") // every name points here: only the host policy may refuse
	}

	// The CA must know the replica's ports before the replica knows the CA.
	httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
	pb := startPebble(t, dns.Addr(), port(t, httpAddr), port(t, httpsAddr))
	roots := x509.NewCertPool()
	roots.AddCert(pb.root(t))

	t.Setenv("SWITCHBOARD_SERVER_HTTPS_ADDR", httpsAddr)
	t.Setenv("SWITCHBOARD_SERVER_CONSOLE_HOSTS", console)
	t.Setenv("SWITCHBOARD_ACME_DIRECTORY_URL", pb.directoryURL())
	t.Setenv("SWITCHBOARD_ACME_CA_FILE", pb.caFile)
	t.Setenv("SWITCHBOARD_ACME_EMAIL", "ops@switchboard.example")
	first := startServe(t, "--tls", "--addr", httpAddr)

	// (a) A verified domain gets a certificate from Pebble, on demand, in the handshake.
	// (TestMain's database is shared by the package: start from an empty cache.)
	if err := e.cluster.ControlDB().Exec(`DELETE FROM control.acme_cache`).Error; err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	leaf := handshake(t, httpsAddr, verified, roots)
	issuance := time.Since(start)
	t.Logf("first issuance (account, order, TLS-ALPN-01 validation, certificate) took %v", issuance.Round(time.Millisecond))
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: verified, Roots: roots, Intermediates: pb.intermediates(t)}); err != nil {
		t.Fatalf("certificate for %s does not verify against Pebble's root: %v", verified, err)
	}
	if got := pb.orders(); got != 1 {
		t.Fatalf("ACME orders after the first handshake = %d, want 1", got)
	}
	start = time.Now()
	if again := handshake(t, httpsAddr, verified, roots); again.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("second handshake got another certificate (serial %x, first %x)", again.SerialNumber, leaf.SerialNumber)
	}
	t.Logf("a later handshake with the certificate in memory took %v", time.Since(start).Round(time.Millisecond))
	status, body, header := httpsGet(t, httpsAddr, verified, "/", roots)
	if status != http.StatusOK || !strings.Contains(body, "Verified Health") {
		t.Fatalf("GET https://%s/ = %d, want the client's portal (200 naming Verified Health):\n%.500s", verified, status, body)
	}
	if hsts := header.Get("Strict-Transport-Security"); hsts != "max-age=31536000" {
		t.Errorf("HTTPS answers carry Strict-Transport-Security %q, want max-age=31536000", hsts)
	}

	// (b) Unknown and unverified names fail the handshake, and the CA never hears of them.
	for _, host := range []string{unknown, unverified} {
		_, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", httpsAddr,
			&tls.Config{ServerName: host, RootCAs: roots})
		if err == nil {
			t.Fatalf("TLS handshake for %s succeeded; want it refused", host)
		}
		t.Logf("handshake for %s refused: %v", host, err)
	}
	if got := pb.orders(); got != 1 {
		t.Fatalf("ACME orders after refused handshakes = %d, want still 1", got)
	}
	if keys := cacheKeys(t, e); containsAny(keys, unknown, unverified) {
		t.Fatalf("the certificate cache holds entries for refused hosts: %v", keys)
	}

	// The console host gets its certificate too, and cookies are Secure under --tls.
	status, _, header = httpsGet(t, httpsAddr, console, "/login", roots)
	if status != http.StatusOK {
		t.Fatalf("GET https://%s/login = %d, want 200", console, status)
	}
	if !secureCookie(header, "sb_console") { // the sign-in form's session holds its CSRF token
		t.Fatalf("console session cookie under --tls is missing or not Secure: %q", header.Values("Set-Cookie"))
	}

	// (c) Plain HTTP redirects to HTTPS, keeping host, path and query.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/alerts/7?tab=timeline&x=%2F", nil)
	req.Host = verified
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	wantLocation := "https://" + verified + ":" + strconv.Itoa(port(t, httpsAddr)) + "/alerts/7?tab=timeline&x=%2F"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != wantLocation {
		t.Fatalf("plain HTTP: %d Location %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), wantLocation)
	}

	if strings.Contains(pb.logs.String(), httpValidation) {
		t.Fatal("Pebble validated over HTTP; want TLS-ALPN-01 on the HTTPS port")
	}

	// (d) The certificate sits in the control plane; a second replica serves
	// it without ordering. The second replica talks to another Pebble (the
	// first one is stopped), whose validation authority finds nothing on the
	// TLS-ALPN-01 port, so a new name there must be proven over HTTP-01.
	keys := cacheKeys(t, e)
	for _, k := range []string{"acme_account+key", verified, console} {
		if !containsAny(keys, k) {
			t.Fatalf("control.acme_cache lacks %q; keys: %v", k, keys)
		}
	}
	t.Logf("control.acme_cache keys: %v", keys)
	pb.stop()
	httpAddr2, httpsAddr2 := freeAddr(t), freeAddr(t)
	pb2 := startPebble(t, dns.Addr(), port(t, httpAddr2), port(t, freeAddr(t)))
	roots2 := x509.NewCertPool()
	roots2.AddCert(pb2.root(t))
	t.Setenv("SWITCHBOARD_SERVER_HTTPS_ADDR", httpsAddr2)
	t.Setenv("SWITCHBOARD_ACME_DIRECTORY_URL", pb2.directoryURL())
	second := startServe(t, "--tls", "--addr", httpAddr2)
	if other := handshake(t, httpsAddr2, verified, roots); other.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatalf("second replica served serial %x, want the stored %x", other.SerialNumber, leaf.SerialNumber)
	}
	if n := pb2.orders(); n != 0 {
		t.Fatalf("the second replica placed %d ACME orders for a stored certificate", n)
	}

	// HTTP-01 on the plain listener: autocert tries TLS-ALPN-01 first, fails,
	// and orders again with HTTP-01 (Pebble asks for the token with Host: name:port).
	const viaHTTP = "portal.tls-http01.example"
	dns.SetA(viaHTTP, "127.0.0.1")
	if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "tls-http01", Name: "Over HTTP", Domain: viaHTTP, TrustDomain: true}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	handshake(t, httpsAddr2, viaHTTP, roots2)
	t.Logf("issuance over HTTP-01 (after a failed TLS-ALPN-01 order) took %v", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(pb2.logs.String(), httpValidation) {
		t.Fatal("Pebble did not validate over HTTP-01")
	}

	// Both replicas shut down gracefully on cancellation.
	for _, r := range []*serveRun{first, second} {
		if err := r.stop(); err != nil {
			t.Fatalf("serve --tls did not stop cleanly: %v", err)
		}
	}
}

// TestTLSServeRefusesBadHTTPSAddr: --tls with a malformed https_addr is a
// configuration mistake (exit status 2), reported before anything starts.
func TestTLSServeRefusesBadHTTPSAddr(t *testing.T) {
	t.Setenv("SWITCHBOARD_SERVER_HTTPS_ADDR", "no-port")
	expect(t, cli(t, "serve", "--tls"), 2, "server.https_addr")
}

// TestTLSServeRefusesBadCAFile: an acme.ca_file without a certificate is the
// operator's to fix (exit status 2), not a crash at the first handshake.
func TestTLSServeRefusesBadCAFile(t *testing.T) {
	testServer(t) // migrated database
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SWITCHBOARD_SERVER_HTTPS_ADDR", freeAddr(t))
	t.Setenv("SWITCHBOARD_ACME_CA_FILE", bad)
	expect(t, cli(t, "serve", "--tls", "--addr", freeAddr(t)), 2, "acme.ca_file", "no PEM certificate")
}

func TestRedirectToHTTPS(t *testing.T) {
	cases := []struct {
		host, port, target, want string
		status                   int
	}{
		{"portal.example:80", "443", "/a/b?c=d", "https://portal.example/a/b?c=d", 308},
		{"portal.example", "8443", "/", "https://portal.example:8443/", 308},
		{"PORTAL.example.:8080", "8443", "/x", "https://PORTAL.example:8443/x", 308},
		{"[::1]:8080", "443", "/", "https://[::1]/", 308},
		{"[::1]", "8443", "/", "https://[::1]:8443/", 308},
		{"evil.example@portal.example", "443", "/", "", 400},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, c.target, nil)
		req.Host = c.host
		w := httptest.NewRecorder()
		redirectToHTTPS(c.port).ServeHTTP(w, req)
		if w.Code != c.status || w.Header().Get("Location") != c.want {
			t.Errorf("Host %q, https port %s: %d %q, want %d %q", c.host, c.port, w.Code, w.Header().Get("Location"), c.status, c.want)
		}
	}
}

// pebble is letsencrypt's test ACME server running in this process: its
// ACME API and management interface on httptest TLS servers.
type pebble struct {
	api, mgmt *httptest.Server
	caFile    string // PEM of the API server's certificate, for acme.ca_file
	logs      *lockedBuffer
	stopOnce  sync.Once
}

// httpValidation is what Pebble logs when it fetches an HTTP-01 token.
const httpValidation = "Attempting to validate w/ HTTP"

// startPebble starts Pebble with its validation authority asking dnsAddr
// and dialing httpPort (HTTP-01) and tlsPort (TLS-ALPN-01).
func startPebble(t *testing.T, dnsAddr string, httpPort, tlsPort int) *pebble {
	t.Helper()
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")      // no random 0-5 s pause before each validation
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately rejected nonces
	p := &pebble{logs: &lockedBuffer{}}
	logger := log.New(p.logs, "pebble ", log.Lmicroseconds)
	store := pebbledb.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	validator := va.New(logger, httpPort, tlsPort, false, dnsAddr, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p.api = httptest.NewTLSServer(front.Handler())
	p.mgmt = httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("Pebble's log:\n%s", p.logs.String())
		}
	})
	p.caFile = filepath.Join(t.TempDir(), "pebble-api.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.api.Certificate().Raw})
	if err := os.WriteFile(p.caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *pebble) directoryURL() string { return p.api.URL + wfe.DirectoryPath }

// orders counts the orders Pebble accepted, from its own log.
func (p *pebble) orders() int { return strings.Count(p.logs.String(), "Added order") }

// stop shuts Pebble's servers down; any later ACME request fails to connect.
func (p *pebble) stop() {
	p.stopOnce.Do(func() {
		p.api.CloseClientConnections()
		p.api.Close()
		p.mgmt.Close()
	})
}

// root fetches Pebble's root certificate from its management interface.
func (p *pebble) root(t *testing.T) *x509.Certificate { return p.fetchCert(t, wfe.RootCertPath+"0") }

// intermediates fetches Pebble's intermediate certificate.
func (p *pebble) intermediates(t *testing.T) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.fetchCert(t, "/intermediates/0"))
	return pool
}

func (p *pebble) fetchCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	resp, err := p.mgmt.Client().Get(p.mgmt.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	block, _ := pem.Decode(body)
	if resp.StatusCode != http.StatusOK || block == nil {
		t.Fatalf("GET %s from Pebble: %d %q", path, resp.StatusCode, body)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serveRun is one `switchboard serve` running in this process.
type serveRun struct {
	cancel context.CancelFunc
	done   chan error
}

// startServe runs `serve` with args (and the package database) until stop,
// returning once both listeners accept connections.
func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &serveRun{cancel: cancel, done: make(chan error, 1)}
	root := newRootCommand()
	root.SetArgs(append(append([]string{"serve"}, args...), "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL(), "--log-level", "warn"))
	root.SetOut(io.Discard)
	go func() { r.done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() { _ = r.stop() })
	addrs := []string{flagValue(args, "--addr"), os.Getenv("SWITCHBOARD_SERVER_HTTPS_ADDR")}
	deadline := time.Now().Add(20 * time.Second)
	for _, addr := range addrs {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-r.done:
				t.Fatalf("serve %v exited before listening: %v", args, err)
			case <-time.After(50 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve %v is not listening on %s", args, addr)
			}
		}
	}
	return r
}

// stop cancels the command and returns what it returned.
func (r *serveRun) stop() error {
	r.cancel()
	select {
	case err, ok := <-r.done:
		if !ok {
			return nil
		}
		close(r.done)
		return err
	case <-time.After(20 * time.Second):
		return errors.New("still running 20 s after cancellation")
	}
}

// handshake connects to addr with SNI host, verifying the chain against
// roots, and returns the leaf certificate.
func handshake(t *testing.T, addr, host string, roots *x509.CertPool) *x509.Certificate {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 60 * time.Second}, "tcp", addr, &tls.Config{ServerName: host, RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake for %s at %s: %v", host, addr, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// httpsGet requests https://host/path, dialing addr, following redirects.
func httpsGet(t *testing.T, addr, host, path string, roots *x509.CertPool) (int, string, http.Header) {
	t.Helper()
	transport := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	defer transport.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodGet, "https://"+host+path, nil)
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{Transport: transport, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET https://%s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header
}

// secureCookie reports whether the response set cookie name with the Secure attribute.
func secureCookie(h http.Header, name string) bool {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c.Secure
		}
	}
	return false
}

// cacheKeys lists control.acme_cache.
func cacheKeys(t *testing.T, e *env) []string {
	t.Helper()
	var keys []string
	if err := e.cluster.ControlDB().Raw(`SELECT key FROM control.acme_cache ORDER BY key`).Scan(&keys).Error; err != nil {
		t.Fatal(err)
	}
	return keys
}

// containsAny reports whether a key is one of names or starts with "name+".
func containsAny(keys []string, names ...string) bool {
	for _, k := range keys {
		for _, n := range names {
			if k == n || strings.HasPrefix(k, n+"+") {
				return true
			}
		}
	}
	return false
}

// freeAddr is a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

func flagValue(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// lockedBuffer collects Pebble's log from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fakeHosts answers the certificate policy from a map.
type fakeHosts struct {
	console string
	domains map[string]tenancy.Tenant
	err     error
}

func (f fakeHosts) IsConsoleHost(host string) bool { return host == f.console }

func (f fakeHosts) ByHost(_ context.Context, host string) (tenancy.Tenant, error) {
	if f.err != nil {
		return tenancy.Tenant{}, f.err
	}
	t, ok := f.domains[host]
	if !ok {
		return tenancy.Tenant{}, fmt.Errorf("host %q: %w", host, tenancy.ErrUnknownTenant)
	}
	return t, nil
}

func TestCertHostPolicy(t *testing.T) {
	hosts := fakeHosts{console: "console.example", domains: map[string]tenancy.Tenant{
		"portal.active.example":    {Status: tenancy.StatusActive},
		"portal.suspended.example": {Status: tenancy.StatusSuspended}, // still served, with the suspension page
		"portal.deleting.example":  {Status: tenancy.StatusDeleting},
	}}
	policy := certHostPolicy(hosts)
	ctx := context.Background()
	for _, host := range []string{"console.example", "portal.active.example", "PORTAL.Active.example.", "portal.active.example:5002", "portal.suspended.example"} {
		if err := policy(ctx, host); err != nil {
			t.Errorf("policy(%q) = %v, want allowed", host, err)
		}
	}
	for _, host := range []string{"portal.unknown.example", "portal.deleting.example", "example"} {
		if err := policy(ctx, host); !errors.Is(err, errHostRefused) {
			t.Errorf("policy(%q) = %v, want errHostRefused", host, err)
		}
	}
	// A failing lookup refuses too, but says why (it is not the host's fault).
	down := errors.New("connection refused")
	err := certHostPolicy(fakeHosts{err: down})(ctx, "portal.active.example")
	if !errors.Is(err, down) || errors.Is(err, errHostRefused) {
		t.Errorf("policy with the directory down = %v, want the lookup error", err)
	}
}
