package dashboard

import (
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ClientDeps are the services whose data the client dashboard shows; each
// owns the tables it counts.
type ClientDeps struct {
	Tenants  *tenants.Service
	Alerts   *alerts.Service
	Agents   *agents.Service
	Identity *identity.Service
	Notify   *notify.Service
	Audit    *audit.Service
	Reports  *slas.Reports
	Now      func() time.Time // the clock; nil is time.Now (tests inject one)
}

// ClientOverview is the console's per-client dashboard at /t/:slug/.
type ClientOverview struct {
	d ClientDeps
}

// NewClientOverview returns the client dashboard.
func NewClientOverview(d ClientDeps) *ClientOverview {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &ClientOverview{d: d}
}

// ConsoleRoutes registers the client dashboard.
func (o *ClientOverview) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/", authz.TenantView, o.page)
}

func (o *ClientOverview) page(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	// Days end at the viewer's midnight: the staff user's own zone, as every
	// time on the console is shown.
	v, err := o.Load(ctx, t, web.ZoneFrom(ctx))
	if err != nil {
		return err
	}
	v.PortalURL = sameServer(c, v.PortalURL)
	return web.Render(c, http.StatusOK, "console/client.html", t.Name, v)
}

// sameServer points a portal link at the server answering this console
// request: the portal is served by the same process, so a console opened
// over plain HTTP on a port (development, "make run") links to the portal
// over plain HTTP on that port, and one behind TLS on 443 links to https.
func sameServer(c echo.Context, portal string) string {
	u, err := url.Parse(portal)
	if err != nil || portal == "" {
		return portal
	}
	u.Scheme = c.Scheme()
	if _, port, err := net.SplitHostPort(c.Request().Host); err == nil && port != "" &&
		!(u.Scheme == "http" && port == "80") && !(u.Scheme == "https" && port == "443") {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	return u.String()
}
