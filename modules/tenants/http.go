package tenants

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// Routes registers the tenant pages: the console's client list and overview,
// the portal's landing page and the API's identity endpoint. Resolution has
// already happened in middleware; handlers only read the resolved tenant.
func (s *Service) Routes(e *echo.Echo) {
	e.GET("/", s.home)
	e.GET("/t/:slug", func(c echo.Context) error { return c.Redirect(http.StatusMovedPermanently, c.Request().URL.Path+"/") })
	e.GET("/t/:slug/", s.overview)
	e.GET("/api/v1/tenant", s.apiTenant)
}

func (s *Service) home(c echo.Context) error {
	ctx := c.Request().Context()
	if t, ok := tenancy.FromContext(ctx); ok {
		// A client's own domain: the portal.
		return c.Render(http.StatusOK, "portal/home.html", web.Page{Title: t.Name, Brand: t.Name, HomeURL: "/", Data: t})
	}
	list, err := s.List(ctx)
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "console/home.html", web.Page{Title: "Clients · Switchboard", Brand: "Switchboard", HomeURL: "/",
		Data: map[string]any{"Tenants": list}})
}

// setting and auditEntry are the overview's read models of tenant tables.
type setting struct {
	Key   string
	Value string
}

type auditEntry struct {
	At      time.Time
	Actor   string
	Action  string
	Summary string
}

func (s *Service) overview(c echo.Context) error {
	ctx := c.Request().Context()
	t, ok := tenancy.FromContext(ctx)
	if !ok || tenancy.Via(ctx) != tenancy.ViaPath {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	var settings []setting
	var audit []auditEntry
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT key, value FROM settings ORDER BY key`).Scan(&settings).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT at, actor, action, summary FROM audit_log ORDER BY at DESC, id DESC LIMIT 20`).Scan(&audit).Error
	})
	if err != nil {
		return err
	}
	return c.Render(http.StatusOK, "console/tenant.html", web.Page{Title: t.Name + " · Switchboard", Brand: "Switchboard", HomeURL: "/",
		Data: map[string]any{"Name": t.Name, "Settings": settings, "Audit": audit}})
}

func (s *Service) apiTenant(c echo.Context) error {
	t, ok := tenancy.FromContext(c.Request().Context())
	if !ok {
		return echo.NewHTTPError(http.StatusUnauthorized, "an API key is required")
	}
	return c.JSON(http.StatusOK, map[string]any{"slug": t.Slug, "name": t.Name, "schema_version": t.SchemaVersion})
}
