package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"switchboard/db"
	"switchboard/platform/fault"
)

func ptr(s string) *string { return &s }

// TestSaveSettingsRefuses: every bad field is named at once, the error is
// the user's to fix (fault.Invalid), and nothing is written, not even the
// good fields of the same change.
func TestSaveSettingsRefuses(t *testing.T) {
	ctx := context.Background()
	s, _ := openService(t, db.Tenant())
	slug := uniqueSlug("settings")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Settings Co"})
	if err != nil {
		t.Fatal(err)
	}
	scope := s.Scope(tn)
	for _, tc := range []struct {
		name string
		in   SettingsInput
		bad  []string // keys of the refused fields
		want string   // in the message
	}{
		{"empty name", SettingsInput{DisplayName: ptr("   ")}, []string{"display_name"}, "must not be empty"},
		{"name too long", SettingsInput{DisplayName: ptr(strings.Repeat("é", 101))}, []string{"display_name"}, "at most 100 characters, not 101"},
		{"control character", SettingsInput{DisplayName: ptr("Acme\x00Health")}, []string{"display_name"}, "printable"},
		{"line break", SettingsInput{DisplayName: ptr("Acme\nHealth")}, []string{"display_name"}, "printable"},
		{"bad UTF-8", SettingsInput{DisplayName: ptr("Acme \xff")}, []string{"display_name"}, "UTF-8"},
		{"unknown zone", SettingsInput{TimeZone: ptr("Mars/Olympus_Mons")}, []string{"timezone"}, `"Mars/Olympus_Mons" is not an IANA time zone`},
		{"server's Local zone", SettingsInput{TimeZone: ptr("Local")}, []string{"timezone"}, "IANA"},
		{"empty zone", SettingsInput{TimeZone: ptr("")}, []string{"timezone"}, "IANA"},
		{"path in zone", SettingsInput{TimeZone: ptr("../../etc/passwd")}, []string{"timezone"}, "IANA"},
		{"unsupported locale", SettingsInput{Locale: ptr("es-ES")}, []string{"locale"}, "en, en-US, en-GB, de-DE, fr-FR, nl-NL"},
		{"lower-case locale", SettingsInput{Locale: ptr("de-de")}, []string{"locale"}, "not supported"},
		{"all three, good name kept out", SettingsInput{DisplayName: ptr(""), TimeZone: ptr("Nowhere"), Locale: ptr("xx")},
			[]string{"display_name", "locale", "timezone"}, "display name must not be empty; locale"},
		{"one bad among good", SettingsInput{DisplayName: ptr("New Name"), TimeZone: ptr("Europe/Berlin"), Locale: ptr("klingon")},
			[]string{"locale"}, "klingon"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.SaveSettings(ctx, scope, tc.in)
			var bad SettingsErrors
			if !errors.As(err, &bad) || !errors.Is(err, fault.Invalid) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("SaveSettings = %v, want SettingsErrors (invalid)", err)
			}
			if len(bad) != len(tc.bad) {
				t.Errorf("refused %v, want %v", bad, tc.bad)
			}
			for _, k := range tc.bad {
				if bad[k] == "" {
					t.Errorf("field %s not refused: %v", k, bad)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not say %q", err, tc.want)
			}
			got, err := s.SettingsNow(ctx, scope)
			if err != nil {
				t.Fatal(err)
			}
			if got.DisplayName != "Settings Co" || got.TimeZone != "UTC" || got.Locale != "en" {
				t.Errorf("settings after a refused change = %+v, want the defaults untouched", got)
			}
		})
	}
	var n int
	if err := admin(t, `SELECT count(*) FROM `+tn.SchemaName+`.audit_log WHERE action = 'settings.changed'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d settings.changed audit entries after refused changes, want 0", n)
	}
}

// TestSaveSettings: a change is written, audited with before and after,
// shown at once by the cached reader of this process; a repeat changes
// nothing and writes no audit entry; nil fields are kept.
func TestSaveSettings(t *testing.T) {
	ctx := context.Background()
	s, _ := openService(t, db.Tenant())
	slug := uniqueSlug("settings")
	tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Settings Co"})
	if err != nil {
		t.Fatal(err)
	}
	scope := s.Scope(tn)
	before, err := s.ClientSettings(ctx, scope) // now cached
	if err != nil || before.DisplayName != "Settings Co" || before.TimeZone != "UTC" || before.Locale != "en" {
		t.Fatalf("defaults = %+v, %v", before, err)
	}
	steps := []struct {
		name    string
		in      SettingsInput
		want    ClientSettings
		changed bool
		audits  int
	}{
		{"all three, trimmed", SettingsInput{DisplayName: ptr("  Settings & Sons  "), TimeZone: ptr("Europe/Berlin"), Locale: ptr("de-DE")},
			ClientSettings{DisplayName: "Settings & Sons", TimeZone: "Europe/Berlin", Locale: "de-DE"}, true, 1},
		{"the same again", SettingsInput{DisplayName: ptr("Settings & Sons"), TimeZone: ptr("Europe/Berlin"), Locale: ptr("de-DE")},
			ClientSettings{DisplayName: "Settings & Sons", TimeZone: "Europe/Berlin", Locale: "de-DE"}, false, 1},
		{"only the zone", SettingsInput{TimeZone: ptr("America/New_York")},
			ClientSettings{DisplayName: "Settings & Sons", TimeZone: "America/New_York", Locale: "de-DE"}, true, 2},
	}
	for _, st := range steps {
		saved, changed, err := s.SaveSettings(ctx, scope, st.in)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if changed != st.changed || saved.DisplayName != st.want.DisplayName || saved.TimeZone != st.want.TimeZone || saved.Locale != st.want.Locale {
			t.Errorf("%s: saved %+v changed %v, want %+v changed %v", st.name, saved, changed, st.want, st.changed)
		}
		cached, err := s.ClientSettings(ctx, scope)
		if err != nil || cached.DisplayName != st.want.DisplayName || cached.TimeZone != st.want.TimeZone || cached.Locale != st.want.Locale {
			t.Errorf("%s: the cached reader shows %+v (%v) right after the save, want %+v", st.name, cached, err, st.want)
		}
		var n int
		if err := admin(t, `SELECT count(*) FROM `+tn.SchemaName+`.audit_log WHERE action = 'settings.changed'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != st.audits {
			t.Errorf("%s: %d audit entries, want %d", st.name, n, st.audits)
		}
	}
	var summary string
	if err := admin(t, `SELECT summary FROM `+tn.SchemaName+`.audit_log WHERE action = 'settings.changed' ORDER BY id LIMIT 1`).Scan(&summary); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"display name: Settings Co → Settings & Sons", "time zone: UTC → Europe/Berlin", "locale: en → de-DE"} {
		if !strings.Contains(summary, w) {
			t.Errorf("audit summary %q does not say %q", summary, w)
		}
	}
}

// A precondition sees the settings as they are inside the saving
// transaction: refusing saves nothing, and a second save sees the first's
// result (what the API's If-Match compares against).
func TestSaveSettingsPrecondition(t *testing.T) {
	ctx := context.Background()
	s, _ := openService(t, db.Tenant())
	tn, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("precond"), Name: "Precondition Co"})
	if err != nil {
		t.Fatal(err)
	}
	scope := s.Scope(tn)
	stale := errors.New("changed since read")
	if _, _, err := s.SaveSettings(ctx, scope, SettingsInput{DisplayName: ptr("First"),
		Precondition: func(cur ClientSettings) error {
			if cur.DisplayName != "Precondition Co" {
				t.Errorf("precondition saw %q", cur.DisplayName)
			}
			return nil
		}}); err != nil {
		t.Fatal(err)
	}
	_, _, err = s.SaveSettings(ctx, scope, SettingsInput{DisplayName: ptr("Second"), TimeZone: ptr("Europe/Berlin"),
		Precondition: func(cur ClientSettings) error {
			if cur.DisplayName != "First" {
				t.Errorf("the second save's precondition saw %q, want the first save's", cur.DisplayName)
			}
			return stale
		}})
	if !errors.Is(err, stale) {
		t.Fatalf("refused save: %v, want the precondition's error", err)
	}
	got, err := s.SettingsNow(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if got.DisplayName != "First" || got.TimeZone != "UTC" {
		t.Errorf("after a refused save: %q %q, want First UTC (nothing saved)", got.DisplayName, got.TimeZone)
	}
}
