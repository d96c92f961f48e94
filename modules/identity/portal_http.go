package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// PortalRoutes registers sign-in and sign-out on a client's portal, and the
// page where the client's admins manage their own users.
func (s *Service) PortalRoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, "/login", authz.Public, s.portalLoginForm)
	a.Route(e, http.MethodPost, "/login", authz.Public, s.portalLogin(sm))
	a.Route(e, http.MethodPost, "/logout", authz.PortalView, s.portalLogout(sm))

	v := portalUsers
	a.Route(e, http.MethodGet, "/users", authz.PortalManage, s.clientUsers(v))
	a.Route(e, http.MethodPost, "/users", authz.PortalManage, s.createClientUser(v))
	a.Route(e, http.MethodPost, "/users/:email/disable", authz.PortalManage, s.clientUserAction(v, "disable"))
	a.Route(e, http.MethodPost, "/users/:email/enable", authz.PortalManage, s.clientUserAction(v, "enable"))
	a.Route(e, http.MethodPost, "/users/:email/reset-password", authz.PortalManage, s.clientUserAction(v, "reset"))
}

func (s *Service) portalLoginForm(c echo.Context) error {
	if _, ok := authz.SubjectFrom(c.Request().Context()); ok {
		return c.Redirect(http.StatusSeeOther, safeNext(c.QueryParam("next")))
	}
	return web.Render(c, http.StatusOK, "portal/login.html", "Sign in", loginForm{Next: safeNext(c.QueryParam("next"))})
}

func (s *Service) portalLogin(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		f := loginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: safeNext(c.FormValue("next"))}
		u, err := s.AuthenticateClient(ctx, t, f.Email, c.FormValue("password"), c.RealIP())
		var throttled *ThrottledError
		switch {
		case errors.As(err, &throttled):
			secs := int(throttled.RetryAfter.Seconds()) + 1
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return web.RenderError(c, http.StatusTooManyRequests, "portal/login.html", "Sign in",
				fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", (secs+59)/60), f)
		case errors.Is(err, ErrBadLogin):
			return web.RenderError(c, http.StatusUnauthorized, "portal/login.html", "Sign in", "Invalid email or password.", f)
		case err != nil:
			return err
		}
		if err := StartClientSession(ctx, sm, t, u); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, f.Next)
	}
}

func (s *Service) portalLogout(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := sm.Destroy(c.Request().Context()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
}
