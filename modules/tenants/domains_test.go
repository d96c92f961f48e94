package tenants

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/db"
	"switchboard/platform/dnstest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// dnsService is a tenants service whose verification asks srv.
func dnsService(t *testing.T, srv *dnstest.Server, opts Options) *Service {
	t.Helper()
	base, c := openService(t, db.Tenant())
	opts.Migrations, opts.Logger = base.migrations, quiet
	if srv != nil {
		opts.Resolver = DNSResolver(srv.Addr())
	}
	return NewService(c, opts)
}

func platformAudits(t *testing.T, slug, action string) int {
	t.Helper()
	var n int
	if err := admin(t, `SELECT count(*) FROM control.audit_log WHERE target = $1 AND action = $2`, slug, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestVerifyDomainAgainstDNS(t *testing.T) {
	ctx := context.Background()
	srv := dnstest.Start(t)
	s := dnsService(t, srv, Options{})
	slug := uniqueSlug("verify")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Verify"})
	if err != nil {
		t.Fatal(err)
	}
	host := "portal." + slug + ".example"
	d, err := s.AddDomain(ctx, slug, strings.ToUpper(host)+".")
	if err != nil {
		t.Fatal(err)
	}
	if d.Hostname != host || d.Verified || !d.IsPrimary || len(d.VerifyToken) != 32 || d.ChallengeName() != "_switchboard-challenge."+host {
		t.Fatalf("added domain = %+v, want unverified primary %s with a 32-digit token", d, host)
	}
	other, err := s.AddDomain(ctx, slug, "www."+slug+".example")
	if err != nil || other.IsPrimary || other.VerifyToken == d.VerifyToken {
		t.Fatalf("second domain = %+v, %v: want non-primary with its own token", other, err)
	}
	dir := s.Directory()

	// Each step changes DNS, verifies, and says what must follow; the steps
	// run in order on the same domain, as an operator would go.
	steps := []struct {
		name     string
		dns      func()
		wantErr  []string // substrings of the error; none means verified
		routes   bool     // whether the portal host resolves afterwards
		verified bool
	}{
		{"no record (NXDOMAIN)", func() {}, []string{"no TXT record at _switchboard-challenge." + host, d.VerifyToken}, false, false},
		{"name exists without TXT (NOERROR, no answer)", func() { srv.SetA(d.ChallengeName(), "192.0.2.1") },
			[]string{"no TXT record at _switchboard-challenge." + host}, false, false},
		{"wrong value", func() { srv.SetTXT(d.ChallengeName(), "google-site-verification=abc") },
			[]string{"_switchboard-challenge." + host, `"google-site-verification=abc"`, `expected "` + d.VerifyToken + `"`}, false, false},
		{"other domain's token", func() { srv.SetTXT(d.ChallengeName(), other.VerifyToken) },
			[]string{`expected "` + d.VerifyToken + `"`}, false, false},
		{"fixed, among other values, any case of name", func() {
			srv.SetTXT(strings.ToUpper(d.ChallengeName())+".", "v=spf1 -all", d.VerifyToken)
		}, nil, true, true},
		{"record removed later: stays verified, error recorded", func() { srv.SetTXT(d.ChallengeName()); srv.SetA(d.ChallengeName(), "") },
			[]string{"no TXT record"}, true, true},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.dns()
			got, err := s.VerifyDomain(ctx, slug, host)
			if st.wantErr == nil {
				if err != nil {
					t.Fatalf("VerifyDomain: %v", err)
				}
				if got.CheckError != nil || got.VerifiedAt == nil || got.CheckedAt == nil {
					t.Errorf("verified domain = %+v, want verified_at and checked_at set, no error", got)
				}
			} else {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("VerifyDomain err = %v, want ErrUnverified", err)
				}
				for _, w := range st.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if got.CheckError == nil || !strings.Contains(err.Error(), *got.CheckError) || got.CheckedAt == nil {
					t.Errorf("failed check not recorded: %+v", got)
				}
			}
			if got.Verified != st.verified {
				t.Errorf("verified = %v, want %v", got.Verified, st.verified)
			}
			resolved, err := dir.ByHost(ctx, host)
			if st.routes && (err != nil || resolved.ID != tn.ID) {
				t.Errorf("ByHost(%s) = %+v, %v; want tenant %d", host, resolved, err, tn.ID)
			}
			if !st.routes && !errors.Is(err, tenancy.ErrUnknownTenant) {
				t.Errorf("ByHost(%s) of an unverified domain = %+v, %v; want ErrUnknownTenant", host, resolved, err)
			}
		})
	}
	if _, err := dir.ByHost(ctx, other.Hostname); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Errorf("the never-verified second domain resolves: %v", err)
	}
	if n := platformAudits(t, slug, "domain.check_failed"); n != 5 {
		t.Errorf("%d domain.check_failed audit entries, want 5", n)
	}
	if n := platformAudits(t, slug, "domain.verified"); n != 1 {
		t.Errorf("%d domain.verified audit entries, want 1", n)
	}
}

// TestVerifyDomainDNSFailures points the resolver at a socket that never
// answers and at a closed port.
func TestVerifyDomainDNSFailures(t *testing.T) {
	ctx := context.Background()
	silent, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = silent.Close() })
	closed, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = closed.Close()
	base, c := openService(t, db.Tenant())
	cases := []struct {
		name, server, want string
	}{
		{"no answer", silent.LocalAddr().String(), "timed out after 300ms; try again later"},
		{"nothing listening", closed.LocalAddr().String(), "connection refused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := NewService(c, Options{Migrations: base.migrations, Logger: quiet,
				Resolver: DNSResolver(tc.server), LookupTimeout: 300 * time.Millisecond})
			slug := uniqueSlug("dnsfail")
			if _, err := s.Create(ctx, CreateInput{Slug: slug, Name: "DNS failure", Domain: slug + ".example"}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			d, err := s.VerifyDomain(ctx, slug, slug+".example")
			took := time.Since(start)
			if !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "_switchboard-challenge."+slug+".example") {
				t.Fatalf("err = %v, want one naming the record and saying %q", err, tc.want)
			}
			if took > 3*time.Second {
				t.Errorf("failed check took %s, want about the 300ms lookup timeout at most", took)
			}
			if d.Verified || d.CheckError == nil || *d.CheckError != strings.TrimPrefix(err.Error(), ErrUnverified.Error()+": ") {
				t.Errorf("domain after the failure = %+v, want unverified with the reason recorded", d)
			}
		})
	}
}

func TestDomainChangesRefuseBadInputWithoutWriting(t *testing.T) {
	ctx := context.Background()
	s := dnsService(t, dnstest.Start(t), Options{ConsoleHosts: []string{"Console.MSP.example:8443", "localhost"}})
	mine, theirs := uniqueSlug("mine"), uniqueSlug("theirs")
	for _, slug := range []string{mine, theirs} {
		if _, err := s.Create(ctx, CreateInput{Slug: slug, Name: slug, Domain: slug + ".example"}); err != nil {
			t.Fatal(err)
		}
	}
	count := func() (n int) {
		if err := admin(t, `SELECT (SELECT count(*) FROM control.tenant_domains) + (SELECT count(*) FROM control.audit_log)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		name    string
		op      func() error
		want    error
		msg     string
		notSays string
	}{
		{"add: bad hostname", func() error { _, err := s.AddDomain(ctx, mine, "bad_host.example"); return err }, ErrInvalid, "invalid label", ""},
		{"add: IP address", func() error { _, err := s.AddDomain(ctx, mine, "192.0.2.1"); return err }, ErrInvalid, "IP address", ""},
		{"add: wildcard", func() error { _, err := s.AddDomain(ctx, mine, "*.example.com"); return err }, ErrInvalid, "hostname", ""},
		{"add: with port", func() error { _, err := s.AddDomain(ctx, mine, "p.example.com:443"); return err }, ErrInvalid, "hostname", ""},
		{"add: console host", func() error { _, err := s.AddDomain(ctx, mine, "console.msp.EXAMPLE"); return err }, ErrInvalid, "console", ""},
		{"add: unknown tenant", func() error { _, err := s.AddDomain(ctx, "no-such-client", "x.example.com"); return err }, ErrNotFound, "no-such-client", ""},
		{"add: own domain again", func() error { _, err := s.AddDomain(ctx, mine, strings.ToUpper(mine)+".example."); return err }, ErrConflict, "already a domain of " + mine, ""},
		{"add: another tenant's domain", func() error { _, err := s.AddDomain(ctx, mine, theirs+".example"); return err }, ErrConflict, "another tenant", theirs + " "},
		{"create: console host", func() error {
			_, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("c"), Name: "C", Domain: "console.msp.example"})
			return err
		}, ErrInvalid, "console", ""},
		{"verify: not this tenant's domain", func() error { _, err := s.VerifyDomain(ctx, mine, theirs+".example"); return err }, ErrNotFound, "has no domain", ""},
		{"verify: bad hostname", func() error { _, err := s.VerifyDomain(ctx, mine, "a..b"); return err }, ErrInvalid, "hostname", ""},
		{"verify: unknown tenant", func() error { _, err := s.VerifyDomain(ctx, "no-such-client", mine+".example"); return err }, ErrNotFound, "", ""},
		{"remove: another tenant's domain", func() error { return s.RemoveDomain(ctx, mine, theirs+".example") }, ErrNotFound, "has no domain", ""},
		{"remove: unknown tenant", func() error { return s.RemoveDomain(ctx, "no-such-client", mine+".example") }, ErrNotFound, "", ""},
		{"remove: bad hostname", func() error { return s.RemoveDomain(ctx, mine, "-x.example") }, ErrInvalid, "", ""},
		{"primary: unknown domain", func() error { return s.SetPrimary(ctx, mine, "nope.example") }, ErrNotFound, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := count()
			err := tc.op()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v mentioning %q", err, tc.want, tc.msg)
			}
			if tc.notSays != "" && strings.Contains(err.Error()+" ", tc.notSays) {
				t.Errorf("error %q reveals %q", err, tc.notSays)
			}
			if after := count(); after != before {
				t.Errorf("domains+audit rows %d → %d: something was written", before, after)
			}
		})
	}
}

func TestDomainLifecycle(t *testing.T) {
	ctx := context.Background()
	s := dnsService(t, nil, Options{})
	slug := uniqueSlug("life")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Life", Domain: "a." + slug + ".example"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tn.Domains) != 1 || tn.Domains[0].Verified || !tn.Domains[0].IsPrimary {
		t.Fatalf("create --domain made %+v, want one unverified primary domain", tn.Domains)
	}
	trusted, err := s.TrustDomain(ctx, slug, "b."+slug+".example")
	if err != nil || !trusted.Verified || trusted.VerifiedAt == nil || trusted.IsPrimary {
		t.Fatalf("TrustDomain = %+v, %v; want verified, not primary", trusted, err)
	}
	if err := s.SetPrimary(ctx, slug, "B."+slug+".example"); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListDomains(ctx, slug)
	if err != nil || len(list) != 2 || list[0].Hostname != trusted.Hostname || !list[0].IsPrimary || list[1].IsPrimary {
		t.Fatalf("ListDomains = %+v, %v; want b primary first, a not primary", list, err)
	}
	if err := s.RemoveDomain(ctx, slug, trusted.Hostname); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDomain(ctx, slug, trusted.Hostname); !errors.Is(err, ErrNotFound) {
		t.Errorf("second removal: %v, want ErrNotFound", err)
	}
	if _, err := s.Directory().ByHost(ctx, trusted.Hostname); !errors.Is(err, tenancy.ErrUnknownTenant) {
		t.Errorf("removed domain still resolves: %v", err)
	}
	for action, want := range map[string]int{"domain.added": 1, "domain.primary_set": 1, "domain.removed": 1} {
		if n := platformAudits(t, slug, action); n != want {
			t.Errorf("%d %s audit entries, want %d", n, action, want)
		}
	}
}

// TestDomainRemovalReachesEveryReplica runs two replicas as app/server.go
// does — each its own pool, resolver cache and LISTEN connection — plus a
// third cache nobody invalidates, which shows the caches really hold answers
// and that the notification is what clears them.
func TestDomainRemovalReachesEveryReplica(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type replica struct {
		res          *tenancy.Resolver
		mu           sync.Mutex
		invalidation time.Time
	}
	newReplica := func(listen bool) *replica {
		c, err := tenancy.Open(ctx, pgtest.URL(), tenancy.Options{Pool: tenancy.PoolOptions{MaxOpen: 4}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		s := NewService(c, Options{Logger: quiet})
		r := &replica{res: tenancy.NewResolver(s.Directory(), s.TargetVersion(), nil)}
		if listen {
			ready := make(chan struct{})
			go c.Listen(ctx, tenancy.ChangeChannel, func(string) {
				r.res.Invalidate()
				r.mu.Lock()
				r.invalidation = time.Now()
				r.mu.Unlock()
			}, ready)
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("listener did not start")
			}
		}
		return r
	}
	s, _ := openService(t, db.Tenant())
	slug := uniqueSlug("replicas")
	host := "portal." + slug + ".example"
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Replicas", Domain: host, TrustDomain: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b, stale := newReplica(true), newReplica(true), newReplica(false)
	for name, r := range map[string]*replica{"a": a, "b": b, "stale": stale} {
		if got, err := r.res.ByHost(ctx, host); err != nil || got.ID != tn.ID {
			t.Fatalf("replica %s: ByHost before removal = %+v, %v", name, got, err)
		}
	}

	removed := time.Now()
	if err := s.RemoveDomain(ctx, slug, host); err != nil {
		t.Fatal(err)
	}
	const bound = 2 * time.Second
	for name, r := range map[string]*replica{"a": a, "b": b} {
		for {
			_, err := r.res.ByHost(ctx, host)
			if errors.Is(err, tenancy.ErrUnknownTenant) {
				r.mu.Lock()
				notified := r.invalidation.Sub(removed)
				r.mu.Unlock()
				t.Logf("replica %s: notified %s and stopped resolving %s %s after RemoveDomain was called",
					name, notified.Round(time.Microsecond), host, time.Since(removed).Round(time.Microsecond))
				break
			}
			if time.Since(removed) > bound {
				t.Fatalf("replica %s still resolves %s %s after removal (err %v)", name, host, bound, err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if got, err := stale.res.ByHost(ctx, host); err != nil || got.ID != tn.ID {
		t.Errorf("the un-notified cache no longer answers (%+v, %v): the test cannot tell invalidation from no caching", got, err)
	}
}

// TestDomainCheckNotifiesOnlyWhenRoutingChanges: recording a failed check
// must not flush every replica's cache; verifying must.
func TestDomainCheckNotifiesOnlyWhenRoutingChanges(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := dnstest.Start(t)
	s := dnsService(t, srv, Options{})
	slug := uniqueSlug("quiet")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Quiet", Domain: slug + ".example"})
	if err != nil {
		t.Fatal(err)
	}
	changes := make(chan string, 64)
	ready := make(chan struct{})
	go s.cluster.Listen(ctx, tenancy.ChangeChannel, func(table string) { changes <- table }, ready)
	<-ready
	domainChange := func(wait time.Duration) bool {
		timeout := time.After(wait)
		for {
			select {
			case table := <-changes:
				if table == "tenant_domains" || table == "" {
					return true
				}
			case <-timeout:
				return false
			}
		}
	}
	if _, err := s.VerifyDomain(ctx, slug, slug+".example"); !errors.Is(err, ErrUnverified) {
		t.Fatalf("check without a record: %v", err)
	}
	if domainChange(300 * time.Millisecond) {
		t.Errorf("a failed check notified replicas: their caches were flushed for nothing")
	}
	srv.SetTXT(ChallengePrefix+slug+".example", tn.Domains[0].VerifyToken)
	if _, err := s.VerifyDomain(ctx, slug, slug+".example"); err != nil {
		t.Fatal(err)
	}
	if !domainChange(5 * time.Second) {
		t.Errorf("verifying did not notify replicas")
	}
}
