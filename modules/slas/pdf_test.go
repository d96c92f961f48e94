package slas

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// parsedPDF is what pdfStructure reads back from a document: its pages and
// the text each shows.
type parsedPDF struct {
	pages int
	text  []string // one entry per content stream, in order
	info  string   // the document information dictionary
}

// pdfStructure checks a PDF as a reader would find it and reads its text
// (which needs the uncompressed streams of a test rendering): the header,
// a cross-reference table whose every offset starts its object, a trailer
// whose startxref points at the table, and %%EOF. No PDF reader on the
// approved module list fits, so this is the reader's skeleton.
func pdfStructure(t *testing.T, b []byte) parsedPDF {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("%PDF-1.")) {
		t.Fatalf("no PDF header: %q", b[:min(len(b), 16)])
	}
	if !bytes.HasSuffix(bytes.TrimRight(b, "\r\n"), []byte("%%EOF")) {
		t.Fatal("no end-of-file marker at the end")
	}
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no startxref")
	}
	at, _ := strconv.Atoi(string(m[1]))
	if at <= 0 || at >= len(b) || !bytes.HasPrefix(b[at:], []byte("xref")) {
		t.Fatalf("startxref %d does not point at the cross-reference table", at)
	}
	lines := strings.Split(string(b[at:]), "\n")
	var first, count int
	if _, err := fmt.Sscanf(lines[1], "%d %d", &first, &count); err != nil || count < 3 {
		t.Fatalf("cross-reference header %q: %v", lines[1], err)
	}
	for i := 1; i < count; i++ {
		var off, gen int
		var kind string
		if _, err := fmt.Sscanf(lines[2+i], "%d %d %s", &off, &gen, &kind); err != nil || kind != "n" {
			t.Fatalf("cross-reference entry %d %q: %v", i, lines[2+i], err)
		}
		if want := fmt.Sprintf("%d 0 obj", first+i); !bytes.HasPrefix(b[off:], []byte(want)) {
			t.Fatalf("object %d is not at offset %d: %q", first+i, off, b[off:min(len(b), off+20)])
		}
	}
	if !bytes.Contains(b[at:], []byte("trailer")) || !bytes.Contains(b[at:], []byte("/Root ")) {
		t.Fatal("no trailer with a /Root")
	}
	var out parsedPDF
	out.pages = len(regexp.MustCompile(`/Type /Page\b[^s]`).FindAll(b, -1))
	if info := regexp.MustCompile(`(?s)/Producer .*?/CreationDate`).Find(b); info != nil {
		out.info = string(info)
	}
	streams := regexp.MustCompile(`(?s)stream\n(.*?)\nendstream`).FindAllSubmatch(b, -1)
	show := regexp.MustCompile(`\(((?:\\.|[^\\)])*)\) ?Tj`)
	for _, s := range streams {
		var page strings.Builder
		for _, tj := range show.FindAllSubmatch(s[1], -1) {
			page.WriteString(unescapePDF(string(tj[1])) + "\n")
		}
		if page.Len() > 0 {
			out.text = append(out.text, page.String())
		}
	}
	return out
}

// unescapePDF undoes a literal string's escapes and reads its code page
// (cp1252) bytes back as UTF-8 for the few characters a report uses.
func unescapePDF(s string) string {
	var b strings.Builder
	cp := map[byte]string{0x85: "…", 0x97: "—", 0xb7: "·", 0xa0: "\u00a0"}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			i++
			c = s[i]
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			}
		}
		if r, ok := cp[c]; ok {
			b.WriteString(r)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// backdate moves an alert (opened, acknowledged and resolved now) back to
// opened, with its response and resolution taking ack and fix, as the
// demo's history does.
func backdate(t *testing.T, tn tenancy.Tenant, id int64, opened time.Time, ack, fix time.Duration) {
	t.Helper()
	err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE alerts SET first_seen_at = ?, last_seen_at = ?, acknowledged_at = ?, resolved_at = ? WHERE id = ?`,
			opened, opened, opened.Add(ack), opened.Add(fix), id).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE alert_events SET at = CASE kind WHEN 'created' THEN ?::timestamptz WHEN 'acknowledged' THEN ?::timestamptz
			WHEN 'resolved' THEN ?::timestamptz ELSE at END WHERE alert_id = ?`, opened, opened.Add(ack), opened.Add(fix), id).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pdfFixture is a client with an SLA and a history: last month two
// critical alerts (one in time, one acknowledged 50 minutes late against
// 15) and one warning in time; three months ago one info alert in time.
type pdfFixture struct {
	tn      tenancy.Tenant
	reports *Reports
	month   time.Time // last month
	late    int64     // the breach
}

func newPDFFixture(t *testing.T, slug string) pdfFixture {
	t.Helper()
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	tn := ts.Scope(tenantstest.Create(t, ts, slug))
	// An override, so other tests' changes of the baseline do not matter.
	on := true
	if err := pol.Override(ctx, tn, "sla-default", &on, &policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}); err != nil {
		t.Fatal(err)
	}
	al := alerts.NewService(pol, Panel(pol))
	now := time.Now().UTC()
	thisMonth := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	f := pdfFixture{tn: tn, reports: &Reports{alerts: al, policies: pol, now: time.Now}, month: thisMonth.AddDate(0, -1, 0)}
	for i, a := range []struct {
		sev, rule, summary string
		opened             time.Time
		ack, fix           time.Duration
	}{
		{"critical", "disk-full", "Disk / at 97% on fs01", f.month.AddDate(0, 0, 3).Add(9 * time.Hour), 5 * time.Minute, time.Hour},
		{"critical", "backup-failed", "Nightly backup failed on fs01", f.month.AddDate(0, 0, 5).Add(2 * time.Hour), 50 * time.Minute, 3 * time.Hour},
		{"warning", "cpu-high", "CPU above 90% on app02", f.month.AddDate(0, 0, 9).Add(14 * time.Hour), 10 * time.Minute, time.Hour},
		{"info", "cert-expiry", "Certificate expires in 30 days", thisMonth.AddDate(0, -3, 2).Add(10 * time.Hour), time.Hour, 2 * time.Hour},
	} {
		out, err := al.Ingest(ctx, tn, []alerts.Signal{{Source: "t", Rule: a.rule, Severity: a.sev, Summary: a.summary, Endpoint: "fs01",
			Labels: map[string]string{"n": fmt.Sprint(i)}}})
		if err != nil {
			t.Fatal(err)
		}
		id := out[0].AlertID
		for _, act := range []alerts.Action{alerts.ActionAcknowledge, alerts.ActionResolve} {
			if _, err := al.Transition(ctx, tn, []int64{id}, act); err != nil {
				t.Fatal(err)
			}
		}
		backdate(t, tn, id, a.opened, a.ack, a.fix)
		if a.rule == "backup-failed" {
			f.late = id
		}
	}
	return f
}

// testLogo is a small PNG in the client's colour.
func testLogo(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 120, 40))
	for x := range 120 {
		for y := range 40 {
			img.Set(x, y, color.RGBA{R: 0x0f, G: 0x76, B: 0x6e, A: 0xff})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestReportPDF renders last month's report of a client with a history and
// reads it back: a well-formed PDF of two pages (summary and trend, then
// breaches) showing the client's name, the targets, the shares met per
// severity, six months of trend and the breach by how much, and naming
// nothing but the client.
func TestReportPDF(t *testing.T) {
	ctx := context.Background()
	f := newPDFFixture(t, "pdf-acme")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, tc := range []struct {
		name     string
		head     Letterhead
		logo     bool // the PNG is embedded as an image
		nameText bool // the name is written at the top in its stead (and in the title anyway)
	}{
		{"png logo", Letterhead{Name: "Acme Health", Primary: "#0f766e", Accent: "#b45309", Logo: testLogo(t), LogoType: "image/png",
			Zone: berlin, Locale: humane.LocaleFor("en")}, true, true},
		{"svg logo falls back to the name", Letterhead{Name: "Acme Health", Primary: "#0f766e", Accent: "#b45309",
			Logo: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), LogoType: "image/svg+xml", Zone: berlin, Locale: humane.LocaleFor("de-DE")}, false, true},
		{"no logo, default colours", Letterhead{Name: "Acme Health", Primary: "#334155", Accent: "#1d4ed8", Zone: time.UTC}, false, true},
		{"broken png", Letterhead{Name: "Acme Health", Primary: "#0f766e", Accent: "#b45309", Logo: []byte("\x89PNG not really"), LogoType: "image/png"}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Documents{reports: f.reports, letterhead: func(context.Context, tenancy.Tenant) (Letterhead, error) { return tc.head, nil }}
			b, err := d.PDF(ctx, f.tn, f.month)
			if err != nil {
				t.Fatal(err)
			}
			doc := pdfStructure(t, b)
			if doc.pages != 2 || len(doc.text) != 2 {
				t.Fatalf("%d pages, %d content streams; want 2 and 2", doc.pages, len(doc.text))
			}
			if got := bytes.Contains(b, []byte("/Subtype /Image")); got != tc.logo {
				t.Errorf("logo embedded = %v, want %v", got, tc.logo)
			}
			summary, breaches := doc.text[0], doc.text[1]
			monthName := f.month.Format("January 2006")
			pct := func(v float64) string { return tc.head.Locale.Percent(v, 0) }
			for _, want := range []string{
				"Acme Health", "Service level report", monthName, "3 alerts opened in " + monthName,
				// Targets per severity.
				"Critical", "15 min", "4 h", "Warning", "1 h", "8 h", "Info", "1 d",
				// Shares met: critical responses 1 of 2, resolutions 2 of 2; all: 2 of 3 and 3 of 3.
				pct(50) + " (1 of 2)", pct(100) + " (2 of 2)", pct(67) + " (2 of 3)", pct(100) + " (3 of 3)",
				// The trend: six month labels ending with the report's, and a dash for months with nothing decided.
				f.month.AddDate(0, -5, 0).Format("Jan 2006"), f.month.AddDate(0, -2, 0).Format("Jan 2006"), f.month.Format("Jan 2006"), "—",
			} {
				if !strings.Contains(summary, want) {
					t.Errorf("page 1 lacks %q:\n%s", want, summary)
				}
			}
			if tc.head.Zone != nil && !strings.Contains(summary, "times are shown in "+tc.head.Zone.String()) {
				t.Errorf("page 1 does not name the client's time zone:\n%s", summary)
			}
			for _, want := range []string{"Breaches", "Nightly backup failed on fs01", fmt.Sprintf("#%d", f.late), "Critical",
				"50 min of 15 min", "over by 35 min", "page 2 of 2"} {
				if !strings.Contains(breaches, want) {
					t.Errorf("page 2 lacks %q:\n%s", want, breaches)
				}
			}
			if strings.Contains(breaches, "Disk / at 97%") {
				t.Error("an alert that met both targets is listed among the breaches")
			}
			// The text and metadata name the client only; the raw bytes not even the platform.
			shown := strings.ToLower(strings.Join(doc.text, "\n") + doc.info)
			for _, never := range []string{"switchboard", "msp", "pdf-acme", "fpdf"} {
				if strings.Contains(shown, never) {
					t.Errorf("the PDF names %q", never)
				}
			}
			if bytes.Contains(bytes.ToLower(b), []byte("switchboard")) {
				t.Error("the PDF's bytes name the platform")
			}
		})
	}
}

// TestReportPDFWithoutSLA: a client with no SLA gets one page saying so.
func TestReportPDFWithoutSLA(t *testing.T) {
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	tn := ts.Scope(tenantstest.Create(t, ts, "pdf-nosla"))
	off := false
	if err := pol.Override(ctx, tn, "sla-default", &off, nil); err != nil {
		t.Fatal(err)
	}
	r := &Reports{alerts: alerts.NewService(pol, Panel(pol)), policies: pol, now: time.Now}
	d := &Documents{reports: r, letterhead: func(context.Context, tenancy.Tenant) (Letterhead, error) {
		return Letterhead{Name: "Borealis", Primary: "#123456", Accent: "#654321"}, nil
	}}
	b, err := d.PDF(ctx, tn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	doc := pdfStructure(t, b)
	if doc.pages != 1 || !strings.Contains(doc.text[0], "No service levels are agreed") || !strings.Contains(doc.text[0], "Borealis") {
		t.Fatalf("%d pages: %q", doc.pages, doc.text)
	}
}

// TestRGB: brand colours parse; anything else falls back.
func TestRGB(t *testing.T) {
	def := [3]int{1, 2, 3}
	for in, want := range map[string][3]int{"#0f766e": {15, 118, 110}, "#FFFFFF": {255, 255, 255}, "": def, "0f766e": def, "#0f76": def, "#zzzzzz": def} {
		if got := rgb(in, def); got != want {
			t.Errorf("rgb(%q) = %v, want %v", in, got, want)
		}
	}
}
