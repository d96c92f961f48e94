package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/labstack/echo/v4"
)

// pageLayout is what the browser measures of one page (pageProbe).
type pageLayout struct {
	Overflow  bool         `json:"over"`      // wider than the window: the page scrolls sideways
	Offenders []string     `json:"offenders"` // the elements that stick out, not inside a scroller
	Bars      [][2]float64 `json:"bars"`      // each SLA bar's width and its container's
	Text      string       `json:"text"`      // what the reader sees
}

// pageProbe measures the page in the tab: overflow past the window (and
// what causes it, skipping what sits in a sideways scroller such as a wide
// table's), each SLA bar against the card or cell holding it, and the text.
const pageProbe = `(() => {
  const W = window.innerWidth, offenders = [];
  const over = document.documentElement.scrollWidth > W + 1;
  if (over) for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.right <= W + 1 || r.width === 0) continue;
    let p = el.parentElement, scrolled = false;
    for (; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') { scrolled = true; break; }
    }
    if (!scrolled) offenders.push(el.tagName.toLowerCase() + (typeof el.className === 'string' && el.className ? '.' + el.className.trim().split(/\s+/).join('.') : '') + ' ends at ' + Math.round(r.right) + ' px');
    if (offenders.length >= 5) break;
  }
  const bars = [...document.querySelectorAll('svg.bar')].map(b => {
    const box = b.closest('.card, td, li') || b.parentElement;
    const cs = getComputedStyle(box);
    const inner = box.getBoundingClientRect().width - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
    return [b.getBoundingClientRect().width, inner];
  });
  // Preformatted blocks are machine documents shown as sent (payloads), not prose.
  let text = document.body.innerText;
  for (const p of document.querySelectorAll('pre')) text = text.replace(p.innerText, ' ');
  return JSON.stringify({over, offenders, bars, text});
})()`

// TestEveryPageInTheBrowser opens every page of the console (as an owner)
// and of a client's portal (as its admin) in Chromium at 1440 and 390 px
// wide and checks what a person sees: nothing wider than the screen, every
// SLA bar across its card, no Go-format duration or RFC 3339 stamp in the
// text, and the portal's times in the client's zone. Each page's screenshot
// goes to artifacts/screenshots/pages/.
func TestEveryPageInTheBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	e, srv, ts := testServer(t)
	h := seedHumaneClient(t, e, "pb")
	port := mustURL(ts.URL).Port()
	portalBase := "http://" + h.host + ":" + port
	const ownerEmail, ownerPassword = "pb-owner@msp.example", "owner-password-for-pages"
	signedInOwner(t, e, ts.URL, ownerEmail) // creates the owner (this HTTP client is not used)

	browser := brNewBrowser(t, chromedp.Flag("host-resolver-rules", "MAP *.test 127.0.0.1"))
	console := brNewTab(t, browser, chromedp.WithNewBrowserContext())
	brLogin(t, console, ts.URL, ownerEmail, ownerPassword)
	portal := brNewTab(t, browser, chromedp.WithNewBrowserContext())
	brDo(t, portal, chromedp.Navigate(portalBase+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), h.admin),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), portalPassword),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
	brWaitPath(t, portal, "/")

	// Which pages open as a page (200 with HTML) for these viewers, asked
	// over HTTP first: redirects and downloads are not pages to look at.
	samples := map[string]string{":slug": h.tenant.Slug, ":id": itoa(h.alertID), ":email": h.user, ":key": "sla-humane",
		":name": "seed", ":prefix": "sbk_nope", ":host": h.host, ":file": "logo.svg", "*": "app.css"}
	ownerHTTP := newClient(t, ts.URL)
	if status := ownerHTTP.login(ownerEmail, ownerPassword); status != http.StatusSeeOther {
		t.Fatalf("owner login: %d", status)
	}
	adminHTTP := signInToPortal(t, ts.URL, h.host, h.admin)
	type page struct{ surface, path string }
	var pages []page
	for _, s := range []struct {
		name string
		echo *echo.Echo
		c    *client
	}{{"console", srv.console, ownerHTTP}, {"portal", srv.portal, adminHTTP}} {
		for _, rt := range s.echo.Routes() {
			if rt.Method != http.MethodGet || strings.HasPrefix(rt.Path, "/api/") || rt.Path == "/login" || strings.HasPrefix(rt.Path, "/login/") {
				continue
			}
			path := pathParam.ReplaceAllStringFunc(rt.Path, func(name string) string { return url.PathEscape(samples[name]) })
			if strings.Contains(rt.Path, "/endpoints/:id") {
				path = strings.NewReplacer(":slug", h.tenant.Slug, ":id", itoa(h.endpointID)).Replace(rt.Path)
			}
			if status, body := s.c.get(path); status == http.StatusOK && strings.Contains(body, "<html") {
				pages = append(pages, page{s.name, path})
			}
		}
	}
	if len(pages) < 25 {
		t.Fatalf("only %d pages to open; the walk lost its way", len(pages))
	}

	abbr := time.Now().In(h.zone).Format("MST") // EST or EDT
	portalTimes := 0
	for _, width := range []int64{1440, 390} {
		for _, s := range []struct {
			name string
			tab  context.Context
			base string
		}{{"console", console, ts.URL}, {"portal", portal, portalBase}} {
			tab := brNewTab(t, s.tab) // same cookies; the emulation ends with the tab
			brDo(t, tab, chromedp.EmulateViewport(width, 900))
			for _, p := range pages {
				if p.surface != s.name {
					continue
				}
				brOpen(t, tab, s.base, p.path)
				var got pageLayout
				if err := json.Unmarshal([]byte(brGet(t, tab, chromedp.Evaluate[string](pageProbe))), &got); err != nil {
					t.Fatalf("%s %s: %v", s.name, p.path, err)
				}
				where := s.name + " " + p.path + " at " + itoa(width) + " px"
				if got.Overflow {
					t.Errorf("%s is wider than the screen: %v", where, got.Offenders)
				}
				for _, bar := range got.Bars {
					if bar[0] < 0.9*bar[1] {
						t.Errorf("%s: an SLA bar %.0f px wide in a card %.0f px wide", where, bar[0], bar[1])
					}
				}
				if m := goDuration.FindAllString(got.Text, 3); m != nil {
					t.Errorf("%s shows Go-format durations %q", where, m)
				}
				if m := rfc3339.FindAllString(got.Text, 3); m != nil {
					t.Errorf("%s shows RFC 3339 timestamps %q", where, m)
				}
				if s.name == "portal" && strings.Contains(got.Text, " UTC") {
					t.Errorf("%s shows a time in UTC, not in the client's zone (%s)", where, h.zone)
				}
				if s.name == "portal" && strings.Contains(got.Text, " "+abbr) {
					portalTimes++
				}
				// Stable names, so each run replaces the last one's pictures.
				name := strings.NewReplacer(h.tenant.Slug, "client", h.user, "user", "/", "-", "%40", "@", ".", "_").Replace(strings.TrimSuffix(p.path, "/"))
				brScreenshot(t, tab, "pages/"+s.name+name+"-"+itoa(width)+".png")
			}
		}
	}
	if portalTimes == 0 {
		t.Errorf("no portal page showed a time in the client's zone (%s)", abbr)
	}
}
