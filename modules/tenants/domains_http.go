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

// domainRoutes registers the console's page of a client's portal hostnames.
// They are tenant administration, like API keys: a hostname decides who the
// portal answers.
func (s *Service) domainRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/domains", authz.TenantAdmin, s.domainsPage)
	a.Route(e, http.MethodPost, "/t/:slug/domains", authz.TenantAdmin, s.addDomainForm)
	a.Route(e, http.MethodPost, "/t/:slug/domains/:host/verify", authz.TenantAdmin, s.verifyDomainForm)
	a.Route(e, http.MethodPost, "/t/:slug/domains/:host/primary", authz.TenantAdmin, s.primaryDomainForm)
	a.Route(e, http.MethodPost, "/t/:slug/domains/:host/remove", authz.TenantAdmin, s.removeDomainForm)
}

// domainsPage is the page's data: the domains and the add form's value.
type domainsPage struct {
	Domains []Domain
	Host    string
	Prefix  string // ChallengePrefix, for the explanation
}

func (s *Service) domainsPage(c echo.Context) error {
	return s.renderDomains(c, http.StatusOK, "", "")
}

func (s *Service) renderDomains(c echo.Context, status int, host, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.ListDomains(c.Request().Context(), t.Slug)
	if err != nil {
		return err
	}
	return c.Render(status, "console/domains.html", web.Page{Title: "Domains · " + t.Name, Error: errMsg,
		Data: domainsPage{Domains: list, Host: host, Prefix: ChallengePrefix}})
}

// domainError answers a refused change with the page, a 4xx and the reason;
// anything else goes to the error handler.
func (s *Service) domainError(c echo.Context, err error, host string) error {
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderDomains(c, status, host, msg)
	}
	return err
}

func (s *Service) addDomainForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	host := strings.TrimSpace(c.FormValue("host"))
	d, err := s.AddDomain(c.Request().Context(), t.Slug, host)
	if err != nil {
		return s.domainError(c, err, host)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/domains",
		"Added "+d.Hostname+". Create its TXT record (below), then press Verify.")
}

// verifyDomainForm runs the DNS check. A failed check is not a refused
// request: it ran and its outcome is recorded, so the page comes back with
// 200 and the reason.
func (s *Service) verifyDomainForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	d, err := s.VerifyDomain(c.Request().Context(), t.Slug, c.Param("host"))
	if errors.Is(err, ErrUnverified) {
		return s.renderDomains(c, http.StatusOK, "", web.Sentence(checkOutcome(err)))
	}
	if err != nil {
		return s.domainError(c, err, "")
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/domains", d.Hostname+" is verified: the portal answers on it.")
}

// checkOutcome is why a verification failed, for the page: the DNS check's
// own error, which VerifyDomain wraps together with ErrUnverified (the page
// already shows the domain as unverified).
func checkOutcome(err error) string {
	var both interface{ Unwrap() []error }
	if errors.As(err, &both) {
		for _, e := range both.Unwrap() {
			if !errors.Is(e, ErrUnverified) {
				return e.Error()
			}
		}
	}
	return err.Error()
}

func (s *Service) primaryDomainForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	host, err := NormalizeHostname(c.Param("host"))
	if err == nil {
		err = s.SetPrimary(c.Request().Context(), t.Slug, host)
	}
	if err != nil {
		return s.domainError(c, err, "")
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/domains", host+" is the primary domain.")
}

func (s *Service) removeDomainForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	host, err := NormalizeHostname(c.Param("host"))
	if err == nil {
		err = s.RemoveDomain(c.Request().Context(), t.Slug, host)
	}
	if err != nil {
		return s.domainError(c, err, "")
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/domains", host+" removed: the portal no longer answers on it.")
}
