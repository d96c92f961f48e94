package tenants

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// The token scopes of the domain routes: a hostname is part of the client's
// record, so the clients' scopes cover it.
const (
	apiScopeClientsRead  = "clients:read"
	apiScopeClientsWrite = "clients:write"
)

// DomainAPIv1Routes registers a client's portal domains on the staff REST
// API, with the console's permission: tenant administration.
func (s *Service) DomainAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("Domain", apidoc.Schema{"type": "object",
		"required": []string{"hostname", "primary", "verified", "created_at", "verify_token"},
		"properties": apidoc.Schema{
			"hostname": apidoc.Schema{"type": "string"}, "primary": apidoc.Schema{"type": "boolean"},
			"verified": apidoc.Schema{"type": "boolean"}, "created_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"verify_token": apidoc.Schema{"type": "string", "description": "the value the TXT record must hold"},
			"verified_at":  apidoc.Schema{"type": "string", "format": "date-time"},
			"checked_at":   apidoc.Schema{"type": "string", "format": "date-time"},
			"check_error":  apidoc.Schema{"type": "string", "description": "why the last check failed"},
		}})
	api.Doc.Define("DomainList", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Domain")},
	}})
	api.Doc.Define("DomainAdded", apidoc.Schema{"type": "object", "required": []string{"domain", "txt_record"}, "properties": apidoc.Schema{
		"domain": apidoc.Ref("Domain"),
		"txt_record": apidoc.Schema{"type": "object", "required": []string{"name", "type", "value"}, "properties": apidoc.Schema{
			"name": apidoc.Schema{"type": "string"}, "type": apidoc.Schema{"type": "string", "enum": []string{"TXT"}},
			"value": apidoc.Schema{"type": "string"},
		}},
	}})
	const base = "/api/v1/clients/:slug/domains"
	one := map[int]apidoc.Response{http.StatusOK: {Description: "the domain", Schema: apidoc.Ref("Domain")}}
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listDomains", Tag: "domains",
		Summary:   "List a client's portal hostnames",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the domains", Schema: apidoc.Ref("DomainList")}},
	}, authz.TenantAdmin, apiScopeClientsRead, s.apiDomains)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "addDomain", Tag: "domains", Creates: true,
		Summary:     "Add a portal hostname, unverified; answers with the TXT record that proves ownership",
		Description: "The portal answers on the hostname once verify has found the TXT record. A client's first domain is its primary one.",
		Body: apidoc.Schema{"type": "object", "required": []string{"host"}, "properties": apidoc.Schema{
			"host": apidoc.Schema{"type": "string", "example": "portal.example.com"},
		}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the domain and its TXT record", Schema: apidoc.Ref("DomainAdded")}},
	}, authz.TenantAdmin, apiScopeClientsWrite, s.apiAddDomain)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:host/verify", ID: "verifyDomain", Tag: "domains",
		Summary:     "Check the domain's TXT record now",
		Description: "422 when the check fails, with the reason; the failure is recorded on the domain (check_error).",
		Responses:   one,
	}, authz.TenantAdmin, apiScopeClientsWrite, s.apiVerifyDomain)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:host/primary", ID: "setPrimaryDomain", Tag: "domains",
		Summary: "Make a verified domain the client's primary one", Responses: one,
	}, authz.TenantAdmin, apiScopeClientsWrite, s.apiPrimaryDomain)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base + "/:host", ID: "removeDomain", Tag: "domains",
		Summary:   "Remove a portal hostname: the portal no longer answers on it",
		Responses: map[int]apidoc.Response{http.StatusNoContent: {Description: "removed"}},
	}, authz.TenantAdmin, apiScopeClientsWrite, s.apiRemoveDomain)
}

func (s *Service) apiDomains(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.ListDomains(c.Request().Context(), t.Slug)
	if err != nil {
		return err
	}
	if list == nil {
		list = []Domain{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *Service) apiAddDomain(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	var body struct {
		Host string `json:"host"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	d, err := s.AddDomain(c.Request().Context(), t.Slug, strings.TrimSpace(body.Host))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"domain": d,
		"txt_record": map[string]string{"name": d.ChallengeName(), "type": "TXT", "value": d.VerifyToken}})
}

// apiVerifyDomain runs the DNS check. Unlike the console page, which shows
// the outcome with 200, the API answers a failed check with 422 and the
// reason, so a script can tell the outcomes apart by status.
func (s *Service) apiVerifyDomain(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	host, err := NormalizeHostname(c.Param("host"))
	if err != nil {
		return err
	}
	d, err := s.VerifyDomain(c.Request().Context(), t.Slug, host)
	if errors.Is(err, ErrUnverified) {
		return apidoc.Fail(http.StatusUnprocessableEntity, web.Sentence(checkOutcome(err)))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Service) apiPrimaryDomain(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	host, err := NormalizeHostname(c.Param("host"))
	if err != nil {
		return err
	}
	if err := s.SetPrimary(ctx, t.Slug, host); err != nil {
		return err
	}
	d, err := s.domain(ctx, t.Slug, host)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, d)
}

func (s *Service) apiRemoveDomain(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	host, err := NormalizeHostname(c.Param("host"))
	if err != nil {
		return err
	}
	if err := s.RemoveDomain(c.Request().Context(), t.Slug, host); err != nil {
		return err // no such domain: 404
	}
	return c.NoContent(http.StatusNoContent)
}
