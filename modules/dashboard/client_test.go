package dashboard

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
	"switchboard/templates"
)

// now0 is the injected clock's start, well clear of the real time so a
// timestamp the database wrote itself is never mistaken for one of ours.
var now0 = time.Date(2031, 3, 14, 15, 0, 0, 0, time.UTC)

// testClock is the services' injected time.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *testClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// clientFixture is the client dashboard on real services and the
// package's database, with one fresh tenant.
type clientFixture struct {
	o      *ClientOverview
	d      ClientDeps
	clock  *testClock
	tenant tenancy.Tenant
	slug   string
}

func newClientFixture(t *testing.T) clientFixture {
	t.Helper()
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	jc, err := jobs.New(ctx, pgtest.URL(), jobs.Options{InsertOnly: true, MaxConns: 2, Logger: tenantstest.Quiet, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	events := outbox.NewSubscribers()
	clock := &testClock{now: now0}
	pol := policies.NewService(c)
	al := alerts.NewService(pol, slas.Panel(pol))
	d := ClientDeps{
		Tenants:  ts,
		Alerts:   al,
		Agents:   agents.NewService(agents.Options{Tenants: ts, Policies: pol, Alerts: al, Logger: tenantstest.Quiet, Now: clock.Now}),
		Identity: identity.NewService(c, ts, tenantstest.Quiet),
		Notify:   notify.NewService(notify.Deps{Alerts: al, Tenants: ts, Policies: pol, Jobs: jc, Events: events}, notify.Options{Logger: tenantstest.Quiet}),
		Audit:    audit.NewService(c),
		Reports:  slas.NewReports(al, pol, ts, jc, events),
		Now:      clock.Now,
	}
	tn := tenantstest.Create(t, ts, "cli")
	// The package's other tests read every tenant's rollups: a client left
	// with open alerts would be one more busy client in their queue.
	t.Cleanup(func() {
		if err := ts.Delete(context.Background(), tn.Slug, tn.Slug); err != nil {
			t.Errorf("deleting %s: %v", tn.Slug, err)
		}
	})
	return clientFixture{o: NewClientOverview(d), d: d, clock: clock, tenant: ts.Scope(tn), slug: tn.Slug}
}

// load is the dashboard as a viewer in loc sees it now.
func (f clientFixture) load(t *testing.T, loc *time.Location) ClientView {
	t.Helper()
	v, err := f.o.Load(context.Background(), f.tenant, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// seedAlert stores an alert that was open from opened until resolved (nil:
// still open), as ingestion and resolution would have left it.
func (f clientFixture) seedAlert(t *testing.T, severity, status string, opened time.Time, resolved *time.Time) {
	t.Helper()
	err := tenancy.Do(context.Background(), f.tenant, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO alerts (fingerprint, source, rule, severity, status, first_seen_at, last_seen_at, resolved_at)
			VALUES (?, 'test', 'r', ?, ?, ?, ?, ?)`, fmt.Sprintf("fp-%d", opened.UnixNano()), severity, status, opened, opened, resolved).Error
	})
	if err != nil {
		t.Fatal(err)
	}
}

func at(day, hour, minute int) time.Time {
	return time.Date(2031, 3, day, hour, minute, 0, 0, time.UTC)
}

func ptr(t time.Time) *time.Time { return &t }

// The sparkline counts, for each of the last 14 days (1 to 14 March, "now"
// is 14 March 15:00 UTC), the alerts opened before the day's end and not
// resolved by then; today's point is what is open now.
func TestClientTrendCountsOpenAlertsPerDay(t *testing.T) {
	f := newClientFixture(t)
	f.seedAlert(t, "critical", "resolved", at(2, 10, 0), ptr(at(5, 9, 0)))                                  // open 2–4 March
	f.seedAlert(t, "critical", "firing", at(4, 12, 0), nil)                                                 // open 4 March on
	f.seedAlert(t, "warning", "resolved", time.Date(2031, 2, 20, 8, 0, 0, 0, time.UTC), ptr(at(1, 23, 59))) // closed before the window
	f.seedAlert(t, "warning", "resolved", time.Date(2031, 2, 25, 8, 0, 0, 0, time.UTC), ptr(at(7, 12, 0)))  // open until 6 March
	f.seedAlert(t, "info", "acknowledged", at(14, 14, 0), nil)                                              // today only
	f.seedAlert(t, "critical", "suppressed", at(3, 1, 0), nil)                                              // never the provider's: never counted
	f.seedAlert(t, "warning", "resolved", at(10, 6, 0), ptr(at(14, 14, 30)))                                // 10–13 March, resolved today before now

	v := f.load(t, nil)
	var got []int
	for _, d := range v.Trend.Days {
		got = append(got, d.Open)
	}
	want := []int{1, 2, 2, 3, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2}
	if !slices.Equal(got, want) {
		t.Fatalf("open per day = %v, want %v", got, want)
	}
	if first, last := v.Trend.Days[0].Day, v.Trend.Days[13].Day; !first.Equal(at(1, 0, 0)) || !last.Equal(at(14, 0, 0)) {
		t.Errorf("days run %v to %v, want 1 to 14 March", first, last)
	}
	if v.Open["critical"] != 1 || v.Open["warning"] != 0 || v.Open["info"] != 1 || v.OpenTotal != 2 {
		t.Errorf("open now by severity = %v (%d), want critical 1, info 1", v.Open, v.OpenTotal)
	}
	if v.Trend.Max != 3 || !strings.Contains(v.Trend.Label, "Mar 4 3, Mar 5 2") || !strings.Contains(v.Trend.Label, "Mar 14 2") {
		t.Errorf("label %q (max %d) does not give the numbers", v.Trend.Label, v.Trend.Max)
	}
	if n := len(strings.Fields(v.Trend.Line)); n != 14 {
		t.Errorf("line has %d points, want 14: %q", n, v.Trend.Line)
	}
}

// Days end at the viewer's midnight: an alert opened at 20:00 UTC on
// 4 March is already 5 March in Kathmandu (UTC+05:45).
func TestClientTrendDaysInTheViewersZone(t *testing.T) {
	kathmandu, err := time.LoadLocation("Asia/Kathmandu")
	if err != nil {
		t.Fatal(err)
	}
	f := newClientFixture(t)
	f.seedAlert(t, "warning", "firing", at(4, 20, 0), nil)
	for _, c := range []struct {
		name     string
		zone     *time.Location
		firstDay string // the first day the alert counts on
	}{{"no zone is UTC", nil, "Mar 4"}, {"UTC", time.UTC, "Mar 4"}, {"Kathmandu", kathmandu, "Mar 5"}} {
		t.Run(c.name, func(t *testing.T) {
			v := f.load(t, c.zone)
			first := ""
			for _, d := range v.Trend.Days {
				if d.Open > 0 {
					first = d.Day.Format("Jan 2")
					break
				}
			}
			if first != c.firstDay {
				t.Errorf("first counted on %s, want %s", first, c.firstDay)
			}
		})
	}
}

// A day of a daylight-saving change is 23 hours long, not a 24-hour step.
func TestTrendWindowFollowsTheCalendar(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2031, 3, 14, 12, 0, 0, 0, ny) // clocks went forward on 9 March
	days, ends := trendWindow(now, ny, trendDays)
	if len(days) != trendDays || !ends[trendDays-1].Equal(now) {
		t.Fatalf("%d days, last end %v", len(days), ends[trendDays-1])
	}
	for i, d := range days[:trendDays-1] {
		if d.Hour() != 0 || ends[i].Hour() != 0 || !ends[i].Equal(days[i+1]) {
			t.Errorf("day %d: %v to %v", i, d, ends[i])
		}
		want := 24 * time.Hour
		if d.Day() == 9 {
			want = 23 * time.Hour
		}
		if got := ends[i].Sub(d); got != want {
			t.Errorf("%s lasts %v, want %v", d.Format("Jan 2"), got, want)
		}
	}
}

// Each onboarding step ticks itself as it becomes true, and unticks if it
// stops holding; all four make the checklist complete.
func TestClientChecklistTicks(t *testing.T) {
	ctx := context.Background()
	f := newClientFixture(t)
	done := func(t *testing.T) []bool {
		t.Helper()
		var out []bool
		for _, it := range f.load(t, nil).Checklist.Items {
			out = append(out, it.Done)
		}
		return out
	}
	steps := []struct {
		name string
		do   func(t *testing.T)
		want []bool
	}{
		{"new client", func(*testing.T) {}, []bool{false, false, false, false}},
		{"client user is not an admin", func(t *testing.T) {
			if _, _, err := f.d.Identity.CreateClientUser(ctx, f.tenant, identity.ClientInput{Email: "user@client.example", Role: identity.RoleClientUser}); err != nil {
				t.Fatal(err)
			}
		}, []bool{false, false, false, false}},
		{"client admin", func(t *testing.T) {
			if _, _, err := f.d.Identity.CreateClientUser(ctx, f.tenant, identity.ClientInput{Email: "admin@client.example", Role: identity.RoleClientAdmin}); err != nil {
				t.Fatal(err)
			}
		}, []bool{true, false, false, false}},
		{"enrollment token", func(t *testing.T) {
			if _, _, err := f.d.Agents.CreateToken(ctx, f.tenant, "laptops", 24*time.Hour, 5); err != nil {
				t.Fatal(err)
			}
		}, []bool{true, true, false, false}},
		{"token expired, nothing enrolled", func(*testing.T) { f.clock.Advance(25 * time.Hour) }, []bool{true, false, false, false}},
		{"endpoint enrolled", func(t *testing.T) {
			tok, _, err := f.d.Agents.CreateToken(ctx, f.tenant, "one", time.Hour, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.d.Agents.Enroll(ctx, tok, "web1", "linux"); err != nil {
				t.Fatal(err)
			}
		}, []bool{true, true, false, false}},
		{"notification channel", func(t *testing.T) {
			if _, err := f.d.Notify.Create(ctx, f.tenant, notify.ChannelInput{Name: "ops", Kind: notify.KindEmail, EmailTo: []string{"ops@msp.example"}}); err != nil {
				t.Fatal(err)
			}
		}, []bool{true, true, true, false}},
		{"domain added, not verified", func(t *testing.T) {
			if _, err := f.d.Tenants.AddDomain(ctx, f.slug, "portal."+f.slug+".example"); err != nil {
				t.Fatal(err)
			}
		}, []bool{true, true, true, false}},
		{"domain verified", func(t *testing.T) {
			admin(t, `UPDATE control.tenant_domains SET verified = true, verified_at = now() WHERE hostname = $1`, "portal."+f.slug+".example")
		}, []bool{true, true, true, true}},
	}
	for _, s := range steps {
		s.do(t)
		if got := done(t); !slices.Equal(got, s.want) {
			t.Fatalf("after %s: done %v, want %v", s.name, got, s.want)
		}
	}
	v := f.load(t, nil)
	if !v.Checklist.Complete || v.Checklist.Done != 4 {
		t.Errorf("all four done, checklist %+v", v.Checklist)
	}
	if want := "https://portal." + f.slug + ".example/"; v.PortalURL != want || len(v.Pending) != 0 {
		t.Errorf("portal %q pending %v, want %s", v.PortalURL, v.Pending, want)
	}
}

// Endpoints count as online or offline as the agents module decides it:
// one that missed its check-ins is offline once the sweep has run.
func TestClientEndpointCounts(t *testing.T) {
	ctx := context.Background()
	f := newClientFixture(t)
	if v := f.load(t, nil); v.Online != 0 || v.Offline != 0 {
		t.Fatalf("no endpoints: %d online, %d offline", v.Online, v.Offline)
	}
	creds := map[string]string{}
	for _, host := range []string{"quiet", "busy", "spare"} {
		tok, _, err := f.d.Agents.CreateToken(ctx, f.tenant, host, time.Hour, 1)
		if err != nil {
			t.Fatal(err)
		}
		en, err := f.d.Agents.Enroll(ctx, tok, host, "linux")
		if err != nil {
			t.Fatal(err)
		}
		creds[host] = en.Credential
	}
	if v := f.load(t, nil); v.Online != 3 || v.Offline != 0 {
		t.Fatalf("after enrolling: %d online, %d offline", v.Online, v.Offline)
	}
	// Check-ins every minute, offline after three missed: "quiet" goes
	// silent, the others keep checking in.
	for range 4 {
		f.clock.Advance(time.Minute)
		for _, host := range []string{"busy", "spare"} {
			if _, err := f.d.Agents.CheckIn(ctx, creds[host], agents.Report{Hostname: host, OS: "linux", UptimeSeconds: 3600, CPUPercent: 10, MemoryPercent: 20}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.d.Agents.DetectOffline(ctx, f.tenant); err != nil {
		t.Fatal(err)
	}
	v := f.load(t, nil)
	if v.Online != 2 || v.Offline != 1 {
		t.Errorf("after the sweep: %d online, %d offline, want 2 and 1", v.Online, v.Offline)
	}
	if v.Open["critical"] != 1 {
		t.Errorf("the offline endpoint's alert is not counted: %v", v.Open)
	}
}

// The page renders the dashboard: severity links, the stretching
// sparkline with its numbers, the SLA, the portal, the checklist and the
// actions the viewer may use, and nothing of the old settings table.
func TestClientPageRenders(t *testing.T) {
	ctx := context.Background()
	f := newClientFixture(t)
	f.seedAlert(t, "critical", "firing", at(12, 9, 0), nil)
	if _, _, err := f.d.Identity.CreateClientUser(ctx, f.tenant, identity.ClientInput{Email: "admin@client.example", Role: identity.RoleClientAdmin}); err != nil {
		t.Fatal(err)
	}
	r, err := web.NewRenderer(templates.FS, nil, "console/*.html")
	if err != nil {
		t.Fatal(err)
	}
	render := func(t *testing.T, v ClientView, may func(method, route string) bool) string {
		t.Helper()
		var b bytes.Buffer
		page := web.Page{Title: v.Tenant.Name, Data: v, Chrome: web.Chrome{User: "owner@msp.example", Role: "owner", CSRF: "tok",
			Current: &web.SwitcherTenant{Slug: f.slug, Name: v.Tenant.Name, Status: v.Tenant.Status}, Permits: may}}
		if err := r.Render(&b, "console/client.html", page, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	base := "/t/" + f.slug
	everything := func(string, string) bool { return true }
	tech := func(_, route string) bool { // a technician: no domains, status changes or attestation
		return !slices.Contains([]string{"/t/:slug/domains", "/t/:slug/suspend", "/t/:slug/resume", "/t/:slug/attest"}, route)
	}

	body := render(t, f.load(t, nil), everything)
	for _, want := range []string{
		`href="` + base + `/alerts?severity=critical"`, `href="` + base + `/alerts?severity=warning"`, `href="` + base + `/alerts?severity=info"`,
		`class="spark" viewBox="0 0 140 40" preserveAspectRatio="none" role="img" aria-label="Open alerts at the end of each of the last 14 days, oldest first: Mar 1 0,`,
		`Mar 12 1, Mar 13 1, Mar 14 1"`,
		`action="` + base + `/suspend"`, `name="_csrf" value="tok"`, `href="` + base + `/attest"`, `href="` + base + `/settings"`,
		"Onboarding · 1 of 4 done", `href="` + base + `/enrollment">Create an enrollment token</a>`, `href="` + base + `/domains">Verify a domain</a>`,
		"No verified domain yet", "No endpoint is enrolled yet", "SLA · March", `href="` + base + `/sla">Monthly report</a>`,
		"Tenant created", "provisioned as", "schema tenant_",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, unwanted := range []string{"<h2>Settings</h2>", "timezone", "<code>tenant.created</code>"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("page still shows %q", unwanted)
		}
	}

	// A technician is offered no link or form they could not use.
	body = render(t, f.load(t, nil), tech)
	for _, unwanted := range []string{base + "/domains", base + "/suspend", base + "/attest"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("technician's page offers %s", unwanted)
		}
	}

	// Once every step is done the checklist collapses, and the portal is a link.
	tok, _, err := f.d.Agents.CreateToken(ctx, f.tenant, "x", time.Hour, 1)
	if err != nil || tok == "" {
		t.Fatal(err)
	}
	if _, err := f.d.Notify.Create(ctx, f.tenant, notify.ChannelInput{Name: "ops", Kind: notify.KindEmail, EmailTo: []string{"ops@msp.example"}}); err != nil {
		t.Fatal(err)
	}
	host := "portal." + f.slug + ".example"
	if _, err := f.d.Tenants.AddDomain(ctx, f.slug, host); err != nil {
		t.Fatal(err)
	}
	admin(t, `UPDATE control.tenant_domains SET verified = true, verified_at = now() WHERE hostname = $1`, host)
	body = render(t, f.load(t, nil), everything)
	if !strings.Contains(body, "<summary>Onboarding complete</summary>") || strings.Contains(body, "Onboarding ·") {
		t.Errorf("complete checklist does not collapse")
	}
	if !strings.Contains(body, `<a href="https://`+host+`/"`) {
		t.Errorf("no portal link to https://%s/", host)
	}
}
