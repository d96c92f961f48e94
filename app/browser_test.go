package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"switchboard/platform/pgtest"
)

// The browser tests drive the real console (the serve command, in-process)
// with headless Chromium: sign-in, the keyboard client switcher, a
// technician's limits, sign-out, a phone-sized screen and dark mode. They
// leave full-page screenshots in artifacts/screenshots/ for a human to look at.

const (
	chromiumPath = "/usr/bin/chromium"
	stepTimeout  = 30 * time.Second // for every browser action: a hang fails, it does not block
)

// brClient is a client the browser tests onboard, with its one client user.
type brClient struct{ slug, name, user string }

func TestBrowser(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("the browser tests need Chromium at %s; run `apt-get install chromium` (%v)", chromiumPath, err)
	}
	sfx := strconv.FormatInt(time.Now().UnixMicro()%1e9, 36) // unique per run, even with -count
	alpha := brClient{"br-alpha-" + sfx, "Br Alpha Clinic", "br-alice-" + sfx + "@alpha.example"}
	beta := brClient{"br-beta-" + sfx, "Br Beta Logistics", "br-bob-" + sfx + "@beta.example"}
	owner, tech := "br-owner-"+sfx+"@msp.example", "br-tech-"+sfx+"@msp.example"
	const password = "br-correct-horse-7"

	expect(t, cli(t, "migrate"), 0)
	for _, c := range []brClient{alpha, beta} {
		expect(t, cli(t, "tenant", "create", "--slug", c.slug, "--name", c.name, "--domain", "portal."+c.slug+".example"), 0)
		brCreateUser(t, password, "--tenant", c.slug, "--email", c.user, "--role", "client_user")
	}
	brCreateUser(t, password, "--email", owner, "--role", "owner")
	brCreateUser(t, password, "--email", tech, "--role", "technician", "--tenants", alpha.slug)

	base := brStartServer(t)
	ctx := brNewBrowser(t)

	ok := t.Run("owner signs in through the form and sees every client", func(t *testing.T) {
		brDo(t, ctx, chromedp.Navigate(base+"/"))
		brWaitPath(t, ctx, "/login") // signed out: sent to the form
		brScreenshot(t, ctx, "login.png")
		brLogin(t, ctx, base, owner, password)
		html := brPageHTML(t, ctx)
		brMustContain(t, html, alpha.name, beta.name, alpha.slug, beta.slug, owner)
		brScreenshot(t, ctx, "console-home.png")
	})
	if !ok {
		t.FailNow()
	}

	t.Run("keyboard switcher keeps the sub-page and shows one client at a time", func(t *testing.T) {
		brOpen(t, ctx, base, "/")
		brSwitchTo(t, ctx, "alpha clinic", alpha.slug, "")
		brWaitPath(t, ctx, "/t/"+alpha.slug+"/")
		brMustContain(t, brGet(t, ctx, chromedp.Text(chromedp.CSS(`.subnav .client-name`))), alpha.name)
		brScreenshot(t, ctx, "client-overview.png")

		brDo(t, ctx, chromedp.Click(chromedp.CSS(`.subnav a[href$="/users"]`)))
		brWaitPath(t, ctx, "/t/"+alpha.slug+"/users")
		brCheckUsersPage(t, ctx, alpha, beta)
		brScreenshot(t, ctx, "client-users.png")

		brSwitchTo(t, ctx, "Br ", beta.slug, "switcher-open.png") // alpha sorts first: ArrowDown
		brWaitPath(t, ctx, "/t/"+beta.slug+"/users")
		brCheckUsersPage(t, ctx, beta, alpha)

		// Switching keeps the page: the SLA, branding, channels and
		// settings of the other client.
		for i, page := range []struct{ from, to string }{
			{"/sla", "/sla"}, {"/branding", "/branding"}, {"/channels", "/channels"}, {"/domains", "/domains"},
			{"/settings", "/settings"}, {"/silences", "/silences"},
		} {
			from, to := beta, alpha
			if i%2 == 1 {
				from, to = alpha, beta
			}
			brOpen(t, ctx, base, "/t/"+from.slug+page.from)
			brSwitchTo(t, ctx, to.name, to.slug, "")
			brWaitPath(t, ctx, "/t/"+to.slug+page.to)
		}
	})

	t.Run("platform pages", func(t *testing.T) {
		brOpen(t, ctx, base, "/platform/staff")
		brMustContain(t, brPageHTML(t, ctx), owner, tech, "Only "+alpha.slug)
		brScreenshot(t, ctx, "staff.png")
		brOpen(t, ctx, base, "/platform/audit")
		brScreenshot(t, ctx, "audit.png")
		brOpen(t, ctx, base, "/platform/policies")
		brMustContain(t, brPageHTML(t, ctx), "cpu-high", "route-oncall")
		brScreenshot(t, ctx, "policies.png")
	})

	t.Run("alerts from the API appear on the client's alert pages only", func(t *testing.T) {
		key := brAPIKey(t, alpha.slug)
		body := `{"alerts":[{"source":"browser","rule":"disk_full","severity":"critical","summary":"Disk / at 97% on ` + alpha.slug + `-fs01","endpoint":"` + alpha.slug + `-fs01","labels":{"host":"fs01"}},
			{"source":"browser","rule":"latency","severity":"warning","summary":"VPN latency 300 ms","labels":{"host":"vpn"}}]}`
		req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/alerts", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("ingest: %d", resp.StatusCode)
		}
		brOpen(t, ctx, base, "/t/"+alpha.slug+"/alerts")
		brMustContain(t, brPageHTML(t, ctx), "Disk / at 97% on "+alpha.slug, "VPN latency 300 ms")
		brScreenshot(t, ctx, "alerts.png")
		brDo(t, ctx, chromedp.Click(chromedp.CSS(`a[href^="/t/`+alpha.slug+`/alerts/"]`)))
		brDo(t, ctx, chromedp.WaitVisible(`ol.timeline`))
		brScreenshot(t, ctx, "alert-detail.png")
		// Switching from an alert (which belongs to this client) opens the other's alert list.
		brSwitchTo(t, ctx, beta.name, beta.slug, "")
		brWaitPath(t, ctx, "/t/"+beta.slug+"/alerts")
		brMustNotContain(t, brPageHTML(t, ctx), alpha.slug+"-fs01")
		brOpen(t, ctx, base, "/")
		brMustContain(t, brPageHTML(t, ctx), "Most urgent, all clients", "Disk / at 97% on "+alpha.slug)
		brScreenshot(t, ctx, "console-home-alerts.png")
		brOpen(t, ctx, base, "/t/"+alpha.slug+"/policy")
		brScreenshot(t, ctx, "policy.png")
		brOpen(t, ctx, base, "/t/"+alpha.slug+"/domains")
		brMustContain(t, brPageHTML(t, ctx), "_switchboard-challenge.portal."+alpha.slug+".example")
		brScreenshot(t, ctx, "domains.png")
	})

	t.Run("phone-sized screen has no horizontal overflow", func(t *testing.T) {
		pctx := brNewTab(t, ctx) // the emulation ends with the tab
		brDo(t, pctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		brOpen(t, pctx, base, "/")
		// A mobile browser widens the layout viewport to fit wide content, so
		// window.innerWidth alone would hide an overflow: compare with the screen.
		width := brGet(t, pctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
		if width[0] > width[1] || width[1] > 390 {
			t.Errorf("the home page is %d px wide (window %d px) on a 390 px screen: it scrolls sideways", width[0], width[1])
		}
		brScreenshot(t, pctx, "console-home-phone.png")
	})

	t.Run("dark mode", func(t *testing.T) {
		const bg = `getComputedStyle(document.body).backgroundColor`
		dctx := brNewTab(t, ctx)
		brOpen(t, dctx, base, "/")
		light := brGet(t, dctx, chromedp.Evaluate[string](bg))
		brDo(t, dctx, brColorScheme("dark"), chromedp.Reload())
		brWaitPath(t, dctx, "/")
		dark := brGet(t, dctx, chromedp.Evaluate[string](bg))
		if dark == light {
			t.Errorf("the body background is %s in both light and dark mode", light)
		}
		brScreenshot(t, dctx, "console-home-dark.png")
	})

	t.Run("technician sees only the client granted", func(t *testing.T) {
		tctx := brNewTab(t, ctx, chromedp.WithNewBrowserContext()) // with its own cookie jar
		brLogin(t, tctx, base, tech, password)
		listed := brGet(t, tctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('main tbody td:first-child > a[href^="/t/"]')].map(a => a.textContent)`))
		if len(listed) != 1 || listed[0] != alpha.name {
			t.Errorf("the technician's home lists the clients %q, want only %s", listed, alpha.name)
		}
		brMustNotContain(t, brPageHTML(t, tctx), beta.name, beta.slug, `href="/platform/staff"`, `href="/clients/new"`)

		brOpen(t, tctx, base, "/t/"+alpha.slug+"/")
		brMustContain(t, brGet(t, tctx, chromedp.Text(chromedp.CSS(`.subnav .client-name`))), alpha.name)

		unknown := brNotFound(t, tctx, base+"/t/br-nope-"+sfx+"/")
		for _, p := range []string{"/t/" + beta.slug + "/", "/t/" + beta.slug + "/users"} {
			html := brNotFound(t, tctx, base+p)
			brMustNotContain(t, html, beta.name, beta.user)
			if html != unknown { // otherwise the page tells which clients exist
				t.Errorf("the 404 of %s differs from that of a client that does not exist:\n%s\n---\n%s", p, html, unknown)
			}
		}
		brScreenshot(t, tctx, "technician-404.png")

		brOpen(t, tctx, base, "/")
		found := brGet(t, tctx, chromedp.Evaluate[[]map[string]string](fmt.Sprintf(
			`fetch("/switcher?q=" + encodeURIComponent(%q), {headers: {Accept: "application/json"}}).then(r => r.json())`, beta.name),
			chromedp.EvalAwaitPromise))
		if len(found) != 0 {
			t.Errorf("the switcher offers the technician %v", found)
		}
		brDo(t, tctx, brSlash, chromedp.KeyEvent("beta log"),
			chromedp.WaitVisible(chromedp.CSS(`#switcher-list li.empty`)))
		brMustContain(t, brGet(t, tctx, chromedp.Text(chromedp.CSS(`#switcher-list`))), "No matching clients")
		if v := brGet(t, tctx, chromedp.Value(chromedp.ID("switcher-input"))); v != "beta log" {
			t.Errorf("the switcher searched for %q", v)
		}
	})

	t.Run("sign out ends the session in the browser and on the server", func(t *testing.T) {
		conn := adminConn(t)
		sessions := func() (n int) { // the owner's server-side sessions
			t.Helper()
			err := conn.QueryRow(context.Background(), `SELECT count(*) FROM control.sessions
				WHERE subject = (SELECT 'staff:' || id FROM control.staff_users WHERE email = $1)`, owner).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := sessions(); n != 1 {
			t.Fatalf("the owner has %d sessions before signing out, want 1", n)
		}
		brOpen(t, ctx, base, "/t/"+alpha.slug+"/users")
		brDo(t, ctx, chromedp.Click(chromedp.CSS(`form.signout button[type=submit]`)))
		brWaitPath(t, ctx, "/login")
		brDo(t, ctx, chromedp.Navigate(base+"/"))
		brWaitPath(t, ctx, "/login")
		if n := sessions(); n != 0 {
			t.Errorf("the owner still has %d sessions after signing out", n)
		}
	})
}

// brAPIKey creates an API key for a tenant with the CLI, in-process.
func brAPIKey(t *testing.T, slug string) string {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"tenant", "apikey", "create", slug, "--name", "browser", "--database-url", pgtest.URL(), "--log-level", "warn"})
	if err := root.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("apikey create: %v\n%s", err, out.String())
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "sbk_") {
			return strings.TrimSpace(line)
		}
	}
	t.Fatalf("no key in %q", out.String())
	return ""
}

// brCreateUser runs `user create --password-stdin` in-process.
func brCreateUser(t *testing.T, password string, args ...string) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetIn(strings.NewReader(password + "\n"))
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"user", "create", "--password-stdin", "--database-url", pgtest.URL(), "--log-level", "warn"}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("user create %v: %v\n%s", args, err, out.String())
	}
}

// brStartServer runs `serve` in-process on a free port until the test ends and
// returns its base URL once /healthz answers.
func brStartServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCommand()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"serve", "--database-url", pgtest.URL(), "--cell-url", "far=" + pgtest.SecondURL(), "--addr", addr, "--log-level", "warn"})
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30 s of its context ending")
		}
	})

	base := "http://" + addr
	client := &http.Client{Timeout: 2 * time.Second}
	for start := time.Now(); time.Since(start) < 30*time.Second; time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-done:
			done <- nil // reported here, not again by the cleanup
			t.Fatalf("serve stopped before answering: %v", err)
		default:
		}
		if resp, err := client.Get(base + "/healthz"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
	}
	t.Fatalf("%s/healthz did not answer within 30 s", base)
	return ""
}

// brNewBrowser starts a headless Chromium with a fresh profile (and extra
// options) and returns the context of its first tab; both close when the
// test ends.
func brNewBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	opts = append(opts, extra...)
	allocCtx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	return brNewTab(t, allocCtx)
}

// brNewTab opens a tab in the browser of ctx (starting it the first time),
// closed when the test ends. The first action binds the tab's (and browser's)
// life to its context, so it cannot carry the timeout: the wait for it does.
func brNewTab(t *testing.T, ctx context.Context, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(ctx, opts...)
	t.Cleanup(cancel)
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium: %v", err)
		}
	case <-time.After(stepTimeout):
		t.Fatalf("Chromium did not open a tab within %v", stepTimeout)
	}
	return ctx
}

// brDo runs browser actions in order, with the step timeout.
func brDo(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	brGet(t, ctx, chromedp.Steps(actions...))
}

// brGet runs one browser action with the step timeout and returns its value.
func brGet[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// brWaitPath waits until the tab shows a fully loaded page at path (a
// navigation started by a click or a key may still be in flight).
func brWaitPath(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(stepTimeout); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		state, err := chromedp.Run(tctx, chromedp.Evaluate[string](`location.pathname + " " + document.readyState`))
		cancel()
		if err == nil && state == path+" complete" {
			return
		}
		last = state
	}
	t.Fatalf("the tab did not reach %s: last at %q", path, last)
}

// brOpen navigates to path and waits until the page has loaded there.
func brOpen(t *testing.T, ctx context.Context, base, path string) {
	t.Helper()
	brDo(t, ctx, chromedp.Navigate(base+path))
	brWaitPath(t, ctx, path)
}

func brLogin(t *testing.T, ctx context.Context, base, email, password string) {
	t.Helper()
	brDo(t, ctx, chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)))
	brWaitPath(t, ctx, "/")
}

// brSwitchTo presses "/", types query into the switcher, moves with the arrow
// keys to the option of slug and presses Enter. With shot, it first saves a
// screenshot of the open list.
func brSwitchTo(t *testing.T, ctx context.Context, query, slug, shot string) {
	t.Helper()
	// On focus the switcher lists every client: mark those options, so that
	// the answer to the query (which replaces them) can be told apart.
	brDo(t, ctx, brSlash)
	brGet(t, ctx, chromedp.Poll[bool](`(() => {
		const opts = document.querySelectorAll("#switcher-list > li");
		opts.forEach(o => o.dataset.stale = "1");
		return opts.length > 0;
	})()`, chromedp.WithPollingTimeout(10*time.Second)))
	brDo(t, ctx, chromedp.KeyEvent(query))
	if v := brGet(t, ctx, chromedp.Value(chromedp.ID("switcher-input"))); v != query {
		t.Fatalf("the switcher holds %q after typing %q", v, query)
	}
	found := brGet(t, ctx, chromedp.Poll[struct{ Index int }](fmt.Sprintf(`(() => {
		const q = %q, slug = %q;
		const url = new URL("/switcher?q=" + encodeURIComponent(q.trim()), location.href).href;
		const opts = [...document.querySelectorAll("#switcher-list > li")];
		if (!performance.getEntriesByName(url).length || !opts.length || opts.some(o => o.dataset.stale)) return null;
		return {Index: opts.findIndex(o => o.querySelector(".slug")?.textContent.split(" ")[0] === slug)};
	})()`, query, slug), chromedp.WithPollingTimeout(10*time.Second)))
	if found.Index < 0 {
		t.Fatalf("searching the switcher for %q does not offer %s", query, slug)
	}
	for range found.Index {
		brDo(t, ctx, chromedp.KeyEvent(kb.ArrowDown))
	}
	selected := brGet(t, ctx, chromedp.Text(chromedp.CSS(`#switcher-list [aria-selected=true] .slug`)))
	if !strings.HasPrefix(selected, slug) {
		t.Fatalf("after %d × ArrowDown the switcher selects %q, want %s", found.Index, selected, slug)
	}
	if shot != "" {
		brScreenshot(t, ctx, shot)
	}
	brDo(t, ctx, chromedp.KeyEvent(kb.Enter))
}

// brSlash presses "/" as a keyboard does, with one keyDown that carries the
// text, so that the page cancelling the keydown also cancels the character.
// (chromedp.KeyEvent sends the character as an event of its own, which would
// type "/" into the switcher that the keydown has just focused.)
var brSlash = chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
	for _, typ := range []input.DispatchKeyEventType{input.DispatchKeyEventTypeKeyDown, input.DispatchKeyEventTypeKeyUp} {
		p := input.DispatchKeyEventParams{Type: typ, Key: "/", Code: "Slash", WindowsVirtualKeyCode: 191}
		if typ == input.DispatchKeyEventTypeKeyDown {
			p.Text, p.UnmodifiedText = "/", "/"
		}
		if _, err := cdp.Call(ctx, tab, input.DispatchKeyEvent, p); err != nil {
			return err
		}
	}
	return nil
})

// brCheckUsersPage checks that the users page shows c and nothing of other.
func brCheckUsersPage(t *testing.T, ctx context.Context, c, other brClient) {
	t.Helper()
	brMustContain(t, brGet(t, ctx, chromedp.Text(chromedp.CSS(`.subnav .client-name`))), c.name)
	brMustContain(t, brGet(t, ctx, chromedp.Text(chromedp.CSS(`.subnav a[aria-current=page]`))), "Users")
	html := brPageHTML(t, ctx)
	brMustContain(t, html, c.user)
	brMustNotContain(t, html, other.user, other.name, other.slug)
}

// brNotFound navigates to url, expects the plain 404 page and returns its HTML.
func brNotFound(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	resp := brGet(t, ctx, chromedp.NavigateResponse(url))
	html := brPageHTML(t, ctx)
	if resp.Status != http.StatusNotFound || !strings.Contains(html, "<h1>Not Found</h1>") {
		t.Errorf("%s answered %d, want the plain 404 page:\n%s", url, resp.Status, html)
	}
	return html
}

// brColorScheme emulates prefers-color-scheme.
func brColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tab *chromedp.Target) error {
		_, err := cdp.Call(ctx, tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

func brPageHTML(t *testing.T, ctx context.Context) string {
	t.Helper()
	// A page still being replaced by a navigation that is finishing makes
	// the read fail on a node that is gone; the new page is read instead.
	var err error
	for range 5 {
		step, cancel := context.WithTimeout(ctx, stepTimeout)
		var html string
		if _, err = chromedp.Run(step, chromedp.WaitReady(chromedp.CSS("body"))); err == nil {
			html, err = chromedp.Run(step, chromedp.OuterHTML(chromedp.CSS("html")))
		}
		cancel()
		if err == nil {
			return html
		}
		if !strings.Contains(err.Error(), "No node with given id found") {
			break
		}
	}
	t.Fatalf("browser: %v", err)
	return ""
}

// brScreenshot saves a full-page PNG as artifacts/screenshots/<name>.
func brScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	file := filepath.Join("..", "artifacts", "screenshots", name)
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	png := brGet(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func brMustContain(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("the page lacks %q", w)
		}
	}
}

func brMustNotContain(t *testing.T, s string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(s, u) {
			t.Errorf("the page shows %q", u)
		}
	}
}
