package slas

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// ConsoleRoutes registers the download of a client's monthly report as a
// PDF in its brand (?month=YYYY-MM, default this month).
func (d *Documents) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/sla/report.pdf", authz.TenantView, func(c echo.Context) error {
		return d.download(c, true)
	})
}

// PortalRoutes registers the same download on the client's portal.
func (d *Documents) PortalRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/sla/report.pdf", authz.PortalView, func(c echo.Context) error {
		return d.download(c, false)
	})
}

// download answers with the PDF as an attachment; a malformed month is a
// 400 saying the shape expected. The console's file name starts with the
// client's slug (staff download several clients'), the portal's does not.
func (d *Documents) download(c echo.Context, console bool) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	month, err := d.reports.MonthOf(c.QueryParam("month"))
	if err != nil {
		return err
	}
	pdf, err := d.PDF(c.Request().Context(), t, month)
	if err != nil {
		return err
	}
	name := "sla-report-" + month.Format("2006-01") + ".pdf"
	if console {
		name = t.Slug + "-" + name
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s"`, name))
	return c.Blob(http.StatusOK, "application/pdf", pdf)
}
