package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/identity"
	"switchboard/platform/dnstest"
	"switchboard/platform/tenancy"
)

// TestStaffAPIAudit: a client's audit log on the staff API: filters, two
// pages through the opaque cursor (entries of one transaction share a time,
// so the cursor's id breaks the tie), bad filters, and who may read it.
func TestStaffAPIAudit(t *testing.T) {
	f := newAPIFixture(t, "apiaud")
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "probe-actor@msp.example"})
	if err := tenancy.Do(ctx, f.e.tenants.Scope(f.alpha), func(tx *gorm.DB) error {
		for _, target := range []string{"first", "second", "third"} {
			if err := audit.Record(ctx, tx, "probe.changed", target, "probe "+target); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, plain, err := f.e.identity.CreateToken(context.Background(), f.owner.Email, identity.TokenInput{Name: "alerts-only", Scopes: []string{identity.ScopeAlertsRead}, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["alerts-only"] = plain
	a, b := "/api/v1/clients/"+f.alpha.Slug+"/audit", "/api/v1/clients/"+f.beta.Slug+"/audit"
	var next string
	nextOf := func(want bool) func(*testing.T, string, http.Header) {
		return func(t *testing.T, body string, _ http.Header) {
			var p struct{ Next string }
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatal(err)
			}
			if (p.Next != "") != want {
				t.Fatalf("next = %q, want one: %v", p.Next, want)
			}
			next = p.Next
		}
	}
	past := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	f.run(t, []apiScenario{
		{name: "action prefix", token: "tech", method: "GET", path: a + "?action=probe.", status: 200, contains: []string{`"target":"first"`, `"target":"third"`, "probe-actor@msp.example"}},
		{name: "actor", token: "tech", method: "GET", path: a + "?actor=PROBE-ACTOR", status: 200, contains: []string{`"target":"second"`}},
		{name: "text", token: "tech", method: "GET", path: a + "?q=probe+second", status: 200, contains: []string{`"target":"second"`}, lacks: []string{`"target":"first"`}},
		{name: "no match", token: "tech", method: "GET", path: a + "?action=nothing.", status: 200, contains: []string{`"items":[]`}, lacks: []string{`"next"`}},
		{name: "since and until", token: "tech", method: "GET", path: a + "?action=probe.&since=" + past + "&until=" + future, status: 200, contains: []string{`"target":"second"`}},
		{name: "until excludes", token: "tech", method: "GET", path: a + "?action=probe.&until=" + past, status: 200, contains: []string{`"items":[]`}},
		{name: "since excludes", token: "tech", method: "GET", path: a + "?action=probe.&since=" + future, status: 200, contains: []string{`"items":[]`}},
		{name: "page 1", token: "tech", method: "GET", path: a + "?action=probe.&limit=2", status: 200, contains: []string{`"target":"third"`, `"target":"second"`}, lacks: []string{`"target":"first"`}, after: nextOf(true)},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "page 2", token: "tech", method: "GET", path: a + "?action=probe.&limit=2&cursor=" + next, status: 200, contains: []string{`"target":"first"`}, lacks: []string{`"target":"second"`, `"target":"third"`}, after: nextOf(false)},
		{name: "bad since", token: "tech", method: "GET", path: a + "?since=yesterday", status: 400, contains: []string{"RFC 3339"}},
		{name: "date without time", token: "tech", method: "GET", path: a + "?until=2026-01-02", status: 400, contains: []string{"Until"}},
		{name: "bad limit", token: "tech", method: "GET", path: a + "?limit=0", status: 400, contains: []string{"Limit"}},
		{name: "bad cursor", token: "tech", method: "GET", path: a + "?cursor=xyz", status: 400, contains: []string{"Cursor"}},
		{name: "owner reads", token: "owner-read", method: "GET", path: a + "?action=probe.", status: 200, contains: []string{`"target":"first"`}},
		{name: "technician, other client", token: "tech", method: "GET", path: b, status: 404},
		{name: "outside the token's clients", token: "owner-beta", method: "GET", path: a, status: 404},
		{name: "missing scope", token: "alerts-only", method: "GET", path: a, status: 403, contains: []string{"clients:read"}},
	})
}

// TestStaffAPIDomains: a client's portal domains on the staff API against a
// DNS server on loopback: add, list, a failed and a passed verification,
// primary, remove; bad input and who may change them.
func TestStaffAPIDomains(t *testing.T) {
	dns := dnstest.Start(t)
	t.Setenv("SWITCHBOARD_DNS_RESOLVER", dns.Addr()) // read by config.Load in testServer
	f := newAPIFixture(t, "apidom")
	ctx := context.Background()
	const first, second = "portal.apidom.example", "help.apidom.example"
	a, b := "/api/v1/clients/"+f.alpha.Slug+"/domains", "/api/v1/clients/"+f.beta.Slug+"/domains"
	count := func() int {
		t.Helper()
		list, err := f.e.tenants.ListDomains(ctx, f.alpha.Slug)
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	tokens := map[string]string{}
	txtOf := func(host string) func(*testing.T, string, http.Header) {
		return func(t *testing.T, body string, _ http.Header) {
			var r struct {
				TXT struct{ Name, Type, Value string } `json:"txt_record"`
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.TXT.Value == "" || r.TXT.Name != "_switchboard-challenge."+host || r.TXT.Type != "TXT" {
				t.Fatalf("no TXT record for %s in %s", host, body)
			}
			tokens[host] = r.TXT.Value
		}
	}
	f.run(t, []apiScenario{
		{name: "none yet", token: "owner", method: "GET", path: a, status: 200, contains: []string{`"items":[]`}},
		{name: "bad host", token: "owner", method: "POST", path: a, body: `{"host":"not a host!"}`, status: 400},
		{name: "empty host", token: "owner", method: "POST", path: a, body: `{"host":""}`, status: 400},
		{name: "host as a number", token: "owner", method: "POST", path: a, body: `{"host":42}`, status: 400},
		{name: "technician may not add", token: "tech", method: "POST", path: a, body: `{"host":"` + first + `"}`, status: 403},
		{name: "technician may not list", token: "tech", method: "GET", path: a, status: 403},
		{name: "technician, other client", token: "tech", method: "GET", path: b, status: 404},
		{name: "add without write scope", token: "owner-read", method: "POST", path: a, body: `{"host":"` + first + `"}`, status: 403, contains: []string{"clients:write"}},
	})
	if n := count(); n != 0 {
		t.Fatalf("refused requests added %d domains", n)
	}
	f.run(t, []apiScenario{
		{name: "add", token: "owner", method: "POST", path: a, body: `{"host":"Portal.APIDOM.example."}`, status: 201, contains: []string{`"hostname":"` + first + `"`, `"verified":false`}, after: txtOf(first)},
		{name: "add second", token: "owner", method: "POST", path: a, body: `{"host":"` + second + `"}`, status: 201, after: txtOf(second)},
		{name: "add twice", token: "owner", method: "POST", path: a, body: `{"host":"` + first + `"}`, status: 409},
		{name: "list", token: "owner-read", method: "GET", path: a, status: 200, contains: []string{first, second}},
		{name: "verify without TXT", token: "owner", method: "POST", path: a + "/" + first + "/verify", status: 422, contains: []string{"_switchboard-challenge." + first}},
		{name: "failure is recorded", token: "owner", method: "GET", path: a, status: 200, contains: []string{`"check_error"`}},
		{name: "verify unknown", token: "owner", method: "POST", path: a + "/nope.apidom.example/verify", status: 404},
		{name: "verify without scope", token: "owner-read", method: "POST", path: a + "/" + first + "/verify", status: 403},
	})
	if t.Failed() {
		return
	}
	dns.SetTXT("_switchboard-challenge."+first, tokens[first])
	dns.SetTXT("_switchboard-challenge."+second, tokens[second])
	f.run(t, []apiScenario{
		{name: "verify", token: "owner", method: "POST", path: a + "/" + first + "/verify", status: 200, contains: []string{`"verified":true`, `"primary":true`}},
		{name: "verify second", token: "owner", method: "POST", path: a + "/" + second + "/verify", status: 200, contains: []string{`"verified":true`, `"primary":false`}},
		{name: "technician may not make primary", token: "tech", method: "POST", path: a + "/" + second + "/primary", status: 403},
		{name: "primary", token: "owner", method: "POST", path: a + "/" + second + "/primary", status: 200, contains: []string{`"hostname":"` + second + `"`, `"primary":true`}},
		{name: "primary unknown", token: "owner", method: "POST", path: a + "/nope.apidom.example/primary", status: 404},
		{name: "remove bad host", token: "owner", method: "DELETE", path: a + "/bad_host!", status: 400},
		{name: "technician may not remove", token: "tech", method: "DELETE", path: a + "/" + first, status: 403},
		{name: "remove", token: "owner", method: "DELETE", path: a + "/" + first, status: 204},
		{name: "remove again", token: "owner", method: "DELETE", path: a + "/" + first, status: 404},
		{name: "left", token: "owner", method: "GET", path: a, status: 200, contains: []string{second}, lacks: []string{first}},
	})
}
