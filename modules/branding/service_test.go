package branding_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"switchboard/modules/branding"
	"switchboard/platform/tenancy"
)

// TestDefaultBrand: a tenant that set nothing wears its own name and
// neutral, readable colours, and nothing names the platform.
func TestDefaultBrand(t *testing.T) {
	f := newFixture(t)
	tn, scope := f.tenant(t)
	b, err := f.svc.For(context.Background(), scope)
	if err != nil {
		t.Fatal(err)
	}
	want := branding.Brand{DisplayName: tn.Name, PrimaryColor: branding.DefaultPrimary, AccentColor: branding.DefaultAccent,
		SenderName: tn.Name, Default: true}
	if b != want {
		t.Fatalf("default brand %+v, want %+v", b, want)
	}
	if w := branding.ContrastWarnings(b.PrimaryColor, b.AccentColor); len(w) > 0 {
		t.Fatalf("the default colours fail WCAG AA: %q", w)
	}
	if strings.Contains(strings.ToLower(b.DisplayName+b.SenderName+b.SupportEmail), "switchboard") {
		t.Fatalf("the default brand names the platform: %+v", b)
	}
}

// TestSaveAndFor: what is saved is what For returns, defaults fill what was
// left empty, images get hashed portal URLs, and each change is audited.
func TestSaveAndFor(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tn, scope := f.tenant(t)
	logo := pngBytes(t, 20, 10)
	saved, err := f.svc.Save(ctx, scope, branding.Input{DisplayName: "  Acme Health  ", PrimaryColor: "#777777", AccentColor: "#0B5FFF",
		SupportEmail: "help@acme.example", SupportPhone: " +1  555 010 2000 ", Logo: logo, Favicon: []byte(cleanSVG)})
	if err != nil {
		t.Fatal(err)
	}
	if !saved.Changed || len(saved.Warnings) != 1 || !strings.Contains(saved.Warnings[0], "#777777") {
		t.Fatalf("saved %+v: want changed, one warning about the primary colour", saved)
	}
	logoAsset, _ := branding.CheckImage(branding.Logo, logo)
	favAsset, _ := branding.CheckImage(branding.Favicon, []byte(cleanSVG))
	want := branding.Brand{DisplayName: "Acme Health", PrimaryColor: "#777777", AccentColor: "#0b5fff",
		LogoURL: "/brand/" + logoAsset.SHA256 + ".png", FaviconURL: "/brand/" + favAsset.SHA256 + ".svg",
		SupportEmail: "help@acme.example", SupportPhone: "+1 555 010 2000", SenderName: "Acme Health"}
	b, err := f.svc.For(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if b != want || saved.Brand != want {
		t.Fatalf("For after save: %+v\nsaved: %+v\nwant:  %+v", b, saved.Brand, want)
	}
	if n := count(t, tn, "audit_log WHERE action = 'branding.updated'"); n != 1 {
		t.Fatalf("%d audit entries, want 1", n)
	}

	// Saving the same again changes nothing and audits nothing.
	again, err := f.svc.Save(ctx, scope, branding.Input{DisplayName: "Acme Health", PrimaryColor: "#777777", AccentColor: "#0b5fff",
		SupportEmail: "help@acme.example", SupportPhone: "+1 555 010 2000", Logo: logo})
	if err != nil || again.Changed {
		t.Fatalf("same input: changed=%v err=%v", again.Changed, err)
	}
	if n := count(t, tn, "audit_log WHERE action = 'branding.updated'"); n != 1 {
		t.Fatalf("%d audit entries after a no-op save, want 1", n)
	}

	// A new logo replaces the old one; the old bytes are gone. Removing the
	// favicon drops it too. Emptied fields return to the defaults.
	newLogo := pngBytes(t, 30, 10)
	if _, err := f.svc.Save(ctx, scope, branding.Input{Logo: newLogo, RemoveFavicon: true}); err != nil {
		t.Fatal(err)
	}
	newAsset, _ := branding.CheckImage(branding.Logo, newLogo)
	b, _ = f.svc.For(ctx, scope)
	if b.LogoURL != "/brand/"+newAsset.SHA256+".png" || b.FaviconURL != "" || b.DisplayName != tn.Name || b.PrimaryColor != branding.DefaultPrimary || b.Default {
		t.Fatalf("after replacing: %+v", b)
	}
	if n := count(t, tn, "brand_assets"); n != 1 {
		t.Fatalf("%d stored images, want 1 (the unused ones deleted)", n)
	}
	if _, err := f.svc.Asset(ctx, scope, logoAsset.File()); !errors.Is(err, branding.ErrNotFound) {
		t.Fatalf("the replaced logo is still served: %v", err)
	}

	// Everything emptied: the default brand again.
	if _, err := f.svc.Save(ctx, scope, branding.Input{RemoveLogo: true}); err != nil {
		t.Fatal(err)
	}
	if b, _ = f.svc.For(ctx, scope); !b.Default || b.LogoURL != "" || count(t, tn, "brand_assets") != 0 {
		t.Fatalf("after removing everything: %+v", b)
	}
}

// TestSaveRefusesAndWritesNothing: one bad field refuses the whole change,
// valid images in the same submission included.
func TestSaveRefusesAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tn, scope := f.tenant(t)
	if _, err := f.svc.Save(ctx, scope, branding.Input{DisplayName: "Before", PrimaryColor: "#112233"}); err != nil {
		t.Fatal(err)
	}
	good := pngBytes(t, 4, 4)
	cases := []struct {
		name   string
		in     branding.Input
		want   error
		reason string
	}{
		{"bad primary colour", branding.Input{PrimaryColor: "#12345", Logo: good}, branding.ErrInvalid, "primary colour"},
		{"named accent colour", branding.Input{AccentColor: "blue", Logo: good}, branding.ErrInvalid, "accent colour"},
		{"bad e-mail", branding.Input{SupportEmail: "help at acme", Logo: good}, branding.ErrInvalid, "not a valid e-mail"},
		{"e-mail with a display name", branding.Input{SupportEmail: "Help <help@acme.example>"}, branding.ErrInvalid, "not a valid e-mail"},
		{"e-mail without a dotted domain", branding.Input{SupportEmail: "help@acme"}, branding.ErrInvalid, "not a valid e-mail"},
		{"bad phone", branding.Input{SupportPhone: "call us!"}, branding.ErrInvalid, "phone"},
		{"too few digits", branding.Input{SupportPhone: "+1"}, branding.ErrInvalid, "phone"},
		{"name on two lines", branding.Input{DisplayName: "Acme\nHealth"}, branding.ErrInvalid, "one line"},
		{"name too long", branding.Input{DisplayName: strings.Repeat("x", 101)}, branding.ErrInvalid, "100 characters"},
		{"sender with a header break", branding.Input{SenderName: "Acme\r\nBcc: x@y.example"}, branding.ErrInvalid, "one line"},
		{"good logo, bad favicon", branding.Input{Logo: good, Favicon: svg(`<script>alert(1)</script>`)}, branding.ErrInvalid, "<script>"},
		{"oversize logo", branding.Input{Logo: make([]byte, 600<<10)}, branding.ErrTooLarge, "512 KiB"},
		{"text as logo", branding.Input{Logo: []byte("hello")}, branding.ErrUnsupported, "not a PNG"},
		{"new logo and remove logo", branding.Input{Logo: good, RemoveLogo: true}, branding.ErrInvalid, "either"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Save(ctx, scope, tc.in)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.reason) || !branding.IsUserError(err) {
				t.Fatalf("error %v; want %v saying %q", err, tc.want, tc.reason)
			}
			st, _ := f.svc.Settings(ctx, scope)
			if st.DisplayName != "Before" || st.PrimaryColor != "#112233" || st.LogoSHA256 != nil || count(t, tn, "brand_assets") != 0 ||
				count(t, tn, "audit_log WHERE action = 'branding.updated'") != 1 {
				t.Fatalf("a refused save wrote something: %+v", st)
			}
		})
	}
}

// TestForCache: For may serve from memory, but a save through the service is
// visible at once, and a tenant's rename shows in its default name.
func TestForCache(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, scope := f.tenant(t)
	svc := branding.NewService(branding.Options{}) // default TTL
	if b, err := svc.For(ctx, scope); err != nil || !b.Default {
		t.Fatalf("%+v %v", b, err)
	}
	if _, err := svc.Save(ctx, scope, branding.Input{AccentColor: "#004400"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := svc.For(ctx, scope); b.AccentColor != "#004400" || b.Default {
		t.Fatalf("For after save serves the cached brand: %+v", b)
	}
	renamed := scope
	renamed.Name = "Renamed Client"
	if b, _ := svc.For(ctx, renamed); b.DisplayName != "Renamed Client" {
		t.Fatalf("display name %q after a rename", b.DisplayName)
	}
}

// TestAssetIsolation: a hash is looked up only in the asking tenant's schema.
func TestAssetIsolation(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	_, a := f.tenant(t)
	_, b := f.tenant(t)
	saved, err := f.svc.Save(ctx, a, branding.Input{Logo: []byte(cleanSVG)})
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimPrefix(saved.Brand.LogoURL, "/brand/")
	if got, err := f.svc.Asset(ctx, a, file); err != nil || string(got.Bytes) != cleanSVG || got.ContentType != branding.TypeSVG {
		t.Fatalf("own asset: %v", err)
	}
	for _, tc := range []struct {
		name string
		t    tenancy.Tenant
		file string
	}{
		{"other tenant", b, file},
		{"wrong extension", a, strings.TrimSuffix(file, ".svg") + ".png"},
		{"not a hash", a, "../../etc/passwd"},
		{"upper-case hash", a, strings.ToUpper(file)},
	} {
		if _, err := f.svc.Asset(ctx, tc.t, tc.file); !errors.Is(err, branding.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", tc.name, err)
		}
	}
}

// TestConcurrentSaves: saves of one tenant take turns, so the audit log
// reads as a chain: each entry's "before" is the previous entry's "after".
func TestConcurrentSaves(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tn, scope := f.tenant(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() {
			_, err := f.svc.Save(ctx, scope, branding.Input{DisplayName: fmt.Sprintf("Name %d", i)})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	rows := adminQuery(t, `SELECT summary FROM `+tn.SchemaName+`.audit_log WHERE action = 'branding.updated' ORDER BY id`)
	prev := "(default)"
	for i, s := range rows {
		from, to, ok := strings.Cut(strings.TrimPrefix(s, "display name: "), " → ")
		if !ok || from != prev {
			t.Fatalf("entry %d %q: before should be %q (entries %q)", i, s, prev, rows)
		}
		prev = to
	}
	if len(rows) != n {
		t.Fatalf("%d entries, want %d", len(rows), n)
	}
}
