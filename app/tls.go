package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"

	"switchboard/config"
	"switchboard/platform/certcache"
	"switchboard/platform/tenancy"
)

// hostDirectory is what the certificate policy asks about a hostname;
// *tenancy.Resolver is one.
type hostDirectory interface {
	IsConsoleHost(host string) bool
	ByHost(ctx context.Context, host string) (tenancy.Tenant, error)
}

// errHostRefused marks a hostname that gets no certificate.
var errHostRefused = errors.New("no certificate for this host")

// certHostPolicy allows the console hosts and verified client domains. It runs
// before autocert looks for or orders a certificate, so an unknown or
// unverified name never reaches the ACME server (and cannot spend its rate limits).
func certHostPolicy(dir hostDirectory) autocert.HostPolicy {
	return func(ctx context.Context, host string) error {
		// The HTTP-01 handler passes the Host header, which may carry a port.
		host = canonicalHost(host)
		if dir.IsConsoleHost(host) {
			return nil
		}
		t, err := dir.ByHost(ctx, host)
		if errors.Is(err, tenancy.ErrUnknownTenant) {
			return fmt.Errorf("%w: %q is neither a console host nor a verified client domain", errHostRefused, host)
		}
		if err != nil {
			return fmt.Errorf("checking whether %q is a verified client domain: %w", host, err)
		}
		if t.Status == tenancy.StatusDeleting {
			return fmt.Errorf("%w: the client of %q is being deleted", errHostRefused, host)
		}
		return nil
	}
}

// canonicalHost is host without port or trailing dot, in lower case.
func canonicalHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// newCertManager builds the ACME certificate manager: certificates are
// obtained on demand for hosts the policy allows and kept in cache.
func newCertManager(cfg config.ACME, cache autocert.Cache, dir hostDirectory) (*autocert.Manager, error) {
	client := &acme.Client{DirectoryURL: cfg.DirectoryURL, UserAgent: "switchboard"}
	if cfg.CAFile != "" {
		hc, err := httpClientTrusting(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		client.HTTPClient = hc
	}
	return &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      cache,
		HostPolicy: certHostPolicy(dir),
		Client:     client,
		Email:      cfg.Email,
	}, nil
}

// httpClientTrusting is an HTTP client that also trusts the PEM roots in
// caFile (a private or test ACME server such as Pebble).
func httpClientTrusting(caFile string) (*http.Client, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, usagef("acme.ca_file: %v", err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	if !roots.AppendCertsFromPEM(pem) {
		return nil, usagef("acme.ca_file %s holds no PEM certificate", caFile)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: time.Minute}, nil
}

// redirectToHTTPS sends every request to the same host and path over HTTPS on
// httpsPort (left out of the URL when it is 443), with 308 so the method and
// body are kept.
func redirectToHTTPS(httpsPort string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
		// The host goes into a Location header: refuse anything that could
		// turn it into another URL.
		if host == "" || strings.ContainsAny(host, "/\\@?#% ") {
			http.Error(w, "Use HTTPS with a valid Host.", http.StatusBadRequest)
			return
		}
		authority := host
		if strings.Contains(host, ":") {
			authority = "[" + host + "]" // an IPv6 literal
		}
		if httpsPort != "443" {
			authority = net.JoinHostPort(host, httpsPort)
		}
		http.Redirect(w, r, "https://"+authority+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// tlsListeners are the two sockets of serve --tls.
type tlsListeners struct {
	http, https net.Listener
}

// listenTLS opens server.addr (redirects and HTTP-01) and server.https_addr.
func listenTLS(cfg config.Server) (tlsListeners, error) {
	httpLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return tlsListeners{}, listenError("server.addr", cfg.Addr, err)
	}
	httpsLn, err := net.Listen("tcp", cfg.HTTPSAddr)
	if err != nil {
		_ = httpLn.Close()
		return tlsListeners{}, listenError("server.https_addr", cfg.HTTPSAddr, err)
	}
	return tlsListeners{http: httpLn, https: httpsLn}, nil
}

// serveTLS is serve --tls: it listens on both addresses and runs until ctx ends.
func serveTLS(ctx context.Context, e *env, handler http.Handler, resolver hostDirectory) error {
	lns, err := listenTLS(e.cfg.Server)
	if err != nil {
		return err
	}
	return runTLS(ctx, e, handler, resolver, lns)
}

// runTLS serves handler over HTTPS on lns.https with certificates from the
// ACME server (kept in control.acme_cache), and on lns.http answers HTTP-01
// challenges and redirects everything else to HTTPS. It shuts both down
// gracefully when ctx ends.
func runTLS(ctx context.Context, e *env, handler http.Handler, resolver hostDirectory, lns tlsListeners) error {
	defer lns.http.Close()
	defer lns.https.Close()
	cache := loggingCache{Cache: certcache.New(e.cluster.ControlDB()), log: e.log}
	manager, err := newCertManager(e.cfg.ACME, cache, resolver)
	if err != nil {
		return err
	}
	_, httpsPort, _ := net.SplitHostPort(lns.https.Addr().String())
	tlsConfig := manager.TLSConfig() // GetCertificate plus the acme-tls/1 protocol for TLS-ALPN-01
	tlsConfig.MinVersion = tls.VersionTLS12
	httpsSrv := newHTTPServer(e.cfg, strictTransport(handler), e.log)
	httpsSrv.TLSConfig = tlsConfig
	httpSrv := newHTTPServer(e.cfg, manager.HTTPHandler(redirectToHTTPS(httpsPort)), e.log)

	e.log.Info("serving HTTPS", "url", "https://"+lns.https.Addr().String(), "console_hosts", e.cfg.Server.ConsoleHosts,
		"certificates", "on demand for console hosts and verified client domains", "acme_directory", e.cfg.ACME.DirectoryURL)
	e.log.Info("serving HTTP", "url", "http://"+lns.http.Addr().String(), "serves", "ACME HTTP-01 challenges; everything else redirects to HTTPS")
	errc := make(chan error, 2)
	go func() { errc <- fmt.Errorf("HTTPS server stopped: %w", httpsSrv.ServeTLS(lns.https, "", "")) }()
	go func() { errc <- fmt.Errorf("HTTP server stopped: %w", httpSrv.Serve(lns.http)) }()
	var failed error
	select {
	case failed = <-errc:
	case <-ctx.Done():
		e.log.Info("shutting down")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	shutdownErrs := make(chan error, 2)
	for _, srv := range []*http.Server{httpsSrv, httpSrv} {
		go func() { shutdownErrs <- srv.Shutdown(shutdownCtx) }()
	}
	for range 2 {
		if err := <-shutdownErrs; err != nil && !errors.Is(err, http.ErrServerClosed) && failed == nil {
			failed = fmt.Errorf("shutting down: %w", err)
		}
	}
	return failed
}

// strictTransport tells browsers to use HTTPS for the host from now on (HSTS,
// one year), so a later plain-HTTP link or a downgrade on the way never
// carries a session cookie. Subdomains are left alone: a client's other
// hosts are not ours.
func strictTransport(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// loggingCache tells the operator when a certificate was obtained (autocert
// stores every new or renewed certificate in its cache, and says nothing else).
type loggingCache struct {
	autocert.Cache
	log *slog.Logger
}

// Put stores the entry and logs certificates (not account keys or challenge tokens).
func (c loggingCache) Put(ctx context.Context, key string, data []byte) error {
	err := c.Cache.Put(ctx, key, data)
	if host, isCert := strings.CutSuffix(key, "+rsa"); isCert || !strings.Contains(key, "+") {
		if err != nil {
			c.log.Error("storing a certificate", "host", host, "err", err)
		} else {
			c.log.Info("certificate obtained and stored", "host", host)
		}
	}
	return err
}
