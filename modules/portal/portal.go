// Package portal is the client's own site on its own domain: the home page
// and the branded frame every portal page wears. The pages themselves belong
// to the modules whose data they show (alerts, agents, slas, identity).
package portal

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/slas"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// BrandSource returns how a tenant's portal looks (defaults when it set nothing).
type BrandSource func(ctx context.Context, t tenancy.Tenant) (web.Brand, error)

// SettingsSource returns the client's time zone and locale tag (its
// settings, owned by the tenants module), in which every time and number on
// its portal is shown.
type SettingsSource func(ctx context.Context, t tenancy.Tenant) (*time.Location, string, error)

// Service builds the portal home page and frame.
type Service struct {
	alerts   *alerts.Service
	agents   *agents.Service
	reports  *slas.Reports
	brand    BrandSource
	settings SettingsSource
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the portal over the modules whose data it summarises.
func NewService(al *alerts.Service, ag *agents.Service, rep *slas.Reports, brand BrandSource, settings SettingsSource, log *slog.Logger) *Service {
	return &Service{alerts: al, agents: ag, reports: rep, brand: brand, settings: settings, log: log, now: time.Now}
}

// Chrome fills the portal frame: the tenant's brand, who is signed in, the
// CSRF token, the active section and the client's time zone and locale, in
// which every time and number on its portal is shown. A branding or
// settings failure falls back to the tenant's name on neutral colours, and
// to UTC and ISO dates, rather than failing the page.
func (s *Service) Chrome(c echo.Context) web.Chrome {
	ctx := c.Request().Context()
	sub, _ := authz.SubjectFrom(ctx)
	ch := web.Chrome{User: sub.Email, Role: sub.Role, CSRF: web.CSRFToken(c), Path: c.Request().URL.Path, Section: section(c.Path())}
	t, ok := tenancy.FromContext(ctx)
	if !ok {
		return ch
	}
	b, err := s.brand(ctx, t)
	if err != nil {
		s.log.ErrorContext(ctx, "loading portal brand", "tenant", t.Slug, "err", err)
		b = web.Brand{Name: t.Name}
	}
	ch.Brand = &b
	zone, locale, err := s.settings(ctx, t)
	if err != nil {
		s.log.ErrorContext(ctx, "loading the client's settings", "tenant", t.Slug, "err", err)
		zone, locale = time.UTC, ""
	}
	ch.Zone, ch.Locale = zone, locale
	return ch
}

// section highlights the portal's navigation item for a route.
func section(route string) string {
	switch {
	case route == "/":
		return "home"
	case strings.HasPrefix(route, "/alerts"):
		return "alerts"
	case strings.HasPrefix(route, "/endpoints"):
		return "endpoints"
	case strings.HasPrefix(route, "/sla"):
		return "sla"
	case strings.HasPrefix(route, "/users"):
		return "users"
	}
	return ""
}
