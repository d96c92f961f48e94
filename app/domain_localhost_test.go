package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"switchboard/config"
	"switchboard/modules/tenants"
)

// TestVerifyLocalhostDomain: the console's Verify button accepts a
// *.localhost hostname without DNS in development (the embedded database:
// no database.url) and the portal answers on it at once; with a configured
// database (production) the same button, and the CLI, refuse it with the
// reason, and the portal does not answer.
func TestVerifyLocalhostDomain(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		dev        bool
		status     int    // of the Verify button
		want       string // on the page it leads to
		portalIsUp bool
	}{
		{"development", true, http.StatusSeeOther, "is verified: the portal answers on it", true},
		{"production", false, http.StatusOK, "verified only in development", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, _, ts := testServerWith(t, func(cfg *config.Config) {
				if tc.dev {
					cfg.Database.URL = "" // as with the embedded cluster; the test's connection is e.url
				}
			})
			slug := "loc-" + tc.name[:4]
			host := slug + ".localhost"
			if _, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Local " + tc.name, Domain: host}); err != nil {
				t.Fatal(err)
			}
			owner := signedInOwner(t, e, ts.URL, "owner-"+slug+"@msp.example")
			owner.waitAllowed("/t/" + slug + "/domains") // the new owner's grant arrives through a change notice
			status, body, hdr := owner.do(http.MethodPost, "/t/"+slug+"/domains/"+host+"/verify", nil)
			if status == http.StatusSeeOther {
				_, body = owner.get(hdr.Get("Location"))
			}
			if status != tc.status || !strings.Contains(body, tc.want) {
				t.Fatalf("verify %s = %d, want %d and %q:\n%s", host, status, tc.status, tc.want, body)
			}
			portal := newHostClient(t, ts.URL, host)
			status, _ = portal.get("/login")
			if up := status == http.StatusOK; up != tc.portalIsUp {
				t.Errorf("portal on %s answers %d; want up %v", host, status, tc.portalIsUp)
			}
			if !tc.dev { // the CLI of a configured database refuses it too: exit 1, DNS check failed
				expect(t, cli(t, "tenant", "domain", "verify", slug, host), 1, "verified only in development")
			}
		})
	}
}
