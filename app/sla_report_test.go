package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/modules/identity"
)

// pdfText inflates a PDF's compressed streams and returns them joined: the
// page text is in there, as the code page's bytes.
func pdfText(t *testing.T, b []byte) string {
	t.Helper()
	var out strings.Builder
	for _, m := range regexp.MustCompile(`(?s)stream\r?\n(.*?)endstream`).FindAllSubmatch(b, -1) {
		r, err := zlib.NewReader(bytes.NewReader(m[1]))
		if err != nil {
			continue // an image, or a stream that is not deflated
		}
		data, _ := io.ReadAll(r)
		out.Write(data)
	}
	return out.String()
}

// TestSLAReportDownloads: the monthly report as a PDF from the console
// (staff, any client they see) and from the portal (the client's own
// users): 200 with an attachment that names the client and no one else,
// 400 with the reason for a malformed month, 404 for an unknown client.
// The e-mail goes to the client's admins only.
func TestSLAReportDownloads(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	a := seedPortalTenant(t, e, "pdfa")
	b := seedPortalTenant(t, e, "pdfb")
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "pdf-owner@msp.example", Role: "owner", Password: "pdf-owner-password"}); err != nil {
		t.Fatal(err)
	}
	staff := newClient(t, ts.URL)
	staff.login("pdf-owner@msp.example", "pdf-owner-password")
	console := "/t/" + a.tenant.Slug + "/sla/report.pdf"
	staff.waitAllowed(console)
	user := newHostClient(t, ts.URL, a.host)
	if got := user.login(a.user, portalPassword); got != http.StatusSeeOther {
		t.Fatalf("portal login = %d", got)
	}
	month := time.Now().UTC().Format("2006-01")
	for _, tc := range []struct {
		who      *client
		path     string
		want     int
		filename string
		has      string // in the body
	}{
		{staff, console + "?month=" + month, 200, a.tenant.Slug + "-sla-report-" + month + ".pdf", ""},
		{staff, console, 200, a.tenant.Slug + "-sla-report-" + month + ".pdf", ""},
		{staff, console + "?month=2026-13", 400, "", "month must look like"},
		{staff, console + "?month=May", 400, "", "month must look like"},
		{staff, "/t/no-such-client/sla/report.pdf", 404, "", ""},
		{user, "/sla/report.pdf?month=" + month, 200, "sla-report-" + month + ".pdf", ""},
		{user, "/sla/report.pdf?month=2026-00", 400, "", "month must look like"},
	} {
		status, body, hdr := tc.who.do(http.MethodGet, tc.path, nil)
		if status != tc.want {
			t.Errorf("GET %s = %d, want %d\n%.300s", tc.path, status, tc.want, body)
			continue
		}
		if !strings.Contains(body, tc.has) {
			t.Errorf("GET %s lacks %q: %.300s", tc.path, tc.has, body)
		}
		if status != 200 {
			continue
		}
		if ct, cd := hdr.Get("Content-Type"), hdr.Get("Content-Disposition"); ct != "application/pdf" || cd != `attachment; filename="`+tc.filename+`"` {
			t.Errorf("GET %s: Content-Type %q, Content-Disposition %q", tc.path, ct, cd)
		}
		if !strings.HasPrefix(body, "%PDF-1.") {
			t.Fatalf("GET %s is no PDF: %.40q", tc.path, body)
		}
		text := pdfText(t, []byte(body))
		if !strings.Contains(text, "("+a.tenant.Name+")") || !strings.Contains(text, "Service level report") {
			t.Errorf("GET %s: the PDF does not show the client's name %q", tc.path, a.tenant.Name)
		}
		for _, never := range []string{b.tenant.Name, "Switchboard", "msp.example"} {
			if strings.Contains(text, never) || strings.Contains(body, never) {
				t.Errorf("GET %s: the PDF names %q", tc.path, never)
			}
		}
	}
	// Another client's user is refused the client's report by its host, and sees only their own.
	other := newHostClient(t, ts.URL, b.host)
	other.login(b.user, portalPassword)
	if status, body, _ := other.do(http.MethodGet, "/sla/report.pdf", nil); status != 200 || strings.Contains(pdfText(t, []byte(body)), a.tenant.Name) {
		t.Errorf("the other client's report: %d", status)
	}

	admins, err := e.slaMailDeps().Admins(ctx, a.tenant)
	if err != nil || !slices.Equal(admins, []string{a.admin}) {
		t.Errorf("report recipients = %v, %v; want the client admin only", admins, err)
	}
}
