package branding_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"

	"switchboard/modules/branding"
	"switchboard/static"
)

const chromiumPath = "/usr/bin/chromium"

// TestPreviewInBrowser drives the branding page in headless Chromium: the
// preview follows the name, colours and a chosen logo as they are edited,
// the contrast warning appears live, and the form saves a real browser's
// multipart upload. It leaves artifacts/screenshots/branding.png.
func TestPreviewInBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser test needs Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	ctx := context.Background()
	f := newFixture(t)
	tn, scope := f.tenant(t)
	if _, err := f.svc.Save(ctx, scope, branding.Input{Logo: pngBytes(t, 60, 20)}); err != nil {
		t.Fatal(err)
	}
	e := console(t, f, scope)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", http.FileServerFS(static.FS))))
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	logo := filepath.Join(t.TempDir(), "new-logo.svg")
	if err := os.WriteFile(logo, []byte(cleanSVG), 0o644); err != nil {
		t.Fatal(err)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	alloc, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	tab, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	// The first action binds the browser's life to its context, so it must
	// not carry a timeout (as in app/browser_test.go).
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	run := func(actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		if _, err := chromedp.Run(ctx, chromedp.Steps(actions...)); err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("browser: %s: %v", js, err)
		}
		return v
	}

	page := srv.URL + "/t/" + tn.Slug + "/branding"
	run(chromedp.Navigate(page), chromedp.WaitVisible(`#brand-preview .bp-logo`))
	if src := eval(`document.querySelector(".bp-logo").getAttribute("src")`); !strings.HasPrefix(src, "/t/"+tn.Slug+"/branding/assets/") {
		t.Fatalf("preview logo %q, want the stored one", src)
	}
	if w := eval(`document.getElementById("brand-warnings").textContent`); w != "" {
		t.Fatalf("warnings for the default colours: %q", w)
	}

	run(chromedp.SendKeys(`input[name=display_name]`, "Acme Health"),
		chromedp.SendKeys(`input[name=primary_color]`, "#777777"),
		chromedp.SendKeys(`input[name=accent_color]`, "#0b5fff"),
		chromedp.SendKeys(`input[name=support_email]`, "help@acme.example"),
		chromedp.SetUploadFiles(`input[name=logo]`, []string{logo}))
	got := eval(`JSON.stringify([document.querySelector(".bp-name").textContent, document.querySelector(".bp-sender").textContent,
		getComputedStyle(document.querySelector(".bp-header")).backgroundColor, getComputedStyle(document.querySelector(".bp-link")).color,
		document.getElementById("brand-warnings").textContent, document.querySelector(".bp-logo").src.slice(0, 5),
		document.querySelector(".bp-email").textContent])`)
	for _, want := range []string{`"Acme Health","Acme Health"`, `"rgb(119, 119, 119)"`, `"rgb(11, 95, 255)"`,
		"White text on the primary colour #777777 has a contrast ratio of 4.47:1", `"blob:"`, `"help@acme.example"`} {
		if !strings.Contains(got, want) {
			t.Errorf("live preview %s does not have %s", got, want)
		}
	}
	eval(`window.scrollTo(0, 0), ""`)
	screenshot(t, tab)

	// Saving sends the real browser's multipart form.
	run(chromedp.Click(`#brand-form button[type=submit]`), chromedp.WaitVisible(`.notice-ok`))
	b, err := f.svc.For(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	if b.DisplayName != "Acme Health" || b.PrimaryColor != "#777777" || !strings.HasSuffix(b.LogoURL, ".svg") || b.SupportEmail != "help@acme.example" {
		t.Fatalf("after saving in the browser: %+v", b)
	}
	if txt := eval(`document.querySelector("main").textContent`); !strings.Contains(txt, "Branding saved.") || !strings.Contains(txt, "4.47:1") {
		t.Fatalf("after saving the page does not show the flash and the warning: %.500s", txt)
	}
}

// screenshot saves the page as artifacts/screenshots/branding.png for a human to look at.
func screenshot(t *testing.T, tab context.Context) {
	t.Helper()
	dir := filepath.Join("..", "..", "artifacts", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "branding.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
