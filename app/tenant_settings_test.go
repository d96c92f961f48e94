package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"switchboard/modules/branding"
	"switchboard/modules/identity"
)

// TestClientSettingsTakeEffect: staff change a client's settings on the
// console; a refused change comes back as entered with a 422 and changes
// nothing; a saved one shows on the client's portal at its next page (the
// portal had read the old settings just before), with the display name, the
// time zone and the locale's date format; the branding's own display name,
// once set, wins over the setting.
func TestClientSettingsTakeEffect(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	p := seedPortalTenant(t, e, "cs")
	slug := p.tenant.Slug
	owner := signedInOwner(t, e, ts.URL, "owner-"+slug+"@msp.example")
	portal := newHostClient(t, ts.URL, p.host)
	if status := portal.login(p.user, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("portal login: %d", status)
	}
	status, home := portal.get("/")
	if status != http.StatusOK || !strings.Contains(home, p.tenant.Name) || !regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`).MatchString(home) {
		t.Fatalf("portal home before = %d, want the tenant's name and ISO times in UTC:\n%s", status, home)
	}

	status, page := owner.get("/t/" + slug + "/settings")
	if status != http.StatusOK || !strings.Contains(page, `name="timezone" value="UTC"`) || !strings.Contains(page, `<option value="de-DE"`) {
		t.Fatalf("settings page = %d:\n%s", status, page)
	}

	// Refused: the form comes back as entered, each bad field marked, 422.
	status, page, _ = owner.do(http.MethodPost, "/t/"+slug+"/settings", url.Values{
		"display_name": {"Zephyr Clinics"}, "timezone": {"Europe/Atlantis"}, "locale": {"tlh-KX"}})
	if status != http.StatusUnprocessableEntity {
		t.Fatalf("bad settings = %d, want 422:\n%s", status, page)
	}
	for _, want := range []string{`value="Zephyr Clinics"`, `value="Europe/Atlantis"`, `aria-invalid="true"`,
		"is not an IANA time zone name", "is not supported", `id="timezone-error"`, `id="locale-error"`} {
		if !strings.Contains(page, want) {
			t.Errorf("refused form does not contain %q", want)
		}
	}
	if strings.Contains(page, `id="display-name-error"`) {
		t.Error("the good display name is marked as an error")
	}
	if cs, err := e.tenants.SettingsNow(ctx, p.tenant); err != nil || cs.DisplayName != p.tenant.Name || cs.TimeZone != "UTC" {
		t.Fatalf("settings after a refused change = %+v, %v; want them untouched", cs, err)
	}

	status, _, hdr := owner.do(http.MethodPost, "/t/"+slug+"/settings", url.Values{
		"display_name": {"Zephyr Clinics"}, "timezone": {"Europe/Berlin"}, "locale": {"de-DE"}})
	if status != http.StatusSeeOther || hdr.Get("Location") != "/t/"+slug+"/settings" {
		t.Fatalf("saving settings = %d to %q, want 303 to the page", status, hdr.Get("Location"))
	}
	if _, page := owner.get("/t/" + slug + "/settings"); !strings.Contains(page, "Settings saved") || !strings.Contains(page, `value="Europe/Berlin"`) {
		t.Errorf("page after saving lacks the notice or the new zone:\n%s", page)
	}

	// The portal, at once: name, zone (CET/CEST) and German dates.
	_, home = portal.get("/")
	if !strings.Contains(home, "Zephyr Clinics") {
		t.Errorf("portal home does not show the new display name:\n%s", home)
	}
	if !regexp.MustCompile(`\d{2}\.\d{2}\.\d{4} \d{2}:\d{2} CES?T`).MatchString(home) {
		t.Errorf("portal home shows no time as dd.mm.yyyy hh:mm CET:\n%s", home)
	}
	if regexp.MustCompile(`\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC`).MatchString(home) {
		t.Error("portal home still shows ISO times in UTC")
	}
	var n int
	if err := adminConn(t).QueryRow(ctx, `SELECT count(*) FROM tenant_`+itoa(p.tenant.ID)+`.audit_log WHERE action = 'settings.changed'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("settings.changed audit entries = %d (%v), want 1", n, err)
	}

	// One rule for the name: the branding's display name, once set, wins.
	if _, err := e.branding.Save(ctx, p.tenant, branding.Input{DisplayName: "Zephyr Health Portal"}); err != nil {
		t.Fatal(err)
	}
	if _, home = portal.get("/"); !strings.Contains(home, "Zephyr Health Portal") {
		t.Errorf("portal home does not show the branding's display name:\n%s", home)
	}

	// A technician of the client sees the settings, without a form.
	const pw = "tech-password-for-settings"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "tech-" + slug + "@msp.example", Role: "technician",
		Scope: "list", Tenants: []string{slug}, Password: pw}); err != nil {
		t.Fatal(err)
	}
	tech := newClient(t, ts.URL)
	if status := tech.login("tech-"+slug+"@msp.example", pw); status != http.StatusSeeOther {
		t.Fatalf("technician login: %d", status)
	}
	tech.waitAllowed("/t/" + slug + "/settings")
	if _, page := tech.get("/t/" + slug + "/settings"); !strings.Contains(page, "Europe/Berlin") || strings.Contains(page, `action="/t/`+slug+`/settings"`) {
		t.Errorf("technician's settings page should show the values and no form:\n%s", page)
	}
}

// TestTenantSettingsCLI: show, change, and refuse bad input with exit
// status 2 and a message, writing nothing.
func TestTenantSettingsCLI(t *testing.T) {
	const slug = "cli-settings"
	expect(t, cli(t, "tenant", "create", "--slug", slug, "--name", "CLI Settings"), 0)
	expect(t, cli(t, "tenant", "settings", slug), 0, "display name", "CLI Settings", "UTC", "en (International")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no flag", nil, "give at least one of --display-name, --timezone and --locale"},
		{"bad zone", []string{"--timezone", "Mars/Base"}, `time zone "Mars/Base" is not an IANA time zone name`},
		{"bad locale, good zone", []string{"--timezone", "Asia/Tokyo", "--locale", "es-ES"}, `locale "es-ES" is not supported`},
		{"empty name", []string{"--display-name", ""}, "display name must not be empty"},
		{"name too long", []string{"--display-name", strings.Repeat("x", 101)}, "at most 100 characters"},
		{"bad output", []string{"--locale", "en", "-o", "yaml"}, "--output must be table or json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cli(t, append([]string{"tenant", "set", slug}, tc.args...)...), 2, tc.want)
		})
	}
	expect(t, cli(t, "tenant", "set", "no-such-client", "--locale", "en-GB"), 2, "no-such-client")
	expect(t, cli(t, "tenant", "settings", slug), 0, "UTC", "en (International") // nothing of the above was written

	r := cli(t, "tenant", "set", slug, "--timezone", "Asia/Tokyo", "--locale", "fr-FR", "-o", "json")
	expect(t, r, 0)
	var got struct {
		DisplayName string `json:"display_name"`
		TimeZone    string `json:"timezone"`
		Locale      string `json:"locale"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.TimeZone != "Asia/Tokyo" || got.Locale != "fr-FR" || got.DisplayName != "CLI Settings" {
		t.Fatalf("tenant set -o json = %+v (%v):\n%s", got, err, r.stdout)
	}
	expect(t, cli(t, "tenant", "set", slug, "--locale", "fr-FR"), 0, "nothing changed")
	expect(t, cli(t, "tenant", "settings", slug), 0, "Asia/Tokyo", "fr-FR (French")
}
