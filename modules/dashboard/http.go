package dashboard

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// ConsoleRoutes registers the cross-client home.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/", authz.ConsoleView, s.home(a))
}

func (s *Service) home(a *authz.Authorizer) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		ids, err := s.tenants.VisibleIDs(c, a)
		if err != nil {
			return err
		}
		list, err := s.tenants.Summaries(ctx, ids)
		if err != nil {
			return err
		}
		counts := map[string]int{}
		for _, t := range list {
			counts[t.Status]++
			counts["critical"] += t.OpenCritical
			counts["warning"] += t.OpenWarning
		}
		queue, read, err := s.Queue(ctx, list, 25)
		if err != nil {
			return err
		}
		return web.Render(c, http.StatusOK, "console/home.html", "Clients",
			map[string]any{"Tenants": list, "Counts": counts, "Queue": queue, "SchemasRead": read})
	}
}
