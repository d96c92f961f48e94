package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/pgtest"
)

// TestAttestCommand: a clean client attests with exit status 0, on either
// server; a SELECT granted on one of its tables to another role makes the
// attestation name that role and exit 1; bad input exits 2 with one line.
func TestAttestCommand(t *testing.T) {
	ctx := context.Background()
	e, _, _ := testServer(t)
	if _, err := e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, slug, cell string
		adminURL         func() string // the superuser of the client's server
	}{
		{"near", "attest-near", "", pgtest.AdminURL},
		{"far", "attest-far", "far", pgtest.SecondAdminURL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: tc.slug, Name: "Attest " + tc.name, Cell: tc.cell})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { // last: after the intruder is gone; no later test expects these clients
				if err := e.tenants.Delete(ctx, tn.Slug, tn.Slug); err != nil {
					t.Error(err)
				}
			})
			cell, err := e.cluster.Cell(ctx, tn.Cell)
			if err != nil {
				t.Fatal(err)
			}

			r := cli(t, "tenant", "attest", tn.Slug)
			expect(t, r, 0, "PASS", "schema_owner", "can_become", cell.Role, "PASS: every check passed")
			if strings.Contains(r.stdout, "FAIL") {
				t.Errorf("a clean client has a failing line:\n%s", r)
			}

			r = cli(t, "tenant", "attest", tn.Slug, "--output", "json")
			expect(t, r, 0)
			var a tenants.Attestation
			if err := json.Unmarshal([]byte(r.stdout), &a); err != nil {
				t.Fatalf("JSON output: %v\n%s", err, r)
			}
			if !a.Passed || a.Server != cell.Host().Location() || len(a.Export.SHA256) != 64 {
				t.Fatalf("JSON attestation: passed %v, server %s (the cell's: %s), sha256 %q", a.Passed, a.Server, cell.Host().Location(), a.Export.SHA256)
			}

			intruder := "attest_intruder_" + tc.name
			conn, err := pgx.Connect(ctx, tc.adminURL())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = conn.Exec(ctx, `DROP OWNED BY `+intruder+`; DROP ROLE `+intruder)
				_ = conn.Close(ctx)
			})
			if _, err := conn.Exec(ctx, `CREATE ROLE `+intruder+` NOLOGIN; GRANT SELECT ON `+tn.SchemaName+`.alerts TO `+intruder); err != nil {
				t.Fatal(err)
			}
			r = cli(t, "tenant", "attest", tn.Slug)
			expect(t, r, 1, intruder, "SELECT on table alerts", "FAIL: 1 check(s) failed", "attestation failed")
			if strings.Contains(r.stderr, "goroutine") || strings.Count(strings.TrimSpace(r.errMsg), "\n") != 0 {
				t.Errorf("a failed attestation must end in one line, not a crash:\n%s", r)
			}
			r = cli(t, "tenant", "attest", tn.Slug, "--output", "json")
			expect(t, r, 1)
			if err := json.Unmarshal([]byte(r.stdout), &a); err != nil || a.Passed || a.Failed != 1 {
				t.Fatalf("JSON after the GRANT: passed %v, failed %d, err %v", a.Passed, a.Failed, err)
			}
		})
	}

	for _, args := range [][]string{
		{"tenant", "attest", "no-such-client"},
		{"tenant", "attest", "attest-near", "--output", "yaml"},
		{"tenant", "attest"},
	} {
		r := cli(t, args...)
		expect(t, r, 2)
		if strings.Count(strings.TrimSpace(r.errMsg), "\n") != 0 || r.stdout != "" {
			t.Errorf("bad input must get one line and no report:\n%s", r)
		}
	}
}

// TestAttestDownload: an owner downloads the attestation from the client's
// page, as JSON or text; a bad format is a 400 with the reason.
func TestAttestDownload(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	tn, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: "attest-web", Name: "Attest Web"})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "attest-owner-password"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "attest-owner@msp.example", Role: "owner", Password: pw}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login("attest-owner@msp.example", pw); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	b.waitAllowed("/t/" + tn.Slug + "/")
	if status, body := b.get("/t/" + tn.Slug + "/"); status != http.StatusOK || !strings.Contains(body, `href="/t/`+tn.Slug+`/attest"`) {
		t.Fatalf("the client's page (%d) has no attestation link for an owner", status)
	}

	status, body, hdr := b.do(http.MethodGet, "/t/"+tn.Slug+"/attest", nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Disposition"), `attachment; filename="attestation-attest-web-`) {
		t.Fatalf("download: %d, Content-Disposition %q\n%s", status, hdr.Get("Content-Disposition"), body)
	}
	var a tenants.Attestation
	if err := json.Unmarshal([]byte(body), &a); err != nil || !a.Passed || a.Tenant != tn.Slug {
		t.Fatalf("downloaded JSON: passed %v, tenant %q, err %v", a.Passed, a.Tenant, err)
	}
	status, body, hdr = b.do(http.MethodGet, "/t/"+tn.Slug+"/attest?format=text", nil)
	if status != http.StatusOK || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") || !strings.Contains(body, "PASS: every check passed") {
		t.Fatalf("text download: %d %q\n%s", status, hdr.Get("Content-Type"), body)
	}
	if status, body, _ := b.do(http.MethodGet, "/t/"+tn.Slug+"/attest?format=xml", nil); status != http.StatusBadRequest || !strings.Contains(body, "format must be json or text") {
		t.Fatalf("bad format: %d\n%s", status, body)
	}
}
