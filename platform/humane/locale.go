package humane

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Locale is how one reader writes dates, times and numbers: the order of
// day, month and year, a 12- or 24-hour clock, and the separators of
// thousands and decimals. Only formats change: every word on a page stays
// English whatever the locale.
type Locale struct {
	Tag  string // the stored setting, a BCP 47 tag such as "de-DE"
	Name string // for a picker, with an example

	date    string // Go layout of a date
	clock   string // Go layout of a time of day
	group   string // between groups of three digits
	decimal string // before the fraction
	percent string // between a number and "%"
}

// DefaultLocale is the locale of a client that chose none, and of the
// console: ISO 8601 dates and a 24-hour clock, exactly what At writes.
const DefaultLocale = "en"

// Narrow no-break space, French's thousands separator and the space before
// "%" (a plain no-break space in German); both keep a number on one line.
const (
	nnbsp = "\u202f"
	nbsp  = "\u00a0"
)

// locales are the supported ones, the default first. A short list on
// purpose: each is checked by a test against the way its readers write.
var locales = []Locale{
	{Tag: DefaultLocale, Name: "International: 2026-12-03 14:26, 1,234.5", date: "2006-01-02", clock: "15:04", group: ",", decimal: "."},
	{Tag: "en-US", Name: "English (United States): 12/3/2026 2:26 PM, 1,234.5", date: "1/2/2006", clock: "3:04 PM", group: ",", decimal: "."},
	{Tag: "en-GB", Name: "English (United Kingdom): 03/12/2026 14:26, 1,234.5", date: "02/01/2006", clock: "15:04", group: ",", decimal: "."},
	{Tag: "de-DE", Name: "German (Germany): 03.12.2026 14:26, 1.234,5", date: "02.01.2006", clock: "15:04", group: ".", decimal: ",", percent: nbsp},
	{Tag: "fr-FR", Name: "French (France): 03/12/2026 14:26, 1 234,5", date: "02/01/2006", clock: "15:04", group: nnbsp, decimal: ",", percent: nnbsp},
	{Tag: "nl-NL", Name: "Dutch (Netherlands): 03-12-2026 14:26, 1.234,5", date: "02-01-2006", clock: "15:04", group: ".", decimal: ","},
}

// Locales lists the supported locales, the default first.
func Locales() []Locale { return append([]Locale(nil), locales...) }

// ValidLocale reports whether tag names a supported locale exactly.
func ValidLocale(tag string) bool {
	_, ok := lookupLocale(tag)
	return ok
}

// LocaleFor returns the locale tag names; an unknown or empty tag is the
// default, so a bad setting shows ISO dates rather than failing the page.
func LocaleFor(tag string) Locale {
	if l, ok := lookupLocale(tag); ok {
		return l
	}
	return locales[0]
}

func lookupLocale(tag string) (Locale, bool) {
	for _, l := range locales {
		if l.Tag == tag {
			return l, true
		}
	}
	return Locale{}, false
}

// At is At in this locale's date and clock: "03.12.2026 14:26 CET". The
// zone's abbreviation and the year are always shown, as in At.
func (l Locale) At(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return None
	}
	if loc == nil {
		loc = time.UTC
	}
	if l.date == "" {
		l = locales[0] // the zero Locale writes as the default
	}
	return t.In(loc).Format(l.date + " " + l.clock + " MST")
}

// Stamps is Stamps in this locale.
func (l Locale) Stamps(s string, loc *time.Location) string {
	return stamp.ReplaceAllStringFunc(s, func(m string) string {
		t, err := time.Parse(time.RFC3339Nano, m)
		if err != nil {
			return m
		}
		return l.At(t, loc)
	})
}

// Number writes v with decimals digits after the separator and grouped
// thousands: 1234.5 with 1 decimal is "1,234.5", "1.234,5" or "1 234,5".
// NaN and infinities, which no measurement should be, are None.
func (l Locale) Number(v float64, decimals int) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return None
	}
	if l.decimal == "" {
		l = locales[0]
	}
	s := strconv.FormatFloat(v, 'f', max(decimals, 0), 64)
	if strings.Trim(s, "-0.") == "" {
		s = strings.TrimPrefix(s, "-") // -0.01 rounded to "-0.0" is nothing, not a negative
	}
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(l.group)
		}
		b.WriteRune(r)
	}
	if frac != "" {
		b.WriteString(l.decimal)
		b.WriteString(frac)
	}
	return b.String()
}

// Percent writes v (already a percentage: 97.5, not 0.975) with decimals
// digits and the locale's spacing: "97.5%", "97,5 %".
func (l Locale) Percent(v float64, decimals int) string {
	n := l.Number(v, decimals)
	if n == None {
		return n
	}
	return n + l.percent + "%"
}
