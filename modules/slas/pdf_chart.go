package slas

import "fmt"

// trendChart draws the last six months as paired bars, the share of alerts
// acknowledged in time (primary colour) and resolved in time (accent), on
// a 0–100 % scale with gridlines. A month that decided no alert has no bar
// but a dash: an empty month is not a perfect one.
func trendChart(p *pen, doc reportDoc) {
	heading(p, "Trend over the last six months")
	const height, axisW, labelH = 58.0, 12.0, 10.0
	top := p.GetY() + 4
	left := margin + axisW
	width := contentW - axisW
	base := top + height
	y := func(pct float64) float64 { return base - height*pct/100 }

	p.font("", 7)
	p.SetLineWidth(0.2)
	for _, pct := range []float64{0, 25, 50, 75, 100} {
		p.stroke(rule)
		p.Line(left, y(pct), left+width, y(pct))
		p.color(muted)
		p.SetXY(margin, y(pct)-2)
		p.text(axisW-2, 4, fmt.Sprintf("%.0f%%", pct), "R")
	}
	n := len(doc.Trend)
	if n == 0 {
		return
	}
	slot := width / float64(n)
	barW := slot * 0.28
	for i, m := range doc.Trend {
		x := left + float64(i)*slot + (slot-2*barW-1)/2
		for j, b := range []struct {
			o     Outcome
			color [3]int
		}{{m.Response, p.primary}, {m.Resolution, p.accent}} {
			bx := x + float64(j)*(barW+1)
			p.font("", 7)
			if !b.o.Measured() {
				p.color(muted)
				p.SetXY(bx, base-5)
				p.text(barW, 4, "—", "C")
				continue
			}
			p.fill(b.color)
			h := height * b.o.Percent() / 100
			p.Rect(bx, base-h, barW, h, "F")
			p.color(ink)
			p.SetXY(bx-2, base-h-4.5)
			p.text(barW+4, 4, doc.Head.Locale.Percent(b.o.Percent(), 0), "C")
		}
		p.font("", 8)
		p.color(ink)
		p.SetXY(left+float64(i)*slot, base+1.5)
		p.text(slot, 4, m.Month.Format("Jan 2006"), "C")
	}
	// Legend.
	ly := base + labelH
	lx := left
	for _, l := range []struct {
		name  string
		color [3]int
	}{{"Acknowledged in time", p.primary}, {"Resolved in time", p.accent}} {
		p.fill(l.color)
		p.Rect(lx, ly+1, 3, 3, "F")
		p.SetXY(lx+4, ly)
		p.font("", 8)
		p.color(muted)
		p.text(40, 5, l.name, "L")
		lx += 45
	}
	p.SetXY(lx, ly)
	p.text(0, 5, "— no alert decided in the month", "L")
	p.SetXY(margin, ly+6)
}
