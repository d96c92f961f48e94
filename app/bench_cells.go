package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// The bench's two cells, one per server, each taking half the tenants:
// the layout of "10,000 tenants in 2 cells on 2 servers".
const (
	benchNearCell = "bench-near"
	benchFarCell  = "bench-far"
)

// Floor targets: ingest and check-ins keep at least these shares of the
// anchor (the same writes straight through pgx) and of their own rate over
// a few tenants, whatever the fleet size.
const (
	targetOfAnchor   = 0.5
	targetFlatIngest = 0.8
	fewTenants       = 20
	newAlertEvery    = 8 // requests per new alert in the ingestion load
	manyTenants      = 1000
	targetHomeP99    = 50 * time.Millisecond
	targetBackendMem = 64 << 20
)

// cellURLs configures the far cell on the second server.
func (b *benchEnv) cellURLs() map[string]string {
	return map[string]string{benchFarCell: b.pg2.URL()}
}

// benchCells adds the two bench cells and drains the default one, so that
// placement splits the tenants evenly over the two servers.
func benchCells(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	fmt.Fprintf(stderr, "bench: cells %s (control plane's server) and %s (second server)\n", benchNearCell, benchFarCell)
	half := (opts.tenants + 1) / 2
	for _, name := range []string{benchNearCell, benchFarCell} {
		if _, err := b.svc.AddCell(ctx, tenants.AddCellInput{Name: name, Capacity: half}); err != nil {
			return fmt.Errorf("adding cell %s: %w", name, err)
		}
	}
	if _, err := b.svc.DrainCell(ctx, tenancy.DefaultCell); err != nil {
		return err
	}
	t.info("cells", fmt.Sprintf("%s and %s, %d tenants each, on 2 servers", benchNearCell, benchFarCell, half))
	return nil
}

// benchFloor measures alert ingest and agent check-ins over a few tenants
// and over many, against the anchor: the same alert-shaped transaction
// issued straight through pgx at the same concurrency on the same server.
func benchFloor(ctx context.Context, b *benchEnv, base string, keys []string, opts benchOptions, t *benchTable, stderr io.Writer) error {
	many := min(manyTenants, len(keys))
	few := min(fewTenants, len(keys))
	fmt.Fprintf(stderr, "bench: anchor (upsert alert, insert event, update counter through pgx), %d transactions from %d connections\n",
		opts.loadRequests, opts.loadConcurrency)
	anchor, _, anchorP99, err := benchAnchorRate(ctx, b.pg.URL(), opts.loadConcurrency, opts.loadRequests)
	if err != nil {
		return fmt.Errorf("anchor: %w", err)
	}
	t.info("anchor: alert-shaped transaction through pgx", fmt.Sprintf("%.0f /s (p99 %s)", anchor, fmtDuration(anchorP99)))

	alert := func(keys []string) func(*rand.Rand) (string, []byte) {
		// The same mix over 20 tenants and over 1,000: each tenant's alerts
		// come from as many distinct (rule, host) pairs as one eighth of
		// the requests it gets, so about one request in eight opens a new
		// alert and the rest repeat an open one (the dedupe path), however
		// many tenants share the load. (A fixed 200 pairs per tenant made
		// the 1,000-tenant run open a new alert for nearly every request,
		// and the 20-tenant run almost never: a comparison of inserting
		// with updating, not of fleet sizes.)
		pairs := max(1, opts.loadRequests/(len(keys)*newAlertEvery))
		return func(r *rand.Rand) (string, []byte) {
			pair := r.IntN(pairs)
			return keys[r.IntN(len(keys))], fmt.Appendf(nil, `{"source":"bench","rule":"rule-%d","severity":"warning","summary":"load","labels":{"host":"h%d"}}`,
				pair%20, pair/20)
		}
	}
	rates := map[string]float64{}
	for _, n := range []int{few, many} {
		fmt.Fprintf(stderr, "bench: alert ingestion over %d tenants, %d requests from %d connections\n", n, opts.loadRequests, opts.loadConcurrency)
		lat, failed, elapsed, err := runLoad(ctx, opts.loadRequests, opts.loadConcurrency, apiPost(base+"/api/v1/alerts", alert(keys[:n])))
		if err != nil {
			return err
		}
		loadRows(t, fmt.Sprintf("alerts ingested over %d tenants", n), fmt.Sprintf("alert ingestion (%d tenants)", n), lat, failed, elapsed)
		rates[fmt.Sprint("ingest", n)] = float64(len(lat)) / elapsed.Seconds()
		// The ingest's side effects (SLA deadlines of the alerts it opened)
		// are worked in the background; let them finish so that the next
		// phase is measured on its own.
		if err := waitIdle(ctx, b, t, fmt.Sprintf("ingestion over %d tenants", n), stderr); err != nil {
			return err
		}
	}
	if err := benchBackends(ctx, b, t, "after ingest"); err != nil {
		return err
	}

	creds, hosts, err := enrollBenchEndpoints(ctx, b, many)
	if err != nil {
		return err
	}
	checkin := func(creds, hosts []string) func(*rand.Rand) (string, []byte) {
		return func(r *rand.Rand) (string, []byte) {
			i := r.IntN(len(creds))
			// Quiet machines: no threshold fires, so this is the inventory path.
			return creds[i], fmt.Appendf(nil, `{"hostname":%q,"os":"linux","uptime_seconds":%d,"cpu_percent":%.1f,"memory_percent":%.1f,"disks":[{"mount":"/","used_percent":%.1f}]}`,
				hosts[i], 1000+r.IntN(1000), 5+r.Float64()*20, 30+r.Float64()*20, 40+r.Float64()*10)
		}
	}
	for _, n := range []int{few, many} {
		fmt.Fprintf(stderr, "bench: agent check-ins over %d tenants, %d requests from %d connections\n", n, opts.loadRequests, opts.loadConcurrency)
		lat, failed, elapsed, err := runLoad(ctx, opts.loadRequests, opts.loadConcurrency, apiPost(base+"/api/v1/agent/checkin", checkin(creds[:n], hosts[:n])))
		if err != nil {
			return err
		}
		loadRows(t, fmt.Sprintf("agent check-ins over %d tenants", n), fmt.Sprintf("check-in (%d tenants)", n), lat, failed, elapsed)
		rates[fmt.Sprint("checkin", n)] = float64(len(lat)) / elapsed.Seconds()
	}
	for _, what := range []string{"ingest", "checkin"} {
		manyRate, fewRate := rates[fmt.Sprint(what, many)], rates[fmt.Sprint(what, few)]
		t.ratioAtLeast(fmt.Sprintf("%s over %d tenants / anchor", what, many), manyRate/anchor, targetOfAnchor)
		t.ratioAtLeast(fmt.Sprintf("%s over %d tenants / over %d", what, many, few), manyRate/fewRate, targetFlatIngest)
	}
	return benchBackends(ctx, b, t, "after check-ins")
}

// benchBackends records the largest PostgreSQL backend's private memory on
// each server and the connections open against the configured budget.
func benchBackends(ctx context.Context, b *benchEnv, t *benchTable, when string) error {
	total := 0
	for i, pg := range []string{b.pg.AdminURL(), b.pg2.AdminURL()} {
		rss, pid, n, err := backendMemory(ctx, pg)
		if err != nil {
			return fmt.Errorf("backend memory: %w", err)
		}
		t.rows = append(t.rows, benchRow{fmt.Sprintf("largest backend %s, server %d (pid %d, of %d)", when, i+1, pid, n),
			fmt.Sprintf("%.1f MB", float64(rss)/(1<<20)), fmt.Sprintf("≤ %d MB", targetBackendMem>>20), yesNo(rss <= targetBackendMem)})
		_, conns, maxConns, err := connectionBudget(ctx, pg)
		if err != nil {
			return err
		}
		total += conns
		t.info(fmt.Sprintf("connections %s, server %d", when, i+1), fmt.Sprintf("%d of max_connections %d", conns, maxConns))
	}
	cfg := b.load.cfg.Database
	cells := len(b.load.cluster.Cells())
	budget := cfg.MaxConns + cells*cfg.CellMaxConns + 10 + 4*2 // control pool, cell pools, River, listeners and cell-server admin pools
	t.info(fmt.Sprintf("connections %s, both servers", when), fmt.Sprintf("%d of a budget of %d (control %d + %d cells × %d + jobs and listeners 18)",
		total, budget, cfg.MaxConns, cells, cfg.CellMaxConns))
	return nil
}

// benchConsoleHome times the staff console's home page (every client with
// its counters, read from both servers' rollups) as an owner sees it.
func benchConsoleHome(ctx context.Context, b *benchEnv, base string, opts benchOptions, t *benchTable, stderr io.Writer) error {
	const requests = 200
	fmt.Fprintf(stderr, "bench: console home with %d tenants on 2 servers, %d requests\n", opts.tenants, requests)
	const email, password = "bench-owner@msp.example", "bench-owner-password-1"
	if _, _, err := b.load.identity.CreateStaff(ctx, identity.StaffInput{Email: email, Role: "owner", Password: password}); err != nil {
		return err
	}
	client, err := consoleSignIn(ctx, base, email, password)
	if err != nil {
		return err
	}
	lat := make([]time.Duration, 0, requests)
	parts := map[string][]time.Duration{} // from the page's Server-Timing header
	for i := 0; i < requests+10; i++ {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		req.Header.Set("Accept", "text/html")
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("console home: status %d", resp.StatusCode)
		}
		if i >= 10 { // the first few warm the caches
			lat = append(lat, time.Since(t0))
			for name, d := range parseServerTiming(resp.Header.Get("Server-Timing")) {
				parts[name] = append(parts[name], d)
			}
		}
	}
	t.info(fmt.Sprintf("console home, %d tenants on 2 servers: p50", opts.tenants), fmtDuration(percentile(lat, 0.5)))
	var split []string
	for _, name := range []string{"clients", "queue-and-trend"} {
		if ds := parts[name]; len(ds) > 0 {
			split = append(split, fmt.Sprintf("%s %s/%s", name, fmtDuration(percentile(ds, 0.5)), fmtDuration(percentile(ds, 0.99))))
		}
	}
	t.info("console home: parts p50/p99 (Server-Timing)", strings.Join(split, ", "))
	t.atMost(fmt.Sprintf("console home, %d tenants on 2 servers: p99", opts.tenants), percentile(lat, 0.99), targetHomeP99, "")
	return nil
}

// consoleSignIn signs a staff user in through the console's login form and
// returns a client that carries the session.
func consoleSignIn(ctx context.Context, base, email, password string) (*http.Client, error) {
	client := newFormClient()
	resp, err := signInByForm(ctx, client, base, "", url.Values{"email": {email}, "password": {password}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("console sign-in answered %d", resp.StatusCode)
	}
	return client, nil
}

// newFormClient is a browser-like client: it keeps cookies and does not
// follow redirects.
func newFormClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// formToken finds the CSRF token of the session in a page's form.
var formToken = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signInByForm signs in as a browser does: the sign-in page first, for its
// session cookie and the form's CSRF token, then the form. host, when not
// empty, is the portal host the requests name.
func signInByForm(ctx context.Context, client *http.Client, base, host string, form url.Values) (*http.Response, error) {
	send := func(method string, body io.Reader) (*http.Response, []byte, error) {
		req, _ := http.NewRequestWithContext(ctx, method, base+"/login", body)
		if host != "" {
			req.Host = host
		}
		req.Header.Set("Accept", "text/html")
		if method == http.MethodPost {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		page, err := io.ReadAll(resp.Body)
		return resp, page, err
	}
	_, page, err := send(http.MethodGet, nil)
	if err != nil {
		return nil, err
	}
	m := formToken.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("the sign-in page at %s has no CSRF token", base)
	}
	form.Set("_csrf", string(m[1]))
	resp, _, err := send(http.MethodPost, strings.NewReader(form.Encode()))
	return resp, err
}

// parseServerTiming reads "name;dur=1.25, other;dur=3" into durations.
func parseServerTiming(h string) map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, part := range strings.Split(h, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "dur="); ok {
				if ms, err := strconv.ParseFloat(v, 64); err == nil && name != "" {
					out[name] = time.Duration(ms * float64(time.Millisecond))
				}
			}
		}
	}
	return out
}
