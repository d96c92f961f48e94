package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"gorm.io/gorm"

	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// demoTenants are three clients with distinct names, zones and activity.
var demoTenants = []struct {
	slug, name, domain, timezone string
	activity                     []string
}{
	{"acme-health", "Acme Health", "acme-health.localhost", "America/New_York",
		[]string{"onboarding call held", "firewall baseline agreed", "backup policy signed off"}},
	{"borealis-logistics", "Borealis Logistics", "borealis.localhost", "Europe/Oslo",
		[]string{"warehouse network mapped", "VPN concentrator added"}},
	{"cedar-legal", "Cedar & Pine Legal", "cedar-legal.localhost", "Europe/Berlin",
		[]string{"document server audited", "MFA rollout planned", "laptop fleet inventoried", "retention policy drafted"}},
}

func newDemoCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Seed demo clients with some data (idempotent: existing ones are left alone)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withTenants(cmd, func(e *env) error {
				ctx := cmd.Context()
				w := cmd.OutOrStdout()
				for _, d := range demoTenants {
					t, err := e.tenants.Create(ctx, tenants.CreateInput{Slug: d.slug, Name: d.name, Domain: d.domain})
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
					fmt.Fprintf(w, "demo: created %s (%s), portal http://%s:8080/\n", d.name, d.slug, d.domain)
				}
				return nil
			})
		},
	}
}

func stamp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format("2006-01-02 15:04:05")
}
