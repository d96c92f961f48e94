package agents

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// PortalRoutes registers the client portal's endpoint list.
func (s *Service) PortalRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/endpoints", authz.PortalView, func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		list, err := s.ListEndpoints(c.Request().Context(), t)
		if err != nil {
			return err
		}
		return web.Render(c, http.StatusOK, "portal/endpoints.html", "Endpoints", list)
	})
}
