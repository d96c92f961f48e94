package identity

import (
	"errors"
	"net/http"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleSSORoutes registers staff single sign-on and, for staff, each
// client's portal sign-on settings.
func (s *Service) ConsoleSSORoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	s.StaffSSORoutes(a, e, sm)
	v := consoleSSO
	a.Route(e, http.MethodGet, "/t/:slug/sso", authz.TenantView, s.ssoSettingsPage(v))
	a.Route(e, http.MethodPost, "/t/:slug/sso", authz.TenantAdmin, s.saveSSOSettings(v))
	a.Route(e, http.MethodPost, "/t/:slug/sso/remove", authz.TenantAdmin, s.removeSSOSettings(v))
}

// PortalSSORoutes registers sign-in with the client's own identity provider
// on its portal, and the page where its admins configure it.
func (s *Service) PortalSSORoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, SSOStartPath, authz.Public, s.portalSSOStart(sm))
	a.Route(e, http.MethodGet, SSOCallbackPath, authz.Public, s.portalSSOCallback(sm))
	v := portalSSO
	a.Route(e, http.MethodGet, "/sso", authz.PortalManage, s.ssoSettingsPage(v))
	a.Route(e, http.MethodPost, "/sso", authz.PortalManage, s.saveSSOSettings(v))
	a.Route(e, http.MethodPost, "/sso/remove", authz.PortalManage, s.removeSSOSettings(v))
}

var errNoPortalSSO = echo.NewHTTPError(http.StatusNotFound, "Single sign-on is not set up for this portal.")

func (s *Service) portalSSOStart(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, ok := portalTenant(ctx)
		if !ok {
			return errNoPortalSSO
		}
		rp, _, ok, err := s.portalRelyingParty(ctx, t)
		if err != nil {
			return err
		}
		if !ok {
			return errNoPortalSSO
		}
		to, err := s.beginSSO(ctx, sm, rp, s.redirectURL(c, ""), web.LocalPath(c.QueryParam("next")))
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
}

// portalSSOCallback completes a sign-in on the portal of the host's client:
// the flow must be in this host's session (which lives in this client's
// schema), and the token must come from this client's issuer for this
// client's id.
func (s *Service) portalSSOCallback(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, ok := portalTenant(ctx)
		if !ok {
			return errNoPortalSSO
		}
		rp, settings, ok, err := s.portalRelyingParty(ctx, t)
		if err != nil {
			return err
		}
		if !ok {
			sm.Remove(ctx, ssoFlowKey) // one use, even when refused
			return errNoPortalSSO
		}
		id, err := s.finishSSO(c, sm, rp)
		if err != nil {
			return err
		}
		u, err := s.SignInClientSSO(ctx, t, id, settings.CreateUsers, c.RealIP())
		if err != nil {
			return err
		}
		if err := StartClientSession(ctx, sm, t, u); err != nil {
			return err
		}
		recordSSOSignIn(ctx, sm, s.sso.mfaDoneAtIdP(id.AMR))
		return c.Redirect(http.StatusSeeOther, web.LocalPath(id.Next))
	}
}

// ssoView is where a client's sign-on settings are edited: by staff in the
// console, or by the client's own admins on their portal.
type ssoView struct {
	template string
	base     func(t tenancy.Tenant) string
	portal   bool
}

var (
	consoleSSO = ssoView{"console/sso.html", func(t tenancy.Tenant) string { return "/t/" + t.Slug + "/sso" }, false}
	portalSSO  = ssoView{"portal/sso.html", func(tenancy.Tenant) string { return "/sso" }, true}
)

// ssoSettingsPage is what the settings page shows.
type ssoSettingsPage struct {
	Settings   PortalSSO
	Configured bool
	Form       PortalSSOInput
	Base       string
	Portal     bool
	Encrypted  bool     // secrets are encrypted at rest
	Redirects  []string // redirect URLs to register at the provider
	CanEdit    bool
}

func (s *Service) ssoSettingsPage(v ssoView) echo.HandlerFunc {
	return func(c echo.Context) error {
		return s.renderSSOSettings(c, v, http.StatusOK, nil, "")
	}
}

func (s *Service) renderSSOSettings(c echo.Context, v ssoView, status int, form *PortalSSOInput, errMsg string) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	settings, ok, err := s.PortalSSOSettings(ctx, t)
	if err != nil {
		return err
	}
	p := ssoSettingsPage{Settings: settings, Configured: ok, Base: v.base(t), Portal: v.portal, Encrypted: s.SSOSecretsEncrypted(), CanEdit: true}
	p.Form = PortalSSOInput{Issuer: settings.Issuer, ClientID: settings.ClientID, Label: settings.Label, CreateUsers: settings.CreateUsers}
	if form != nil {
		p.Form = *form
		p.Form.ClientSecret = "" // never echoed back
	}
	if v.portal {
		p.Redirects = []string{s.redirectURL(c, "")}
	} else {
		sub, _ := authz.SubjectFrom(ctx)
		p.CanEdit = sub.Role == RoleOwner || sub.Role == RoleAdmin
		domains, err := s.tenants.ListDomains(ctx, t.Slug)
		if err != nil {
			return err
		}
		scheme := "http://"
		if s.sso.opts.HTTPS {
			scheme = "https://"
		}
		for _, d := range domains {
			if d.Verified {
				p.Redirects = append(p.Redirects, scheme+d.Hostname+SSOCallbackPath)
			}
		}
	}
	title := "Single sign-on"
	return c.Render(status, v.template, web.Page{Title: title, Error: errMsg, Data: p})
}

func (s *Service) saveSSOSettings(v ssoView) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		in := PortalSSOInput{Issuer: c.FormValue("issuer"), ClientID: c.FormValue("client_id"), ClientSecret: c.FormValue("client_secret"),
			Label: c.FormValue("label"), CreateUsers: c.FormValue("create_users") == "1"}
		_, err := s.SavePortalSSO(ctx, t, in)
		if status, msg, ok := web.Refusal(err); ok {
			if status == http.StatusBadRequest {
				status = http.StatusUnprocessableEntity
			}
			return s.renderSSOSettings(c, v, status, &in, msg)
		}
		if err != nil {
			return err
		}
		return web.RedirectFlash(c, v.base(t), "Single sign-on saved.")
	}
}

func (s *Service) removeSSOSettings(v ssoView) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		err := s.RemovePortalSSO(ctx, t)
		if errors.Is(err, ErrNotFound) {
			return echo.NewHTTPError(http.StatusNotFound, "Single sign-on is not set up for this client.")
		}
		if err != nil {
			return err
		}
		return web.RedirectFlash(c, v.base(t), "Single sign-on removed: users sign in with their passwords.")
	}
}

// SSOButton is the "Sign in with …" button of a sign-in form.
type SSOButton struct{ Label string }

const ssoButtonKey = "identity.sso_button"

// ssoButtonOf is the button the sign-in route's offerSSO middleware found
// for this surface (nil: none).
func ssoButtonOf(c echo.Context) *SSOButton {
	b, _ := c.Get(ssoButtonKey).(*SSOButton)
	return b
}

// offerStaffSSO puts the console's sign-on button on its sign-in form when
// staff single sign-on is configured.
func (s *Service) offerStaffSSO(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.StaffSSOEnabled() {
			c.Set(ssoButtonKey, &SSOButton{Label: s.sso.opts.Staff.Label})
		}
		return next(c)
	}
}

// offerPortalSSO puts the client's sign-on button on its portal's sign-in
// form when the client has configured its provider.
func (s *Service) offerPortalSSO(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if t, ok := portalTenant(ctx); ok {
			settings, configured, err := s.PortalSSOSettings(ctx, t)
			if err != nil {
				return err
			}
			if configured {
				label := strings.TrimSpace(settings.Label)
				if label == "" {
					label = "your organization's account"
				}
				c.Set(ssoButtonKey, &SSOButton{Label: label})
			}
		}
		return next(c)
	}
}
