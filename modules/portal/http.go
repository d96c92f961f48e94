package portal

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/slas"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// Routes registers the portal's home page.
func (s *Service) Routes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/", authz.PortalView, s.home)
}

// homePage is the client's overview: what is open, how its machines are,
// and this month's service levels.
type homePage struct {
	Open      map[string]int
	OpenTotal int
	Alerts    []alerts.Alert
	Endpoints []agents.Endpoint
	Online    int
	SLA       slas.Report // this month, open overdue alerts counted as missed (slas.Reports.Current)
}

func (s *Service) home(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var p homePage
	var err error
	if p.Open, err = s.alerts.OpenCounts(ctx, t); err != nil {
		return err
	}
	for _, n := range p.Open {
		p.OpenTotal += n
	}
	if p.Alerts, err = s.alerts.List(ctx, t, alerts.Filter{Status: "open", Limit: 10}); err != nil {
		return err
	}
	if p.Endpoints, err = s.agents.ListEndpoints(ctx, t); err != nil {
		return err
	}
	for _, ep := range p.Endpoints {
		if ep.Status == agents.StatusOnline {
			p.Online++
		}
	}
	if p.SLA, err = s.reports.Current(ctx, t, s.now()); err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "portal/home.html", "Overview", p)
}
