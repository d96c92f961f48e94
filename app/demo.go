package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/branding"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// demoClient is one demo client: its names, settings, brand, people and machines.
type demoClient struct {
	slug, name, domain, timezone, locale string
	activity                             []string
	users                                []demoUser
	primary, accent, logo                string // the portal's brand
	hosts                                []demoHost
}

// demoUser is a client user the demo keeps signed-in-able.
type demoUser struct{ email, name, role string }

// demoHost is an endpoint with 24 h of history; offline ones stopped
// checking in a while ago.
type demoHost struct {
	name, os string
	cpu, mem float64 // typical load, percent
	disk     float64 // use of / at the start of the day; fs hosts fill up
	offline  bool
}

// demoClients are three clients with distinct names, zones, formats and activity.
var demoClients = []demoClient{
	{slug: "acme-health", name: "Acme Health", domain: "acme-health.localhost", timezone: "America/New_York", locale: "en-US",
		activity: []string{"onboarding call held", "firewall baseline agreed", "backup policy signed off"},
		users: []demoUser{{"it@acme-health.example", "Acme Health IT", identity.RoleClientAdmin},
			{"nurse.manager@acme-health.example", "Nurse Manager", identity.RoleClientUser}},
		primary: "#0f766e", accent: "#0e7490", logo: demoLogo("#0f766e", "A"),
		hosts: []demoHost{{"acme-fs01", "linux", 22, 61, 82, false}, {"acme-app02", "linux", 48, 70, 55, false},
			{"acme-vpn", "linux", 12, 35, 30, false}, {"acme-ws07", "windows", 9, 52, 64, true}}},
	{slug: "borealis-logistics", name: "Borealis Logistics", domain: "borealis.localhost", timezone: "Europe/Oslo", locale: "en-GB",
		activity: []string{"warehouse network mapped", "VPN concentrator added"},
		users: []demoUser{{"ops@borealis.example", "Borealis Operations", identity.RoleClientAdmin},
			{"dispatch@borealis.example", "Dispatch Desk", identity.RoleClientUser}},
		primary: "#1e3a8a", accent: "#2563eb", logo: demoLogo("#1e3a8a", "B"),
		hosts: []demoHost{{"borealis-vpn", "linux", 18, 40, 35, false}, {"borealis-wms01", "linux", 35, 66, 58, false}}},
	{slug: "cedar-legal", name: "Cedar & Pine Legal", domain: "cedar-legal.localhost", timezone: "Europe/Berlin", locale: "de-DE",
		activity: []string{"document server audited", "MFA rollout planned", "laptop fleet inventoried", "retention policy drafted"},
		users: []demoUser{{"office@cedar-legal.example", "Cedar & Pine Office", identity.RoleClientAdmin},
			{"paralegal@cedar-legal.example", "Paralegal", identity.RoleClientUser}},
		primary: "#7c2d12", accent: "#b45309", logo: demoLogo("#7c2d12", "C"),
		hosts: []demoHost{{"cedar-fs01", "linux", 20, 58, 76, false}, {"cedar-dms", "linux", 30, 62, 47, false},
			{"cedar-lt14", "windows", 14, 48, 51, false}}},
}

// demoLogo is a round SVG badge with a letter.
func demoLogo(colour, letter string) string {
	return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="19" fill="` + colour +
		`"/><text x="20" y="27" font-family="sans-serif" font-size="20" font-weight="700" text-anchor="middle" fill="#fff">` + letter + `</text></svg>`
}

func newDemoCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "demo",
		Short: "Seed demo clients worth evaluating; reset and write out every demo login",
		Long: `Seed three demo clients (Acme Health, Borealis Logistics, Cedar & Pine Legal),
each with its portal on http://<name>.localhost:PORT/, branding, time zone and
date format, two client users, endpoints with 24 hours of metrics (one of Acme
Health's is offline) and alerts. With Acme Health come an alert past its SLA
response target this month, with a note shared with the client, an override
of the global policy item cpu-high, and the global item disk-full locked for
every client.

Existing data: a demo client that exists is not seeded again; it keeps its
data and every change made to it, and nothing outside the demo is touched.
On every run, though:
  - the passwords of the demo logins (the two staff users, owner@ and tech@
    switchboard.example, and each demo client's two users) are replaced by
    new random ones and their sessions end; a deleted demo user is created
    again and a disabled one enabled;
  - the demo endpoints that are online get their history topped up to now
    when their last check-in is more than 30 minutes old.
The logins, with the console and portal URLs, are printed and written to the
file --logins names (mode 0600), replaced on each run.`,
		Args: cobra.NoArgs,
	}
	loginsFile := c.Flags().String("logins", "", "where to write the demo logins (default: demo-logins.txt beside database.data_dir, i.e. .data/demo-logins.txt)")
	c.RunE = func(cmd *cobra.Command, _ []string) error {
		return withTenants(cmd, func(e *env) error {
			path := *loginsFile
			if path == "" {
				path = filepath.Join(filepath.Dir(e.cfg.Database.DataDir), "demo-logins.txt")
			}
			return runDemo(cmd.Context(), e, cmd.OutOrStdout(), path, time.Now)
		})
	}
	return c
}

// runDemo seeds what is missing, tops up the endpoints, resets the demo
// logins and writes them to path.
func runDemo(ctx context.Context, e *env, w io.Writer, path string, now func() time.Time) error {
	port := "8080"
	if _, p, err := net.SplitHostPort(e.cfg.Server.Addr); err == nil {
		port = p
	}
	var book loginBook
	book.console = "http://127.0.0.1:" + port + "/login"
	for _, d := range demoClients {
		t, created, err := demoTenant(ctx, e, d)
		if err != nil {
			return err
		}
		scope := e.tenants.Scope(t)
		if created {
			if err := seedDemoClient(ctx, e, scope, d); err != nil {
				return fmt.Errorf("seeding %s: %w", d.slug, err)
			}
			fmt.Fprintf(w, "demo: created %s (%s)\n", d.name, d.slug)
		} else {
			fmt.Fprintf(w, "demo: %s already exists; its data is kept\n", d.slug)
		}
		if err := demoFleet(ctx, e, scope, d, created, now); err != nil {
			return fmt.Errorf("endpoints of %s: %w", d.slug, err)
		}
		if created && d.slug == demoClients[0].slug {
			if err := demoPolicies(ctx, e, scope); err != nil {
				return err
			}
			if err := demoBreach(ctx, e, scope, now()); err != nil {
				return fmt.Errorf("the SLA breach of %s: %w", d.slug, err)
			}
		}
		if created { // after the breach: it recounts this month's SLA
			if err := demoAlertHistory(ctx, e, scope, strings.SplitN(d.slug, "-", 2)[0], now()); err != nil {
				return fmt.Errorf("the alert history of %s: %w", d.slug, err)
			}
		}
		users, err := demoClientLogins(ctx, e, scope, d)
		if err != nil {
			return err
		}
		book.clients = append(book.clients, clientLogins{name: d.name, slug: d.slug, portal: "http://" + d.domain + ":" + port + "/", users: users})
	}
	staff, err := demoStaff(ctx, e)
	if err != nil {
		return err
	}
	book.staff = staff
	book.print(w)
	abs, err := writeLogins(path, book, now())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "demo: these logins are also in %s (mode 0600, rewritten on every run)\n", abs)
	if req := e.cfg.Security.RequireMFA; len(req) > 0 {
		fmt.Fprintf(w, "demo: %s must add a second factor at their first sign-in (security.require_mfa: %s); passkeys need http://localhost:%s,\n"+
			"demo:   `switchboard user mfa reset EMAIL` starts over, SWITCHBOARD_SECURITY_REQUIRE_MFA=none make run requires it of nobody\n",
			strings.Join(req, " and "), strings.Join(req, ", "), port)
	}
	return nil
}

// demoTenant creates the client, or finds it when it exists.
func demoTenant(ctx context.Context, e *env, d demoClient) (tenants.Tenant, bool, error) {
	t, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: d.slug, Name: d.name, Domain: d.domain,
		TrustDomain: true}) // *.localhost cannot be proven in DNS; the demo trusts its own names
	if errors.Is(err, tenants.ErrConflict) {
		t, err = e.tenants.Get(ctx, d.slug)
		return t, false, err
	}
	return t, err == nil, err
}

// seedDemoClient gives a new client its settings, some history, alerts and brand.
func seedDemoClient(ctx context.Context, e *env, t tenancy.Tenant, d demoClient) error {
	if _, _, err := e.tenants.SaveSettings(ctx, t, tenants.SettingsInput{TimeZone: &d.timezone, Locale: &d.locale}); err != nil {
		return err
	}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		for i, a := range d.activity {
			at := time.Now().Add(-time.Duration(len(d.activity)-i) * 26 * time.Hour)
			if err := tx.Exec(`INSERT INTO audit_log (at, actor, action, target, summary) VALUES (?, 'demo@switchboard.local', 'note.added', ?, ?)`,
				at, d.slug, a).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	// A channel to the built-in inbox, routed every alert, so notifications
	// can be watched without a mail server or a webhook receiver.
	if _, err := e.notify.Create(ctx, t, notify.ChannelInput{Name: "test-receiver", Kind: notify.KindInbox, Events: notify.AllEvents}); err != nil && !errors.Is(err, notify.ErrConflict) {
		return fmt.Errorf("the test receiver: %w", err)
	}
	if err := e.policies.SetTenantItem(ctx, t, policies.Item{Key: "route-test-receiver", Kind: policies.KindRouting, Enabled: true,
		Routing: &policies.Routing{MinSeverity: "info", Channels: []string{"test-receiver"}}}); err != nil {
		return fmt.Errorf("routing to the test receiver: %w", err)
	}
	if _, err := e.alerts.Ingest(ctx, t, demoAlerts(d.slug)); err != nil {
		return fmt.Errorf("alerts: %w", err)
	}
	domain := strings.SplitN(d.users[0].email, "@", 2)[1]
	if _, err := e.branding.Save(ctx, t, branding.Input{DisplayName: d.name, PrimaryColor: d.primary, AccentColor: d.accent,
		SupportEmail: "support@" + domain, SupportPhone: "+1 555 0100", SenderName: d.name + " IT Service Desk",
		Logo: []byte(d.logo)}); err != nil {
		return fmt.Errorf("branding: %w", err)
	}
	return nil
}

// demoAlerts are a few signals per client, as monitoring tools would send them.
func demoAlerts(slug string) []alerts.Signal {
	host := strings.SplitN(slug, "-", 2)[0]
	list := []alerts.Signal{
		{Source: "agent", Rule: "disk-full", Severity: alerts.SeverityCritical, Summary: "Disk / at 97% on " + host + "-fs01",
			Endpoint: host + "-fs01", Labels: map[string]string{"host": host + "-fs01", "mount": "/"}},
		{Source: "alertmanager", Rule: "HighLatency", Severity: alerts.SeverityWarning, Summary: "VPN latency above 250 ms",
			Endpoint: host + "-vpn", Labels: map[string]string{"instance": host + "-vpn"}},
		{Source: "agent", Rule: "cpu-high", Severity: alerts.SeverityWarning, Summary: "CPU above 90% for 5 minutes on " + host + "-app02",
			Endpoint: host + "-app02", Labels: map[string]string{"host": host + "-app02"}},
	}
	if slug == "borealis-logistics" {
		return list[1:] // a calmer client
	}
	return list
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05")
}
