package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/branding"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// demoTenants are three clients with distinct names, zones and activity.
var demoTenants = []struct {
	slug, name, domain, timezone string
	activity                     []string
	admin                        string
	primary, accent, logo        string // the portal's brand
}{
	{"acme-health", "Acme Health", "acme-health.localhost", "America/New_York",
		[]string{"onboarding call held", "firewall baseline agreed", "backup policy signed off"}, "it@acme-health.example",
		"#0f766e", "#0e7490", demoLogo("#0f766e", "A")},
	{"borealis-logistics", "Borealis Logistics", "borealis.localhost", "Europe/Oslo",
		[]string{"warehouse network mapped", "VPN concentrator added"}, "ops@borealis.example",
		"#1e3a8a", "#2563eb", demoLogo("#1e3a8a", "B")},
	{"cedar-legal", "Cedar & Pine Legal", "cedar-legal.localhost", "Europe/Berlin",
		[]string{"document server audited", "MFA rollout planned", "laptop fleet inventoried", "retention policy drafted"}, "office@cedar-legal.example",
		"#7c2d12", "#b45309", demoLogo("#7c2d12", "C")},
}

// demoLogo is a round SVG badge with a letter.
func demoLogo(colour, letter string) string {
	return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 40 40"><circle cx="20" cy="20" r="19" fill="` + colour +
		`"/><text x="20" y="27" font-family="sans-serif" font-size="20" font-weight="700" text-anchor="middle" fill="#fff">` + letter + `</text></svg>`
}

func newDemoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Seed demo clients with some data (existing clients are left alone; staff passwords are reset and printed)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTenants(cmd, func(e *env) error {
				ctx := cmd.Context()
				w := cmd.OutOrStdout()
				for _, d := range demoTenants {
					t, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: d.slug, Name: d.name, Domain: d.domain,
						TrustDomain: true}) // *.localhost cannot be proven in DNS; the demo trusts its own names
					if errors.Is(err, tenants.ErrConflict) {
						fmt.Fprintf(w, "demo: %s already exists\n", d.slug)
						continue
					}
					if err != nil {
						return err
					}
					err = tenancy.Do(ctx, e.tenants.Scope(t), func(tx *gorm.DB) error {
						if err := tx.Exec(`UPDATE settings SET value = ?, updated_at = now() WHERE key = 'timezone'`, d.timezone).Error; err != nil {
							return err
						}
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
						return fmt.Errorf("seeding %s: %w", d.slug, err)
					}
					_, password, err := e.identity.CreateClientUser(ctx, e.tenants.Scope(t), identity.ClientInput{Email: d.admin, Name: d.name + " IT", Role: identity.RoleClientAdmin})
					if err != nil {
						return fmt.Errorf("seeding %s: %w", d.slug, err)
					}
					if _, err := e.alerts.Ingest(ctx, e.tenants.Scope(t), demoAlerts(d.slug)); err != nil {
						return fmt.Errorf("seeding alerts of %s: %w", d.slug, err)
					}
					if _, err := e.branding.Save(ctx, e.tenants.Scope(t), branding.Input{DisplayName: d.name, PrimaryColor: d.primary, AccentColor: d.accent,
						SupportEmail: "support@" + strings.SplitN(d.admin, "@", 2)[1], SupportPhone: "+1 555 0100", SenderName: d.name + " IT Service Desk",
						Logo: []byte(d.logo)}); err != nil {
						return fmt.Errorf("branding %s: %w", d.slug, err)
					}
					fmt.Fprintf(w, "demo: created %s (%s), portal http://%s:8080/, client admin %s / %s\n", d.name, d.slug, d.domain, d.admin, password)
				}
				return demoStaff(cmd, e)
			})
		},
	}
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

// demoStaff makes sure the demo owner and a technician limited to one client
// exist, and prints working logins (their passwords are reset on every run,
// since a password is only ever shown once).
func demoStaff(cmd *cobra.Command, e *env) error {
	ctx := cmd.Context()
	w := cmd.OutOrStdout()
	for _, in := range []identity.StaffInput{
		{Email: "owner@switchboard.example", Name: "Demo Owner", Role: identity.RoleOwner, Scope: identity.ScopeAll},
		{Email: "tech@switchboard.example", Name: "Demo Technician", Role: identity.RoleTechnician, Scope: identity.ScopeList, Tenants: []string{"acme-health"}},
	} {
		_, password, err := e.identity.CreateStaff(ctx, in)
		if errors.Is(err, identity.ErrConflict) {
			password, err = e.identity.ResetStaffPassword(ctx, in.Email, "")
		}
		if err != nil {
			return fmt.Errorf("demo staff %s: %w", in.Email, err)
		}
		fmt.Fprintf(w, "demo: staff %-9s %s / %s\n", in.Role, in.Email, password)
	}
	fmt.Fprintln(w, "demo: sign in at http://127.0.0.1:8080/login")
	if req := e.cfg.Security.RequireMFA; len(req) > 0 {
		fmt.Fprintf(w, "demo: %s must add a second factor at their first sign-in (security.require_mfa: %s); passkeys need http://localhost:8080,\n"+
			"demo:   `switchboard user mfa reset EMAIL` starts over, SWITCHBOARD_SECURITY_REQUIRE_MFA=none make run requires it of nobody\n",
			strings.Join(req, " and "), strings.Join(req, ", "))
	}
	return nil
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05")
}
