package main

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"switchboard/modules/branding"
)

// brPortal is one client's branded portal as the browser test sets it up.
type brPortal struct {
	portalTenant
	name, primary, accent, primaryRGB string
	base                              string // http://<host>:<port>
}

// TestPortalBrowser opens two clients' portals on their own hostnames (mapped
// to the test server by Chromium's host resolver rules) and checks that each
// wears only its own brand and data, that a session cookie from one host is
// worthless on the other, and that unknown and unverified hosts get a plain,
// brand-free 404. Screenshots of both portals, side by side, go to
// artifacts/screenshots/portals-side-by-side.png.
func TestPortalBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	e, _, ts := testServer(t)
	port := mustURL(ts.URL).Port()
	ctx := context.Background()
	portals := []*brPortal{
		{portalTenant: seedPortalTenant(t, e, "ba"), name: "Acme Health", primary: "#0f766e", accent: "#0e7490", primaryRGB: "rgb(15, 118, 110)"},
		{portalTenant: seedPortalTenant(t, e, "bb"), name: "Borealis Freight", primary: "#7c2d12", accent: "#b45309", primaryRGB: "rgb(124, 45, 18)"},
	}
	logos := [][]byte{brLogoPNG(t, color.RGBA{15, 118, 110, 255}), []byte(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="18" fill="#c2410c"/></svg>`)}
	for i, p := range portals {
		p.base = "http://" + p.host + ":" + port
		_, err := e.branding.Save(ctx, p.tenant, branding.Input{DisplayName: p.name, PrimaryColor: p.primary, AccentColor: p.accent,
			SupportEmail: "help@" + p.tenant.Slug + ".example", SupportPhone: "+1 555 0100", SenderName: p.name + " Service Desk", Logo: logos[i],
			Favicon: brLogoPNG(t, color.RGBA{200, 60, 20, 255})})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, b := portals[0], portals[1]
	browser := brNewBrowser(t, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))

	shots := map[string][]byte{}
	for _, p := range portals {
		other := b
		if p == b {
			other = a
		}
		t.Run(p.name+" portal wears its own brand and shows its own data", func(t *testing.T) {
			tab := brNewTab(t, browser, chromedp.WithNewBrowserContext()) // a cookie jar per client
			brDo(t, tab, chromedp.Navigate(p.base+"/"))
			brWaitPath(t, tab, "/login")
			brMustContain(t, brPageHTML(t, tab), "Sign in to "+p.name)
			brDo(t, tab, chromedp.SendKeys(chromedp.CSS(`input[name=email]`), p.user),
				chromedp.SendKeys(chromedp.CSS(`input[name=password]`), portalPassword),
				chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
			brWaitPath(t, tab, "/")
			html := brPageHTML(t, tab)
			brMustContain(t, html, p.name, "Power supply failing on srv-"+p.tenant.Slug, "help@"+p.tenant.Slug+".example")
			brMustNotContain(t, html, other.name, other.tenant.Slug, p.tenant.Name, "Switchboard")
			if bg := brGet(t, tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".portal-bar")).backgroundColor`)); bg != p.primaryRGB {
				t.Errorf("the portal bar is %s, want the brand's %s", bg, p.primaryRGB)
			}
			// The logo is served from the portal's own host and has loaded.
			logo := brGet(t, tab, chromedp.Evaluate[struct {
				Src   string
				Width int
			}](`(() => { const i = document.querySelector("img.portal-logo"); return {Src: i.getAttribute("src"), Width: i.naturalWidth}; })()`))
			if !strings.HasPrefix(logo.Src, "/brand/") || logo.Width == 0 {
				t.Errorf("the logo is %+v, want a loaded /brand/<hash> image", logo)
			}
			favicon := brGet(t, tab, chromedp.Evaluate[string](`fetch(document.querySelector("link[rel=icon]").href).then(r => r.status + " " + r.headers.get("Content-Type") + " " + r.headers.get("Cache-Control"))`, chromedp.EvalAwaitPromise))
			if favicon != "200 image/png public, max-age=31536000, immutable" {
				t.Errorf("the favicon answers %q", favicon)
			}
			shots[p.name] = brGet(t, tab, chromedp.FullScreenshot(100))
			brScreenshot(t, tab, "portal-"+p.tenant.Slug[:2]+".png")

			brOpen(t, tab, p.base, "/alerts/"+itoa(p.alertID))
			html = brPageHTML(t, tab)
			brMustContain(t, html, p.open)
			brMustNotContain(t, html, p.internal)
			brScreenshot(t, tab, "portal-alert-"+p.tenant.Slug[:2]+".png")

			phone := brNewTab(t, tab) // same cookies; the emulation ends with the tab
			brDo(t, phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
			brOpen(t, phone, p.base, "/")
			if w := brGet(t, phone, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`)); w[0] > w[1] || w[1] > 390 {
				t.Errorf("the portal home is %d px wide (window %d px) on a 390 px screen", w[0], w[1])
			}
			brScreenshot(t, phone, "portal-phone-"+p.tenant.Slug[:2]+".png")

			// Carry this host's session cookie to the other client's host.
			var session *network.Cookie
			brDo(t, tab, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
				res, err := cdp.Call(ctx, tab, network.GetCookies, network.GetCookiesParams{URLs: []string{p.base + "/"}})
				for _, c := range res.Cookies {
					if c.Name == "portal_session" {
						session = c
					}
				}
				return err
			}))
			if session == nil || session.Domain != p.host {
				t.Fatalf("the session cookie is %+v, want one scoped to %s only", session, p.host)
			}
			brDo(t, tab, chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
				_, err := cdp.Call(ctx, tab, network.SetCookie, network.SetCookieParams{Name: session.Name, Value: session.Value, URL: other.base + "/"})
				return err
			}))
			brDo(t, tab, chromedp.Navigate(other.base+"/alerts/"+itoa(p.alertID)))
			brWaitPath(t, tab, "/login")
			html = brPageHTML(t, tab)
			brMustContain(t, html, "Sign in to "+other.name)
			brMustNotContain(t, html, p.name, p.open)
		})
	}

	t.Run("unknown and unverified hosts get a plain 404", func(t *testing.T) {
		if _, err := e.tenants.AddDomain(ctx, a.tenant.Slug, "pending."+a.tenant.Slug+".test"); err != nil {
			t.Fatal(err)
		}
		tab := brNewTab(t, browser, chromedp.WithNewBrowserContext())
		for _, host := range []string{"nobody.test", "pending." + a.tenant.Slug + ".test"} {
			for _, path := range []string{"/", "/login"} {
				html := brNotFound(t, tab, "http://"+host+":"+port+path)
				brMustNotContain(t, html, a.name, b.name, a.tenant.Slug, b.tenant.Slug, "Switchboard", "/brand/", "portal-bar")
			}
		}
		brScreenshot(t, tab, "portal-unknown-host-404.png")
	})

	if len(shots) == 2 {
		brSideBySide(t, "portals-side-by-side.png", shots[a.name], shots[b.name])
	}
}

// brLogoPNG draws a small square logo.
func brLogoPNG(t *testing.T, c color.Color) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	draw.Draw(img, img.Bounds(), &image.Uniform{c}, image.Point{}, draw.Src)
	draw.Draw(img, image.Rect(16, 16, 48, 48), &image.Uniform{color.White}, image.Point{}, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// brSideBySide saves two screenshots next to each other in one PNG.
func brSideBySide(t *testing.T, name string, left, right []byte) {
	t.Helper()
	l, err := png.Decode(bytes.NewReader(left))
	if err != nil {
		t.Fatal(err)
	}
	r, err := png.Decode(bytes.NewReader(right))
	if err != nil {
		t.Fatal(err)
	}
	const gap = 16
	h := max(l.Bounds().Dy(), r.Bounds().Dy())
	out := image.NewRGBA(image.Rect(0, 0, l.Bounds().Dx()+gap+r.Bounds().Dx(), h))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.Gray{0x99}}, image.Point{}, draw.Src)
	draw.Draw(out, l.Bounds(), l, l.Bounds().Min, draw.Src)
	draw.Draw(out, r.Bounds().Add(image.Pt(l.Bounds().Dx()+gap, 0)), r, r.Bounds().Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("..", "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
