package tenants

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers the console's client pages: the switcher's search, onboarding and a client's status
// (the client's dashboard at /t/:slug/ is dashboard.ClientOverview's).
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/switcher", authz.ConsoleView, s.switcher(a))
	a.Route(e, http.MethodGet, "/clients/new", authz.PlatformManage, s.newClientForm)
	a.Route(e, http.MethodPost, "/clients", authz.PlatformManage, s.createClient)
	a.Route(e, http.MethodGet, "/t/:slug", authz.TenantView, func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, c.Request().URL.Path+"/")
	})
	a.Route(e, http.MethodPost, "/t/:slug/suspend", authz.TenantAdmin, s.changeStatus(true))
	a.Route(e, http.MethodPost, "/t/:slug/resume", authz.TenantAdmin, s.changeStatus(false))
	a.Route(e, http.MethodGet, "/t/:slug/apikeys", authz.TenantAdmin, s.apiKeysPage)
	a.Route(e, http.MethodPost, "/t/:slug/apikeys", authz.TenantAdmin, s.createAPIKeyForm)
	a.Route(e, http.MethodPost, "/t/:slug/apikeys/:prefix/revoke", authz.TenantAdmin, s.revokeAPIKeyForm)
	s.domainRoutes(a, e)
	s.attestRoutes(a, e)
	s.settingsRoutes(a, e)
}

// APIRoutes registers the API's identity endpoint.
func (s *Service) APIRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/api/v1/tenant", authz.APIKey, func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		return c.JSON(http.StatusOK, map[string]any{"slug": t.Slug, "name": t.Name, "schema_version": t.SchemaVersion})
	})
}

// VisibleIDs are the tenants the signed-in staff user may see.
func (s *Service) VisibleIDs(c echo.Context, a *authz.Authorizer) ([]int64, error) {
	ctx := c.Request().Context()
	sub, _ := authz.SubjectFrom(ctx)
	all, err := s.IDs(ctx)
	if err != nil {
		return nil, err
	}
	return a.VisibleTenants(sub, all), nil
}

func (s *Service) switcher(a *authz.Authorizer) echo.HandlerFunc {
	return func(c echo.Context) error {
		ids, err := s.VisibleIDs(c, a)
		if err != nil {
			return err
		}
		q := strings.TrimSpace(c.QueryParam("q"))
		if len(q) > 100 {
			return echo.NewHTTPError(http.StatusBadRequest, "search text is too long")
		}
		list, err := s.Search(c.Request().Context(), ids, q, 20)
		if err != nil {
			return err
		}
		out := make([]web.SwitcherTenant, len(list))
		for i, t := range list {
			out[i] = web.SwitcherTenant{Slug: t.Slug, Name: t.Name, Status: t.Status}
		}
		return c.JSON(http.StatusOK, out)
	}
}

// clientForm is the onboarding form's state.
type clientForm struct {
	Slug, Name, Domain string
}

func (s *Service) newClientForm(c echo.Context) error {
	return web.Render(c, http.StatusOK, "console/client_new.html", "Onboard a client", clientForm{})
}

func (s *Service) createClient(c echo.Context) error {
	f := clientForm{Slug: strings.TrimSpace(c.FormValue("slug")), Name: strings.TrimSpace(c.FormValue("name")), Domain: strings.TrimSpace(c.FormValue("domain"))}
	t, err := s.Create(c.Request().Context(), CreateInput{Slug: f.Slug, Name: f.Name, Domain: f.Domain})
	if status, msg, ok := web.Refusal(err); ok {
		return web.RenderError(c, status, "console/client_new.html", "Onboard a client", msg, f)
	}
	if err != nil {
		return err
	}
	if len(t.Domains) > 0 { // added unverified: the next step is its TXT record
		return web.RedirectFlash(c, "/t/"+t.Slug+"/domains", t.Name+" is ready. Create the TXT record below to verify "+t.Domains[0].Hostname+".")
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/", t.Name+" is ready.")
}

func (s *Service) changeStatus(suspend bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		change, msg := s.Resume, " is active again."
		if suspend {
			change, msg = s.Suspend, " is suspended: its portal and API refuse every request."
		}
		if _, err := change(c.Request().Context(), t.Slug); err != nil {
			return err // a change the client's status does not allow is a conflict (409)
		}
		return web.RedirectFlash(c, "/t/"+t.Slug+"/", t.Name+msg)
	}
}

type apiKeysPage struct {
	Keys []APIKey
	Key  string // a key just created, shown once
	Name string
}

func (s *Service) apiKeysPage(c echo.Context) error {
	return s.renderAPIKeys(c, http.StatusOK, apiKeysPage{}, "")
}

func (s *Service) renderAPIKeys(c echo.Context, status int, p apiKeysPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	keys, err := s.ListAPIKeys(c.Request().Context(), t.Slug)
	if err != nil {
		return err
	}
	p.Keys = keys
	return c.Render(status, "console/apikeys.html", web.Page{Title: "API keys · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) createAPIKeyForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	k, plain, err := s.CreateAPIKey(c.Request().Context(), t.Slug, c.FormValue("name"))
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderAPIKeys(c, status, apiKeysPage{}, msg)
	}
	if err != nil {
		return err
	}
	return s.renderAPIKeys(c, http.StatusCreated, apiKeysPage{Key: plain, Name: k.Name}, "")
}

func (s *Service) revokeAPIKeyForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	// Revoking twice is harmless (the key is dead either way); a prefix that
	// names no key of this client is a 404, never a "revoked".
	err := s.RevokeAPIKey(c.Request().Context(), t.Slug, c.Param("prefix"))
	if errors.Is(err, ErrAPIKeyRevoked) {
		return web.RedirectFlash(c, "/t/"+t.Slug+"/apikeys", "Key "+c.Param("prefix")+" was already revoked.")
	}
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "This client has no such API key.")
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/apikeys", "Key "+c.Param("prefix")+" revoked.")
}
