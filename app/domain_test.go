package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/dnstest"
)

// TestDomainCommands walks one hostname through add, a failed and a fixed
// verification against a real DNS server on loopback, and removal; then
// checks that every kind of bad input exits 2 and writes nothing.
func TestDomainCommands(t *testing.T) {
	expect(t, cli(t, "migrate"), 0)
	srv := dnstest.Start(t)
	const slug, other, host = "dom-cli", "dom-cli-other", "portal.dom-cli.example"
	expect(t, cli(t, "tenant", "create", "--slug", slug, "--name", "Domain CLI"), 0)
	r := cli(t, "tenant", "create", "--slug", other, "--name", "Other", "--domain", "portal.dom-cli-other.example")
	expect(t, r, 0, "portal.dom-cli-other.example (unverified)", "_switchboard-challenge.portal.dom-cli-other.example", "domain verify "+other)
	conn := adminConn(t)
	footprint := func() (n int) {
		err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM control.tenant_domains) + (SELECT count(*) FROM control.audit_log)`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	r = cli(t, "tenant", "domain", "add", slug, "Portal.DOM-CLI.example.")
	expect(t, r, 0, "added "+host+" to "+slug+" (unverified", "name:  _switchboard-challenge."+host, "type:  TXT",
		"switchboard tenant domain verify "+slug+" "+host)
	m := regexp.MustCompile(`(?m)^  value: ([0-9a-f]{32})$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("add does not print the TXT value\n%s", r)
	}
	token := m[1]

	r = cli(t, "tenant", "domain", "list", slug, "-o", "json")
	expect(t, r, 0)
	var list []struct {
		Hostname    string `json:"hostname"`
		Verified    bool   `json:"verified"`
		Primary     bool   `json:"primary"`
		VerifyToken string `json:"verify_token"`
		CheckError  string `json:"check_error"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Hostname != host || list[0].Verified || !list[0].Primary || list[0].VerifyToken != token {
		t.Fatalf("domain list -o json = %+v (%v), want %s unverified primary with token %s\n%s", list, err, host, token, r)
	}

	verify := func() cliResult {
		return cli(t, "tenant", "domain", "verify", slug, host, "--resolver", srv.Addr())
	}
	steps := []struct {
		name   string
		dns    func()
		code   int
		want   []string
		status string // in 'domain list'
	}{
		{"no record", func() {}, 1, []string{"domain not verified", "no TXT record at _switchboard-challenge." + host, token}, "unverified"},
		{"wrong value", func() { srv.SetTXT("_switchboard-challenge."+host, "not-the-token") }, 1,
			[]string{"_switchboard-challenge." + host, `"not-the-token"`, `expected "` + token + `"`}, "unverified"},
		{"fixed", func() { srv.SetTXT("_switchboard-challenge."+host, token) }, 0, []string{host + " verified"}, "verified"},
	}
	for _, st := range steps {
		t.Run("verify: "+st.name, func(t *testing.T) {
			st.dns()
			r := verify()
			expect(t, r, st.code, st.want...)
			r = cli(t, "tenant", "domain", "list", slug)
			expect(t, r, 0, "HOSTNAME", "TXT NAME", token)
			if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(host) + `\s+yes\s+` + st.status + `\s`).MatchString(r.stdout) {
				t.Errorf("list does not show %s as %s\n%s", host, st.status, r)
			}
		})
	}
	expect(t, cli(t, "tenant", "show", slug), 0, host)
	if strings.Contains(cli(t, "tenant", "show", slug).stdout, "unverified") {
		t.Errorf("tenant show still calls the verified domain unverified")
	}

	t.Run("bad input exits 2 and writes nothing", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"add: bad hostname", []string{"add", slug, "bad_host.example"}, "invalid label"},
			{"add: IP address", []string{"add", slug, "192.0.2.1"}, "IP address"},
			{"add: single label", []string{"add", slug, "intranet"}, "two labels"},
			{"add: port", []string{"add", slug, "x.example:443"}, "hostname"},
			{"add: unknown tenant", []string{"add", "no-such-client", "x.dom-cli.example"}, "no such tenant"},
			{"add: own hostname again", []string{"add", slug, strings.ToUpper(host)}, "already a domain of " + slug},
			{"add: another tenant's hostname", []string{"add", slug, "portal.dom-cli-other.example"}, "belongs to another tenant"},
			{"add: no host", []string{"add", slug}, "accepts 2 arg"},
			{"verify: not this tenant's hostname", []string{"verify", slug, "portal.dom-cli-other.example", "--resolver", srv.Addr()}, "has no domain"},
			{"verify: unknown tenant", []string{"verify", "no-such-client", host, "--resolver", srv.Addr()}, "no such tenant"},
			{"verify: resolver without port", []string{"verify", slug, host, "--resolver", "127.0.0.1"}, "dns.resolver"},
			{"verify: bad hostname", []string{"verify", slug, "a..b", "--resolver", srv.Addr()}, "hostname"},
			{"remove: unknown hostname", []string{"remove", slug, "nope.dom-cli.example"}, "has no domain"},
			{"remove: another tenant's hostname", []string{"remove", slug, "portal.dom-cli-other.example"}, "has no domain"},
			{"remove: bad hostname", []string{"remove", slug, "x_y.example"}, "invalid label"},
			{"primary: unknown hostname", []string{"primary", slug, "nope.dom-cli.example"}, "has no domain"},
			{"list: unknown tenant", []string{"list", "no-such-client"}, "no such tenant"},
			{"list: bad output", []string{"list", slug, "--output", "xml"}, "--output"},
			{"unknown subcommand", []string{"frobnicate"}, "unknown command"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := footprint()
				r := cli(t, append([]string{"tenant", "domain"}, tc.args...)...)
				expect(t, r, 2, tc.want)
				if r.stdout != "" {
					t.Errorf("a refused command printed to stdout: %q", r.stdout)
				}
				if strings.Contains(r.errMsg, other+" ") || strings.HasSuffix(r.errMsg, other) {
					t.Errorf("error names the other tenant: %s", r.errMsg)
				}
				if after := footprint(); after != before {
					t.Errorf("domains+audit rows %d → %d", before, after)
				}
			})
		}
	})

	t.Run("help", func(t *testing.T) {
		expect(t, cli(t, "tenant", "domain", "--help"), 0, "add", "list", "verify", "remove", "_switchboard-challenge")
		for _, sub := range []string{"add", "list", "verify", "remove", "primary"} {
			r := cli(t, "tenant", "domain", sub, "--help")
			expect(t, r, 0, "switchboard tenant domain "+sub+" SLUG")
		}
		expect(t, cli(t, "tenant", "create", "--help"), 0, "TXT record")
	})

	t.Run("remove", func(t *testing.T) {
		expect(t, cli(t, "tenant", "domain", "remove", slug, strings.ToUpper(host)), 0, "removed "+host+" from "+slug)
		r := cli(t, "tenant", "domain", "list", slug, "-o", "json")
		expect(t, r, 0)
		if strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("after removal, list = %s", r.stdout)
		}
		expect(t, cli(t, "tenant", "domain", "remove", slug, host), 2, "has no domain")
	})
}

// portalStatus asks the portal for / as a browser on host would.
func portalStatus(t *testing.T, base, host string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
	req.Host = host
	req.Header.Set("Accept", "text/html")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestDomainConsole drives the console page: add, a failed and a passing
// verification against a loopback DNS server, and removal, checking what the
// portal answers on the hostname after each step.
func TestDomainConsole(t *testing.T) {
	srv := dnstest.Start(t)
	t.Setenv("SWITCHBOARD_DNS_RESOLVER", srv.Addr()) // read by config.Load in testServer
	ctx := context.Background()
	e, _, ts := testServer(t)
	if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "dom-web", Name: "Domain Web"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "dom-owner@msp.example", Role: "owner", Password: "domain-web-password"}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login("dom-owner@msp.example", "domain-web-password"); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	const host = "portal.dom-web.example"
	p := "/t/dom-web/domains"
	b.waitAllowed(p) // the new owner reaches the authorizer through a change notice

	status, _, hdr := b.do(http.MethodPost, p, url.Values{"host": {"Portal.Dom-Web.example"}})
	if status != http.StatusSeeOther || hdr.Get("Location") != p { // the notice is in the session, not the URL
		t.Fatalf("add: %d %q", status, hdr.Get("Location"))
	}
	list, err := e.tenants.ListDomains(ctx, "dom-web")
	if err != nil || len(list) != 1 {
		t.Fatalf("after add: %+v %v", list, err)
	}
	token := list[0].VerifyToken
	status, body, _ := b.do(http.MethodGet, p, nil)
	for _, want := range []string{host, "_switchboard-challenge." + host, token, "unverified", "never"} {
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("domains page (%d) lacks %q", status, want)
		}
	}
	if got := portalStatus(t, ts.URL, host); got != http.StatusNotFound {
		t.Errorf("portal on an unverified host: %d, want 404", got)
	}

	status, body, _ = b.do(http.MethodPost, p+"/"+host+"/verify", nil)
	if status != http.StatusOK || !strings.Contains(body, "No TXT record at _switchboard-challenge."+host) {
		t.Fatalf("verify without a record: %d, want 200 with the reason\n%.2000s", status, body)
	}
	if got := portalStatus(t, ts.URL, host); got != http.StatusNotFound {
		t.Errorf("portal after a failed check: %d, want 404", got)
	}

	srv.SetTXT("_switchboard-challenge."+host, token)
	status, _, hdr = b.do(http.MethodPost, p+"/"+host+"/verify", nil)
	if status != http.StatusSeeOther || hdr.Get("Location") != p {
		t.Fatalf("verify with the record: %d %q", status, hdr.Get("Location"))
	}
	if _, body, _ = b.do(http.MethodGet, p, nil); !strings.Contains(body, host+" is verified") || // the notice, from the session
		!strings.Contains(body, "status-active\">verified") || !strings.Contains(body, "record found") {
		t.Errorf("domains page does not show the domain verified")
	}
	// Routed: whatever the portal answers (its page or its sign-in), not the
	// resolver's 404 for hosts it does not know. The resolver remembers
	// unknown hosts until the directory's change notice (LISTEN/NOTIFY, so
	// a moment after the commit) empties its cache, as after removal below.
	routed := time.Now().Add(2 * time.Second)
	for portalStatus(t, ts.URL, host) == http.StatusNotFound {
		if time.Now().After(routed) {
			t.Fatalf("portal on the verified host: still 404 2s after verification, want it routed to the client")
		}
		time.Sleep(20 * time.Millisecond)
	}

	status, _, _ = b.do(http.MethodPost, p+"/"+host+"/remove", nil)
	if status != http.StatusSeeOther {
		t.Fatalf("remove: %d", status)
	}
	deadline := time.Now().Add(2 * time.Second)
	for portalStatus(t, ts.URL, host) != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatalf("portal still answers on %s 2s after removal", host)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
