package slas

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// Letterhead is how a client's documents present themselves: its name,
// colours and logo only (nothing of the MSP's), and the clock and number
// formats of its people.
type Letterhead struct {
	Name            string
	Primary, Accent string // #rrggbb
	Logo            []byte // the image's bytes; nil when the client has none
	LogoType        string // image/png, image/jpeg or image/svg+xml
	Zone            *time.Location
	Locale          humane.Locale
}

// LetterheadFunc returns a client's letterhead; app builds it from the
// client's branding and settings.
type LetterheadFunc func(ctx context.Context, t tenancy.Tenant) (Letterhead, error)

// Documents renders a client's monthly SLA report as a PDF in its brand,
// from the same reports the pages show.
type Documents struct {
	reports    *Reports
	letterhead LetterheadFunc
	compress   bool // off in tests, so the page text can be read back
}

// NewDocuments returns the PDF renderer of r's reports.
func NewDocuments(r *Reports, letterhead LetterheadFunc) *Documents {
	return &Documents{reports: r, letterhead: letterhead, compress: true}
}

// trendMonths is how many months the trend chart shows, the report's last.
const trendMonths = 6

// severities in the order a report lists them.
var severities = []string{alerts.SeverityCritical, alerts.SeverityWarning, alerts.SeverityInfo}

// reportDoc is everything one PDF shows.
type reportDoc struct {
	Head      Letterhead
	Report    Report
	Targets   map[string]policies.SLATarget
	Trend     []trendPoint
	Current   bool      // the month under way: "so far"
	Generated time.Time // when it was made
}

// trendPoint is one month of the trend chart.
type trendPoint struct {
	Month                time.Time
	Response, Resolution Outcome
}

// build gathers the report of month, its targets, the trend of the six
// months ending with it, and the client's letterhead. The month under way
// is Current (overdue alerts of earlier months count as missed), as on the
// pages; earlier months are the plain monthly report.
func (d *Documents) build(ctx context.Context, t tenancy.Tenant, month time.Time) (reportDoc, error) {
	r := d.reports
	now := r.now()
	doc := reportDoc{Generated: now}
	var err error
	if doc.Head, err = d.letterhead(ctx, t); err != nil {
		return reportDoc{}, fmt.Errorf("reading the client's letterhead: %w", err)
	}
	if doc.Head.Zone == nil {
		doc.Head.Zone = time.UTC
	}
	doc.Current = month.UTC().Format("2006-01") == now.UTC().Format("2006-01")
	if doc.Current {
		doc.Report, err = r.Current(ctx, t, month)
	} else {
		doc.Report, err = r.Month(ctx, t, month)
	}
	if err != nil || doc.Report.Origin == "" {
		return doc, err
	}
	eff, err := r.policies.Effective(ctx, t)
	if err != nil {
		return reportDoc{}, err
	}
	sla, _, _ := eff.SLA()
	doc.Targets = sla.Targets
	for i := trendMonths - 1; i > 0; i-- {
		m, err := r.Month(ctx, t, doc.Report.Month.AddDate(0, -i, 0))
		if err != nil {
			return reportDoc{}, err
		}
		doc.Trend = append(doc.Trend, trendPoint{Month: m.Month, Response: m.Response, Resolution: m.Resolution})
	}
	doc.Trend = append(doc.Trend, trendPoint{Month: doc.Report.Month, Response: doc.Report.Response, Resolution: doc.Report.Resolution})
	return doc, nil
}

// PDF renders the client's report of the month containing month.
func (d *Documents) PDF(ctx context.Context, t tenancy.Tenant, month time.Time) ([]byte, error) {
	doc, err := d.build(ctx, t, month)
	if err != nil {
		return nil, err
	}
	return renderPDF(doc, d.compress)
}

// Page geometry, in millimetres (A4 portrait).
const (
	pageW, margin = 210.0, 15.0
	contentW      = pageW - 2*margin
	pageBottom    = 297.0 - 20
)

// pen draws one document: fpdf with the client's colours and a translator
// from UTF-8 to the core fonts' code page.
type pen struct {
	*fpdf.Fpdf
	tr              func(string) string
	primary, accent [3]int
}

var (
	ink   = [3]int{33, 37, 41}
	muted = [3]int{108, 117, 125}
	rule  = [3]int{222, 226, 230}
	miss  = [3]int{176, 32, 32} // breaches: red whatever the brand
)

func (p *pen) color(c [3]int)                  { p.SetTextColor(c[0], c[1], c[2]) }
func (p *pen) fill(c [3]int)                   { p.SetFillColor(c[0], c[1], c[2]) }
func (p *pen) stroke(c [3]int)                 { p.SetDrawColor(c[0], c[1], c[2]) }
func (p *pen) font(style string, size float64) { p.SetFont("Helvetica", style, size) }

// text writes s in a cell of width w (0: to the right margin).
func (p *pen) text(w, h float64, s, align string) {
	p.CellFormat(w, h, p.tr(s), "", 0, align, false, 0, "")
}

// fit shortens s with "…" until it fits in w at the current font.
func (p *pen) fit(s string, w float64) string {
	if p.GetStringWidth(p.tr(s)) <= w {
		return s
	}
	r := []rune(s)
	for len(r) > 0 && p.GetStringWidth(p.tr(string(r)+"…")) > w {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// renderPDF draws doc: the summary page (targets, shares met, the trend),
// then the breaches. Every page's footer names the client and the month.
func renderPDF(doc reportDoc, compress bool) ([]byte, error) {
	f := fpdf.New("P", "mm", "A4", "")
	p := &pen{Fpdf: f, tr: cleanText(f.UnicodeTranslatorFromDescriptor("")),
		primary: rgb(doc.Head.Primary, ink), accent: rgb(doc.Head.Accent, muted)}
	monthName := doc.Report.Month.Format("January 2006")
	title := doc.Head.Name + " · Service level report · " + monthName
	f.SetCompression(compress)
	f.SetTitle(title, true)
	f.SetAuthor(doc.Head.Name, true)
	f.SetCreator(doc.Head.Name, true)
	f.SetProducer(doc.Head.Name, true)
	f.SetCreationDate(doc.Generated)
	f.SetModificationDate(doc.Generated)
	f.SetMargins(margin, margin, margin)
	f.SetAutoPageBreak(false, 0)
	f.AliasNbPages("{nb}")
	f.SetFooterFunc(func() {
		f.SetY(-13)
		p.font("", 8)
		p.color(muted)
		p.text(0, 5, doc.Head.Name+" · Service level report · "+monthName+" · page "+fmt.Sprint(f.PageNo())+" of {nb}", "C")
	})

	f.AddPage()
	letterhead(p, doc)
	if doc.Report.Origin == "" {
		p.font("", 11)
		p.color(ink)
		p.text(0, 8, "No service levels are agreed, so there is nothing to measure.", "L")
		return output(f)
	}
	summary(p, doc)
	f.Ln(4)
	targetTable(p, doc)
	f.Ln(6)
	trendChart(p, doc)
	f.AddPage()
	breachTable(p, doc)
	return output(f)
}

func output(f *fpdf.Fpdf) ([]byte, error) {
	var b bytes.Buffer
	if err := f.Output(&b); err != nil {
		return nil, fmt.Errorf("rendering the report PDF: %w", err)
	}
	return b.Bytes(), nil
}

// letterhead draws the client's logo (or its name in its colour), the
// report's title and month, and a rule in the primary colour.
func letterhead(p *pen, doc reportDoc) {
	top := margin
	drawn := false
	if typ := imageType(doc.Head.LogoType); typ != "" && usableImage(doc.Head.Logo, typ) {
		info := p.RegisterImageOptionsReader("logo", fpdf.ImageOptions{ImageType: typ}, bytes.NewReader(doc.Head.Logo))
		if p.Ok() && info != nil && info.Height() > 0 {
			// Fit in 60 × 18 mm, keeping the aspect ratio.
			w, h := 60.0, 60.0*info.Height()/info.Width()
			if h > 18 {
				w, h = 18*info.Width()/info.Height(), 18
			}
			p.ImageOptions("logo", margin, top, w, h, false, fpdf.ImageOptions{ImageType: typ}, 0, "")
			drawn = true
		}
	}
	if !drawn {
		// No logo, or an SVG, which fpdf cannot embed: the name in the client's colour.
		p.SetXY(margin, top+2)
		p.font("B", 18)
		p.color(p.primary)
		p.text(110, 10, p.fit(doc.Head.Name, 110), "L")
	}
	p.SetXY(pageW-margin-70, top)
	p.font("", 10)
	p.color(muted)
	p.text(70, 6, "Service level report", "R")
	p.SetXY(pageW-margin-70, top+6)
	p.font("B", 16)
	p.color(p.primary)
	p.text(70, 9, doc.Report.Month.Format("January 2006"), "R")
	p.fill(p.primary)
	p.Rect(margin, top+21, contentW, 1.2, "F")
	p.SetXY(margin, top+26)
	p.font("B", 16)
	p.color(ink)
	p.text(0, 8, p.fit(doc.Head.Name, contentW), "L")
	p.Ln(8)
}

// summary says what was measured, in words, and shows both shares met as
// large figures with a bar each.
func summary(p *pen, doc reportDoc) {
	rep := doc.Report
	monthName := rep.Month.Format("January 2006")
	opened := "opened in " + monthName
	if doc.Current {
		opened = "opened so far in " + monthName
	}
	p.font("", 10)
	p.color(muted)
	zone := doc.Head.Zone.String()
	lines := []string{
		humane.Plural(rep.Alerts, "alert", "alerts") + " " + opened + ", each measured against the agreed targets in business time.",
		"Prepared " + doc.Head.Locale.At(doc.Generated, doc.Head.Zone) + "; times are shown in " + zone + ".",
	}
	if len(rep.Carried) > 0 {
		lines = append(lines, humane.Plural(len(rep.Carried), "alert", "alerts")+" opened earlier and still open past target "+
			"count as missed this month.")
	}
	for _, l := range lines {
		p.SetX(margin)
		p.MultiCell(contentW, 5, p.tr(l), "", "L", false)
	}
	p.Ln(3)
	y := p.GetY()
	w := (contentW - 6) / 2
	for i, c := range []struct {
		name, label string
		o           Outcome
		color       [3]int
	}{{"Response", "acknowledged in time", rep.Response, p.primary}, {"Resolution", "resolved in time", rep.Resolution, p.accent}} {
		x := margin + float64(i)*(w+6)
		p.stroke(rule)
		p.SetLineWidth(0.3)
		p.Rect(x, y, w, 30, "D")
		p.SetXY(x+4, y+3)
		p.font("B", 10)
		p.color(ink)
		p.text(w-8, 5, c.name, "L")
		p.SetXY(x+4, y+9)
		p.font("B", 20)
		p.color(c.color)
		if c.o.Measured() {
			p.text(28, 9, doc.Head.Locale.Percent(c.o.Percent(), 0), "L")
		} else {
			p.text(28, 9, humane.None, "L")
		}
		p.font("", 9)
		p.color(muted)
		detail := c.label + ": " + fmt.Sprintf("%d of %d", c.o.Met, c.o.Decided)
		if !c.o.Measured() {
			detail = "no alert decided in this month"
		}
		p.text(w-36, 9, p.fit(detail, w-36), "L")
		p.fill(rule)
		p.Rect(x+4, y+21, w-8, 3, "F")
		if c.o.Measured() {
			p.fill(c.color)
			p.Rect(x+4, y+21, (w-8)*c.o.Percent()/100, 3, "F")
		}
	}
	p.SetXY(margin, y+30)
}

// heading starts a section: its name in the primary colour over a thin rule.
func heading(p *pen, name string) {
	p.SetX(margin)
	p.font("B", 12)
	p.color(p.primary)
	p.text(0, 7, name, "L")
	p.Ln(7)
	p.stroke(rule)
	p.SetLineWidth(0.3)
	p.Line(margin, p.GetY(), pageW-margin, p.GetY())
	p.Ln(1.5)
}

// targetTable lists, per severity, the targets and the share of alerts
// that met each.
func targetTable(p *pen, doc reportDoc) {
	heading(p, "Targets and results by severity")
	cols := []float64{24, 14, 32, 40, 30, 40}
	head := []string{"Severity", "Alerts", "Acknowledge within", "Acknowledged in time", "Resolve within", "Resolved in time"}
	row := func(cells []string, style string, colors [][3]int) {
		p.SetX(margin)
		p.font(style, 9)
		for i, c := range cells {
			p.color(colors[i])
			align := "R"
			if i == 0 {
				align = "L"
			}
			p.text(cols[i], 6.5, p.fit(c, cols[i]-1), align)
		}
		p.Ln(6.5)
	}
	same := func(c [3]int) [][3]int { return [][3]int{c, c, c, c, c, c} }
	row(head, "B", same(muted))
	by := bySeverity(doc.Report)
	lc := doc.Head.Locale
	share := func(o Outcome) string {
		if !o.Measured() {
			return humane.None
		}
		return fmt.Sprintf("%s (%d of %d)", lc.Percent(o.Percent(), 0), o.Met, o.Decided)
	}
	for _, sev := range severities {
		target, ok := doc.Targets[sev]
		if !ok {
			continue
		}
		s := by[sev]
		row([]string{humane.Capital(sev), fmt.Sprint(s.alerts), humane.Duration(target.Acknowledge), share(s.response),
			humane.Duration(target.Resolve), share(s.resolution)}, "", same(ink))
	}
	p.stroke(rule)
	p.Line(margin, p.GetY(), pageW-margin, p.GetY())
	rep := doc.Report
	row([]string{"All", fmt.Sprint(rep.Alerts), "", share(rep.Response), "", share(rep.Resolution)}, "B", same(ink))
}

// severityShare is one severity's alerts and outcomes in a report.
type severityShare struct {
	alerts               int
	response, resolution Outcome
}

// bySeverity splits the report's outcomes by severity with the report's
// own rules (tally): a clock is decided when stopped or past its target.
// Alerts carried from earlier months count on the clocks they missed, as
// Current counts them in the totals.
func bySeverity(rep Report) map[string]severityShare {
	out := map[string]severityShare{}
	var ignored []time.Duration
	for _, row := range rep.Rows {
		s := out[row.Alert.Severity]
		s.alerts++
		tally(&s.response, row.Response, &ignored)
		tally(&s.resolution, row.Resolution, &ignored)
		out[row.Alert.Severity] = s
	}
	for _, row := range rep.Carried {
		s := out[row.Alert.Severity]
		if row.Response.Breached {
			s.response.Decided++
		}
		if row.Resolution.Breached {
			s.resolution.Decided++
		}
		out[row.Alert.Severity] = s
	}
	return out
}

// maxBreachRows bounds the breaches listed; the CSV export has every alert.
const maxBreachRows = 400

// breachTable lists the alerts that missed a target, by how much, over as
// many pages as they need.
func breachTable(p *pen, doc reportDoc) {
	rep := doc.Report
	heading(p, "Breaches")
	rows := append(append([]Row(nil), rep.Breaches...), rep.Carried...)
	if len(rows) == 0 {
		p.font("", 10)
		p.color(ink)
		when := "in " + rep.Month.Format("January 2006")
		if doc.Current {
			when = "so far in " + rep.Month.Format("January 2006")
		}
		p.text(0, 8, "No alert missed a target "+when+".", "L")
		return
	}
	p.font("", 9)
	p.color(muted)
	p.SetX(margin)
	p.MultiCell(contentW, 4.5, p.tr("Each alert that missed its response or resolution target, with the time it took in business "+
		"hours and how far past the target that was."), "", "L", false)
	p.Ln(2)
	cols := []float64{62, 18, 30, 35, 35}
	header := func() {
		p.SetX(margin)
		p.font("B", 9)
		p.color(muted)
		for i, h := range []string{"Alert", "Severity", "Opened", "Response", "Resolution"} {
			p.text(cols[i], 6, h, "L")
		}
		p.Ln(6)
	}
	header()
	for i, row := range rows {
		if i == maxBreachRows {
			p.SetX(margin)
			p.font("", 9)
			p.color(muted)
			p.text(0, 6, fmt.Sprintf("… and %d more; the CSV export lists every alert.", len(rows)-maxBreachRows), "L")
			return
		}
		if p.GetY()+10 > pageBottom {
			p.AddPage()
			heading(p, "Breaches (continued)")
			header()
		}
		y := p.GetY()
		p.stroke(rule)
		p.Line(margin, y, pageW-margin, y)
		title := row.Alert.Summary
		if title == "" {
			title = row.Alert.Rule
		}
		sub := fmt.Sprintf("#%d", row.Alert.ID)
		if row.Alert.Endpoint != "" {
			sub += " · " + row.Alert.Endpoint
		}
		opened := doc.Head.Locale.At(row.Alert.FirstSeenAt, doc.Head.Zone)
		date, clock, _ := strings.Cut(opened, " ")
		cells := [][2]string{{title, sub}, {humane.Capital(row.Alert.Severity), ""}, {date, clock},
			clockCell(row.Response), clockCell(row.Resolution)}
		x := margin
		for c, cell := range cells {
			p.SetXY(x, y+0.5)
			p.font("", 9)
			p.color(ink)
			if c >= 3 && strings.HasPrefix(cell[1], "over by") {
				p.color(miss)
			}
			p.text(cols[c], 4.5, p.fit(cell[0], cols[c]-2), "L")
			p.SetXY(x, y+5)
			p.font("", 8)
			p.color(muted)
			if c >= 3 && strings.HasPrefix(cell[1], "over by") {
				p.color(miss)
			}
			p.text(cols[c], 4.5, p.fit(cell[1], cols[c]-2), "L")
			x += cols[c]
		}
		p.SetXY(margin, y+10)
	}
}

// clockCell is one clock of a breach row: the business time used against
// the target, and by how much it missed.
func clockCell(c Clock) [2]string {
	used := humane.Duration(c.Used) + " of " + humane.Duration(c.Target)
	switch {
	case c.Breached:
		return [2]string{used, "over by " + humane.Duration(c.Used-c.Target)}
	case c.Stopped:
		return [2]string{used, "met"}
	default:
		return [2]string{used, "running"}
	}
}

// imageType is fpdf's name for a logo's type; "" for one it cannot embed (SVG).
func imageType(contentType string) string {
	switch contentType {
	case "image/png":
		return "PNG"
	case "image/jpeg":
		return "JPG"
	}
	return ""
}

// usableImage reports whether fpdf can embed the image (it refuses, for
// example, interlaced PNGs), trying it on a scratch document: an image
// error would otherwise spoil the whole report.
func usableImage(b []byte, typ string) bool {
	if len(b) == 0 {
		return false
	}
	scratch := fpdf.New("P", "mm", "A4", "")
	scratch.RegisterImageOptionsReader("probe", fpdf.ImageOptions{ImageType: typ}, bytes.NewReader(b))
	return scratch.Ok()
}

// rgb parses "#rrggbb"; anything else is def.
func rgb(hex string, def [3]int) [3]int {
	var c [3]int
	if len(hex) != 7 || hex[0] != '#' {
		return def
	}
	if _, err := fmt.Sscanf(hex[1:], "%02x%02x%02x", &c[0], &c[1], &c[2]); err != nil {
		return def
	}
	return c
}

// cleanText wraps the code page translator: control characters become
// spaces and the narrow no-break space (French numbers), which the code
// page lacks, a no-break space.
func cleanText(tr func(string) string) func(string) string {
	return func(s string) string {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == '\u202f':
				return '\u00a0'
			case r < 0x20 || r == 0x7f:
				return ' '
			}
			return r
		}, s)
		return tr(s)
	}
}
