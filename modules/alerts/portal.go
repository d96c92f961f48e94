package alerts

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// PortalRoutes registers the alert pages of a client's portal: read-only,
// with the client's view of each timeline.
func (s *Service) PortalRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/alerts", authz.PortalView, s.portalList)
	a.Route(e, http.MethodGet, "/alerts/:id", authz.PortalView, s.portalDetail)
	a.Route(e, http.MethodPost, "/alerts/:id/notes", authz.PortalView, s.portalReply)
}

// portalListPage is what the portal's alert list shows.
type portalListPage struct {
	Status string
	Alerts []Alert
}

func (s *Service) portalList(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	status := c.QueryParam("status")
	switch status {
	case "":
		status = "open"
	case "open", StatusResolved:
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "status must be open or resolved")
	}
	list, err := s.List(c.Request().Context(), t, Filter{Status: status, Limit: 200})
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "portal/alerts.html", "Alerts", portalListPage{Status: status, Alerts: list})
}

// portalDetailPage is what the portal's alert page shows.
type portalDetailPage struct {
	Alert    Alert
	Timeline []ClientEvent
	SLA      *SLAPanel
	Waiting  bool // Support asked the client something
}

func (s *Service) portalDetail(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := alertID(c)
	if err != nil {
		return err
	}
	a, events, err := s.Get(ctx, t, id)
	// Suppressed alerts are the MSP's filtering, not the client's business.
	if errors.Is(err, ErrNotFound) || (err == nil && a.Status == StatusSuppressed) {
		return echo.NewHTTPError(http.StatusNotFound, "No such alert.")
	}
	if err != nil {
		return err
	}
	page := portalDetailPage{Alert: a, Timeline: ClientTimeline(ByTime(events)), Waiting: Waiting(events)}
	if page.SLA, err = s.sla(ctx, t, a, events); err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "portal/alert.html", fmt.Sprintf("Alert #%d", a.ID), page)
}

// portalReply adds the client's note; when Support was waiting for an
// answer, it is the answer and the alert resumes.
func (s *Service) portalReply(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := alertID(c)
	if err != nil {
		return err
	}
	resumed, err := s.ClientReply(ctx, t, id, c.FormValue("note"))
	switch {
	case errors.Is(err, ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such alert.")
	case err != nil:
		return err // invalid input answers 400 with its message, as on the console
	}
	flash := "Your note was sent to Support."
	if resumed {
		flash = "Thank you: your answer was sent and Support is back on it."
	}
	return web.RedirectFlash(c, fmt.Sprintf("/alerts/%d", id), flash)
}
