package identity

import (
	"net/http"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// PortalRoutes registers sign-in and sign-out on a client's portal, and the
// page where the client's admins manage their own users.
func (s *Service) PortalRoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, "/login", authz.Public, s.portalLoginForm, s.offerPortalSSO)
	a.Route(e, http.MethodPost, "/login", authz.Public, s.portalLogin(sm), s.offerPortalSSO)
	a.Route(e, http.MethodPost, "/logout", authz.PortalView, logout(sm))

	v := portalUsers
	a.Route(e, http.MethodGet, "/users", authz.PortalManage, s.clientUsers(v))
	a.Route(e, http.MethodPost, "/users", authz.PortalManage, s.createClientUser(v))
	a.Route(e, http.MethodPost, "/users/:email/disable", authz.PortalManage, s.clientUserAction(v, "disable"))
	a.Route(e, http.MethodPost, "/users/:email/enable", authz.PortalManage, s.clientUserAction(v, "enable"))
	a.Route(e, http.MethodPost, "/users/:email/reset-password", authz.PortalManage, s.clientUserAction(v, "reset"))
}

func (s *Service) portalLoginForm(c echo.Context) error { return signInForm(c, "portal/login.html") }

func (s *Service) portalLogin(sm *scs.SessionManager) echo.HandlerFunc {
	return signIn("portal/login.html", func(c echo.Context, email, password string) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		u, err := s.AuthenticateClient(ctx, t, email, password, c.RealIP())
		if err != nil {
			return err
		}
		return StartClientSession(ctx, sm, t, u)
	})
}
