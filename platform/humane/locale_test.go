package humane

import (
	"math"
	"testing"
	"time"
)

func TestLocaleAt(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 3, 19, 26, 0, 0, time.UTC) // 14:26 in New York, 20:26 in Berlin
	cases := []struct {
		tag  string
		loc  *time.Location
		want string
	}{
		{"en", ny, "2026-12-03 14:26 EST"},
		{"en-US", ny, "12/3/2026 2:26 PM EST"},
		{"en-GB", time.UTC, "03/12/2026 19:26 UTC"},
		{"de-DE", berlin, "03.12.2026 20:26 CET"},
		{"fr-FR", berlin, "03/12/2026 20:26 CET"},
		{"nl-NL", berlin, "03-12-2026 20:26 CET"},
		{"xx-XX", ny, "2026-12-03 14:26 EST"}, // unknown: the default, never an error
		{"", nil, "2026-12-03 19:26 UTC"},
	}
	for _, c := range cases {
		t.Run(c.tag, func(t *testing.T) {
			if got := LocaleFor(c.tag).At(at, c.loc); got != c.want {
				t.Errorf("At = %q, want %q", got, c.want)
			}
			if got := LocaleFor(c.tag).At(time.Time{}, c.loc); got != None {
				t.Errorf("At(zero) = %q, want None", got)
			}
		})
	}
	// The default locale writes exactly what At always wrote.
	if got, want := LocaleFor(DefaultLocale).At(at, ny), At(at, ny); got != want {
		t.Errorf("default locale At = %q, At = %q", got, want)
	}
	if got, want := (Locale{}).At(at, ny), At(at, ny); got != want {
		t.Errorf("zero Locale At = %q, want %q", got, want)
	}
}

func TestLocaleNumber(t *testing.T) {
	cases := []struct {
		tag      string
		v        float64
		decimals int
		want     string
		percent  string
	}{
		{"en", 1234.5, 1, "1,234.5", "1,234.5%"},
		{"en-US", 1234567, 0, "1,234,567", "1,234,567%"},
		{"de-DE", 1234.5, 1, "1.234,5", "1.234,5\u00a0%"},
		{"fr-FR", 1234.5, 1, "1\u202f234,5", "1\u202f234,5\u202f%"},
		{"nl-NL", 97.5, 1, "97,5", "97,5%"},
		{"en-GB", 999, 0, "999", "999%"},
		{"de-DE", -1234.56, 2, "-1.234,56", "-1.234,56\u00a0%"},
		{"en", -0.01, 1, "0.0", "0.0%"}, // rounds to nothing: no minus sign
		{"en", 75, 0, "75", "75%"},
	}
	for _, c := range cases {
		t.Run(c.tag+" "+c.want, func(t *testing.T) {
			l := LocaleFor(c.tag)
			if got := l.Number(c.v, c.decimals); got != c.want {
				t.Errorf("Number(%v, %d) = %q, want %q", c.v, c.decimals, got, c.want)
			}
			if got := l.Percent(c.v, c.decimals); got != c.percent {
				t.Errorf("Percent(%v, %d) = %q, want %q", c.v, c.decimals, got, c.percent)
			}
		})
	}
	if got := LocaleFor("en").Number(math.NaN(), 1); got != None {
		t.Errorf("Number(NaN) = %q, want None", got)
	}
}

func TestValidLocale(t *testing.T) {
	for tag, want := range map[string]bool{
		"en": true, "en-US": true, "en-GB": true, "de-DE": true, "fr-FR": true, "nl-NL": true,
		"": false, "de": false, "en-us": false, " en-US": false, "es-ES": false,
	} {
		if got := ValidLocale(tag); got != want {
			t.Errorf("ValidLocale(%q) = %v, want %v", tag, got, want)
		}
	}
	if ls := Locales(); len(ls) == 0 || ls[0].Tag != DefaultLocale {
		t.Errorf("Locales() = %v, want the default first", ls)
	}
}

func TestLocaleStamps(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	got := LocaleFor("de-DE").Stamps("silenced until 2026-12-03T19:26:00Z by ops", berlin)
	if want := "silenced until 03.12.2026 20:26 CET by ops"; got != want {
		t.Errorf("Stamps = %q, want %q", got, want)
	}
}
