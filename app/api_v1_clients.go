package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// staffClientsAPI is the clients part of the staff REST API: thin handlers
// over tenants.Service. It lives in the composition root because it joins
// tenants with identity's tokens and the authorizer's view of the user.
type staffClientsAPI struct {
	tenants *tenants.Service
	authz   *authz.Authorizer
}

// apiClient is a client as the API shows it (no schema, role or cell).
type apiClient struct {
	ID        int64  `json:"id"`
	Slug      string `json:"slug"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func toAPIClient(t tenants.Tenant) apiClient {
	return apiClient{ID: t.ID, Slug: t.Slug, Name: t.Name, Status: t.Status, CreatedAt: t.CreatedAt.UTC().Format("2006-01-02T15:04:05Z07:00")}
}

func (h staffClientsAPI) routes(api *apidoc.API) {
	api.Doc.Define("Client", apidoc.Schema{"type": "object", "required": []string{"id", "slug", "name", "status", "created_at"},
		"properties": apidoc.Schema{
			"id": apidoc.Schema{"type": "integer"}, "slug": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"},
			"status":     apidoc.Schema{"type": "string", "enum": []string{"active", "suspended"}},
			"created_at": apidoc.Schema{"type": "string", "format": "date-time"},
		}})
	api.Doc.Define("ClientPage", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Client")},
		"next":  apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"},
	}})
	api.Doc.Define("ClientSettings", apidoc.Schema{"type": "object", "required": []string{"display_name", "timezone", "locale"},
		"properties": apidoc.Schema{
			"display_name": apidoc.Schema{"type": "string"}, "timezone": apidoc.Schema{"type": "string"},
			"locale": apidoc.Schema{"type": "string"}, "updated_at": apidoc.Schema{"type": "string", "format": "date-time"},
		}})
	client := map[int]apidoc.Response{http.StatusOK: {Description: "the client", Schema: apidoc.Ref("Client")}}
	etag := map[string]string{"ETag": "version of the settings, for If-Match"}
	const base = apiPrefix + "/clients"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listClients", Tag: "clients", Summary: "List the clients the token can see, by id",
		Params:    apidoc.PageParams(),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of clients", Schema: apidoc.Ref("ClientPage")}},
	}, authz.ConsoleView, identity.ScopeClientsRead, h.list)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "createClient", Tag: "clients",
		Summary: "Onboard a client: a ready tenant in one call",
		Creates: true,
		Body: apidoc.Schema{"type": "object", "required": []string{"slug", "name"}, "properties": apidoc.Schema{
			"slug": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"},
			"domain": apidoc.Schema{"type": "string", "description": "portal hostname, added unverified"}}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the new client", Schema: apidoc.Ref("Client"),
			Headers: map[string]string{"Location": "the client's URL", "Idempotent-Replayed": "true when this is a replayed response"}}},
	}, authz.PlatformManage, identity.ScopeClientsWrite, h.create)
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base + "/:slug", ID: "getClient", Tag: "clients", Summary: "Show a client", Responses: client},
		authz.TenantView, identity.ScopeClientsRead, h.get)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:slug/suspend", ID: "suspendClient", Tag: "clients",
		Summary: "Suspend a client: its portal and ingestion refuse requests until resumed", Responses: client},
		authz.TenantAdmin, identity.ScopeClientsWrite, h.status(true))
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:slug/resume", ID: "resumeClient", Tag: "clients",
		Summary: "Resume a suspended client", Responses: client},
		authz.TenantAdmin, identity.ScopeClientsWrite, h.status(false))
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base + "/:slug/settings", ID: "getClientSettings", Tag: "clients",
		Summary:   "A client's settings, with an ETag",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the settings", Schema: apidoc.Ref("ClientSettings"), Headers: etag}},
	}, authz.TenantView, identity.ScopeClientsRead, h.settings)
	api.Route(apidoc.Op{Method: http.MethodPut, Path: base + "/:slug/settings", ID: "putClientSettings", Tag: "clients",
		Summary:     "Change a client's settings (If-Match required)",
		Description: "Send the ETag of the settings you read as If-Match: 428 without it, 412 if they changed since. Absent fields are kept.",
		Params:      []apidoc.Param{{Name: "If-Match", In: "header", Required: true, Description: "the ETag read"}},
		Body: apidoc.Schema{"type": "object", "properties": apidoc.Schema{
			"display_name": apidoc.Schema{"type": "string"}, "timezone": apidoc.Schema{"type": "string"}, "locale": apidoc.Schema{"type": "string"}}},
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the settings as saved", Schema: apidoc.Ref("ClientSettings"), Headers: etag}},
	}, authz.TenantManage, identity.ScopeClientsWrite, h.putSettings)
}

// clientCursor is opaque: clients must not build one.
func clientCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("client:" + strconv.FormatInt(id, 10)))
}

func parseClientCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	id, ok := strings.CutPrefix(string(b), "client:")
	n, perr := strconv.ParseInt(id, 10, 64)
	if err != nil || !ok || perr != nil || n <= 0 {
		return 0, apidoc.Fail(http.StatusBadRequest, "cursor is not one this API gave out")
	}
	return n, nil
}

func (h staffClientsAPI) list(c echo.Context) error {
	ctx := c.Request().Context()
	limit, err := apidoc.PageLimit(c)
	if err != nil {
		return err
	}
	after, err := parseClientCursor(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	all, err := h.tenants.List(ctx)
	if err != nil {
		return err
	}
	s, _ := authz.SubjectFrom(ctx)
	tok := tokenOf(c)
	ids := make([]int64, 0, len(all))
	for _, t := range all {
		ids = append(ids, t.ID)
	}
	visible := h.authz.VisibleTenants(s, ids)
	var items []apiClient
	for _, t := range all {
		if t.ID > after && visibleStatus(t.Status) && tok.Covers(t.ID) && slices.Contains(visible, t.ID) {
			items = append(items, toAPIClient(t))
		}
	}
	slices.SortFunc(items, func(a, b apiClient) int { return int(a.ID - b.ID) })
	page := struct {
		Items []apiClient `json:"items"`
		Next  string      `json:"next,omitempty"`
	}{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.Next = clientCursor(items[limit-1].ID)
	}
	if page.Items == nil {
		page.Items = []apiClient{}
	}
	return c.JSON(http.StatusOK, page)
}

func (h staffClientsAPI) get(c echo.Context) error {
	t, err := h.tenants.Get(c.Request().Context(), c.Param("slug"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toAPIClient(t))
}

func (h staffClientsAPI) create(c echo.Context) error {
	var body struct {
		Slug   string `json:"slug"`
		Name   string `json:"name"`
		Domain string `json:"domain"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	t, err := h.tenants.Create(c.Request().Context(), tenants.CreateInput{Slug: body.Slug, Name: body.Name, Domain: body.Domain})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, apiPrefix+"/clients/"+t.Slug)
	return c.JSON(http.StatusCreated, toAPIClient(t))
}

func (h staffClientsAPI) status(suspend bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		change := h.tenants.Resume
		if suspend {
			change = h.tenants.Suspend
		}
		t, err := change(ctx, c.Param("slug"))
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, toAPIClient(t))
	}
}

// settingsETag is a strong validator of the settings as the API shows them.
func settingsETag(cs tenants.ClientSettings) string {
	b, _ := json.Marshal(cs)
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

func (h staffClientsAPI) settings(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	cs, err := h.tenants.ClientSettings(ctx, t)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", settingsETag(cs))
	return c.JSON(http.StatusOK, cs)
}

func (h staffClientsAPI) putSettings(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	match := c.Request().Header.Get("If-Match")
	if match == "" {
		return apidoc.Fail(http.StatusPreconditionRequired, "If-Match is required: send the ETag of the settings you read")
	}
	var body struct {
		DisplayName *string `json:"display_name"`
		TimeZone    *string `json:"timezone"`
		Locale      *string `json:"locale"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	// Compared inside the saving transaction, on the locked rows.
	ifMatch := func(current tenants.ClientSettings) error {
		if match != "*" && match != settingsETag(current) {
			return apidoc.Fail(http.StatusPreconditionFailed, "the settings changed since you read them; read them again")
		}
		return nil
	}
	saved, _, err := h.tenants.SaveSettings(ctx, t, tenants.SettingsInput{DisplayName: body.DisplayName, TimeZone: body.TimeZone, Locale: body.Locale,
		Precondition: ifMatch})
	var fields tenants.SettingsErrors
	if errors.As(err, &fields) {
		return fault.New(fault.Invalid, fields.Error())
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", settingsETag(saved))
	return c.JSON(http.StatusOK, saved)
}
