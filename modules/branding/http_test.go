package branding_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/modules/branding"
	"switchboard/modules/tenants"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
	"switchboard/templates"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// portal builds the portal surface as app does: tenant from the Host, then
// authorization, then the branding routes.
func portal(t *testing.T, f fixture) *echo.Echo {
	t.Helper()
	e := web.New(quiet)
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	r := tenancy.NewResolver(f.tenants.Directory(), f.tenants.TargetVersion(), []string{"console.example"})
	e.Use(r.Middleware(), a.Middleware(authz.MiddlewareOptions{}))
	f.svc.PortalRoutes(a, e)
	return e
}

func get(e *echo.Echo, host, path string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// TestPortalAssets: hashed URLs are cached for a year with an ETag and the
// restrictive CSP; unknown hashes are 404; a client's domain never serves
// another client's image, even by its exact hash.
func TestPortalAssets(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mk := func(prefix string) (tenants.Tenant, tenancy.Tenant) {
		tn, err := f.tenants.Create(ctx, tenants.CreateInput{Slug: fmt.Sprintf("%s-%d", prefix, len(prefix)+int(tenantSeq())), Name: "Portal " + prefix,
			Domain: fmt.Sprintf("portal-%d.%s.example", tenantSeq(), prefix)})
		if err != nil {
			t.Fatal(err)
		}
		tn, _ = f.tenants.Get(ctx, tn.Slug)
		// Verified as an operator would; how is the domains code's business.
		adminExec(t, `UPDATE control.tenant_domains SET verified = true WHERE tenant_id = $1`, tn.ID)
		return tn, f.tenants.Scope(tn)
	}
	a, aScope := mk("pa")
	b, bScope := mk("pb")
	hostA, hostB := a.Domains[0].Hostname, b.Domains[0].Hostname
	saved, err := f.svc.Save(ctx, aScope, branding.Input{Logo: []byte(cleanSVG), Favicon: pngBytes(t, 16, 16)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Save(ctx, bScope, branding.Input{DisplayName: "B"}); err != nil {
		t.Fatal(err)
	}
	e := portal(t, f)

	for _, tc := range []struct {
		url, ctype string
		body       []byte
	}{{saved.Brand.LogoURL, branding.TypeSVG, []byte(cleanSVG)}, {saved.Brand.FaviconURL, branding.TypePNG, pngBytes(t, 16, 16)}} {
		rec := get(e, hostA, tc.url)
		sum := strings.TrimSuffix(strings.TrimPrefix(tc.url, "/brand/"), tc.url[strings.LastIndex(tc.url, "."):])
		want := map[string]string{
			"Content-Type":            tc.ctype,
			"Cache-Control":           "public, max-age=31536000, immutable",
			"Etag":                    `"` + sum + `"`,
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
			"X-Content-Type-Options":  "nosniff",
		}
		if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), tc.body) {
			t.Fatalf("GET %s on A: %d, %d bytes", tc.url, rec.Code, rec.Body.Len())
		}
		for k, v := range want {
			if got := rec.Header().Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", tc.url, k, got, v)
			}
		}
		if rec := get(e, hostA, tc.url, "If-None-Match", `"`+sum+`"`); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("GET %s with its ETag: %d, want 304", tc.url, rec.Code)
		}
	}

	unknown := "/brand/" + strings.Repeat("ab", 32) + ".svg"
	for _, tc := range []struct{ name, host, path string }{
		{"unknown hash", hostA, unknown},
		{"A's logo on B's domain", hostB, saved.Brand.LogoURL},
		{"A's logo on B's domain, revalidating", hostB, saved.Brand.LogoURL},
		{"A's logo on an unknown domain", "nobody.example", saved.Brand.LogoURL},
		{"not a hash", hostA, "/brand/logo.svg"},
	} {
		rec := get(e, tc.host, tc.path, "If-None-Match", `"`+strings.Repeat("ab", 32)+`"`)
		if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "svg") {
			t.Errorf("%s: %d %q, want 404", tc.name, rec.Code, rec.Body.String())
		}
	}
}

var seqPortal int64

func tenantSeq() int64 { seqPortal++; return seqPortal }

// console builds the console surface for one tenant: the real templates,
// the tenant in the context as path resolution would put it. Authorization
// is app's (TestRouteMatrix); here the handlers are under test.
func console(t *testing.T, f fixture, tn tenancy.Tenant) *echo.Echo {
	t.Helper()
	e := web.New(quiet)
	chrome := func(echo.Context) web.Chrome {
		// An admin's page: who may see the form is the app's matrix tests' business.
		return web.Chrome{User: "tester@msp.example", CSRF: "x", Current: &web.SwitcherTenant{Slug: tn.Slug, Name: tn.Name, Status: tn.Status},
			Permits: func(string, string) bool { return true }}
	}
	r, err := web.NewRenderer(templates.FS, chrome, "console/branding.html")
	if err != nil {
		t.Fatal(err)
	}
	e.Renderer = r
	// Sessions as the app has them (in memory here): notices live there.
	sm := scs.New()
	e.Use(echo.WrapMiddleware(sm.LoadAndSave), web.UseSessions(sm))
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(tenancy.WithTenant(c.Request().Context(), tn, tenancy.ViaPath)))
			return next(c)
		}
	})
	a, _ := authz.New()
	f.svc.ConsoleRoutes(a, e)
	return e
}

// part is one field of a multipart form: a value, or a file with the name
// and type the browser claims.
type part struct{ name, value, filename, ctype string }

func post(e *echo.Echo, path string, parts ...part) *httptest.ResponseRecorder {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for _, p := range parts {
		if p.filename == "" {
			_ = w.WriteField(p.name, p.value)
			continue
		}
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, p.name, p.filename))
		h.Set("Content-Type", p.ctype)
		pw, _ := w.CreatePart(h)
		_, _ = pw.Write([]byte(p.value))
	}
	_ = w.Close()
	req := httptest.NewRequest(http.MethodPost, path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

// TestConsoleForm: the form saves with a redirect, shows the contrast
// warning after saving, and refuses bad input with a 4xx and a reason on
// the form, saving nothing.
func TestConsoleForm(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	tn, scope := f.tenant(t)
	e := console(t, f, scope)
	path := "/t/" + tn.Slug + "/branding"
	png1 := string(pngBytes(t, 8, 8))

	// A PNG that claims to be an SVG is stored as what it is.
	rec := post(e, path, part{name: "display_name", value: "Acme Health"}, part{name: "primary_color", value: "#777777"},
		part{name: "logo", value: png1, filename: "logo.svg", ctype: "image/svg+xml"})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != path {
		t.Fatalf("save: %d %q %s", rec.Code, rec.Header().Get("Location"), rec.Body.String())
	}
	b, _ := f.svc.For(ctx, scope)
	if !strings.HasSuffix(b.LogoURL, ".png") || b.DisplayName != "Acme Health" {
		t.Fatalf("after save: %+v", b)
	}
	page := get(e, "console.example", path)
	file := strings.TrimPrefix(b.LogoURL, "/brand/")
	for _, want := range []string{"White text on the primary colour #777777 has a contrast ratio of 4.47:1", `value="Acme Health"`,
		`src="/t/` + tn.Slug + `/branding/assets/` + file + `"`, "--bp-primary: #777777", "remove_logo", "/static/branding.js"} {
		if !strings.Contains(page.Body.String(), want) {
			t.Errorf("page does not show %q", want)
		}
	}
	if a := get(e, "console.example", "/t/"+tn.Slug+"/branding/assets/"+file); a.Code != http.StatusOK || a.Header().Get("Content-Security-Policy") == "" ||
		a.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("console preview asset: %d %v", a.Code, a.Header())
	}

	before, _ := f.svc.Settings(ctx, scope)
	bad := []struct {
		name   string
		parts  []part
		status int
		reason string
	}{
		{"bad colour", []part{{name: "primary_color", value: "#77777g"}}, 400, "primary colour &#34;#77777g&#34; is not of the form #rrggbb"},
		{"bad e-mail", []part{{name: "support_email", value: "help"}}, 400, "not a valid e-mail"},
		{"text named .png", []part{{name: "logo", value: "I am a PNG", filename: "logo.png", ctype: "image/png"}}, 415, "not a PNG, JPEG, ICO or SVG"},
		{"SVG with a script", []part{{name: "logo", value: `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`, filename: "x.svg", ctype: "image/svg+xml"}}, 400, "&lt;script&gt;"},
		{"logo too large", []part{{name: "logo", value: png1 + strings.Repeat("\x00", 600<<10), filename: "big.png", ctype: "image/png"}}, 413, "limit is 512 KiB"},
		{"favicon too large", []part{{name: "favicon", value: png1 + strings.Repeat("\x00", 130<<10), filename: "f.png", ctype: "image/png"}}, 413, "limit is 128 KiB"},
		{"good colour, bad favicon", []part{{name: "primary_color", value: "#000000"}, {name: "favicon", value: "GIF89a", filename: "f.ico", ctype: "image/x-icon"}}, 415, "favicon"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(e, path, tc.parts...)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.reason) || !strings.Contains(rec.Body.String(), `id="brand-form"`) {
				t.Fatalf("status %d, want %d with %q on the form; body %.400s", rec.Code, tc.status, tc.reason, rec.Body.String())
			}
			if after, _ := f.svc.Settings(ctx, scope); snapshot(after) != snapshot(before) {
				t.Fatalf("a refused form changed the branding: %s → %s", snapshot(before), snapshot(after))
			}
		})
	}

	t.Run("body over the request limit", func(t *testing.T) {
		rec := post(e, path, part{name: "logo", value: strings.Repeat("x", 2<<20), filename: "huge.png", ctype: "image/png"})
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", rec.Code)
		}
		if after, _ := f.svc.Settings(ctx, scope); snapshot(after) != snapshot(before) {
			t.Fatal("an oversize request changed the branding")
		}
	})
}

// snapshot prints stored settings with the hashes they point to.
func snapshot(s branding.Settings) string {
	deref := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	return fmt.Sprintf("%q %s %s %s %s %q %q %q %s", s.DisplayName, s.PrimaryColor, s.AccentColor, deref(s.LogoSHA256), deref(s.FaviconSHA256),
		s.SupportEmail, s.SupportPhone, s.SenderName, s.UpdatedAt)
}
