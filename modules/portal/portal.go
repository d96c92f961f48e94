// Package portal is the client's own site on its own domain: the home page
// and the branded frame every portal page wears. The pages themselves belong
// to the modules whose data they show (alerts, agents, slas, identity).
package portal

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/slas"
	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// BrandSource returns how a tenant's portal looks (defaults when it set nothing).
type BrandSource func(ctx context.Context, t tenancy.Tenant) (web.Brand, error)

// Service builds the portal home page and frame.
type Service struct {
	alerts  *alerts.Service
	agents  *agents.Service
	reports *slas.Reports
	brand   BrandSource
	log     *slog.Logger
	now     func() time.Time

	zonesMu sync.Mutex
	zones   map[int64]cachedZone // tenant id → its time zone, read at most once a zoneTTL
}

// cachedZone is a client's time zone as read at a time.
type cachedZone struct {
	zone *time.Location
	at   time.Time
}

// zoneTTL bounds how long a changed time zone setting takes to show: every
// portal page needs the zone, and it changes about never.
const zoneTTL = time.Minute

// NewService returns the portal over the modules whose data it summarises.
func NewService(al *alerts.Service, ag *agents.Service, rep *slas.Reports, brand BrandSource, log *slog.Logger) *Service {
	return &Service{alerts: al, agents: ag, reports: rep, brand: brand, log: log, now: time.Now}
}

// Chrome fills the portal frame: the tenant's brand, who is signed in, the
// CSRF token, the active section and the client's time zone, in which every
// time on its portal is shown. A branding or settings failure falls back to
// the tenant's name on neutral colours, and to UTC, rather than failing the
// page.
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
	zone, err := s.clientZone(ctx, t)
	if err != nil {
		s.log.ErrorContext(ctx, "loading the client's time zone", "tenant", t.Slug, "err", err)
	}
	ch.Zone = zone
	return ch
}

// clientZone is the client's time zone setting (the tenant's "timezone"
// setting, e.g. America/New_York; UTC when unset or not a zone). The
// settings table is the tenants module's, which has no reader for one
// setting yet: this is that reader, one indexed row, until client settings
// get their own service.
func (s *Service) clientZone(ctx context.Context, t tenancy.Tenant) (*time.Location, error) {
	now := s.now()
	s.zonesMu.Lock()
	c, ok := s.zones[t.ID]
	s.zonesMu.Unlock()
	if ok && now.Sub(c.at) < zoneTTL {
		return c.zone, nil
	}
	zone, err := readZone(ctx, t)
	if err != nil {
		return zone, err
	}
	s.zonesMu.Lock()
	if s.zones == nil {
		s.zones = map[int64]cachedZone{}
	}
	s.zones[t.ID] = cachedZone{zone: zone, at: now}
	s.zonesMu.Unlock()
	return zone, nil
}

// readZone reads the client's time zone setting.
func readZone(ctx context.Context, t tenancy.Tenant) (*time.Location, error) {
	var name string
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT value FROM settings WHERE key = 'timezone'`).Scan(&name).Error
	})
	if err != nil {
		return time.UTC, err
	}
	return humane.Zone(name), nil
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
