package tenants

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// scopeClientsWrite is the token scope of every API key operation: reading
// a client's keys is an admin matter, as on the console.
const scopeClientsWrite = "clients:write"

// APIKeyAPIv1Routes registers a client's API keys on the staff REST API.
func (s *Service) APIKeyAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("APIKey", apiKeySchema(false))
	api.Doc.Define("NewAPIKey", apiKeySchema(true))
	api.Doc.Define("APIKeyList", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("APIKey")},
	}})
	const base = "/api/v1/clients/:slug/api-keys"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listAPIKeys", Tag: "api-keys",
		Summary:   "List a client's API keys, revoked ones included (never their secrets)",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the keys, oldest first", Schema: apidoc.Ref("APIKeyList")}},
	}, authz.TenantAdmin, scopeClientsWrite, s.apiAPIKeys)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "createAPIKey", Tag: "api-keys", Creates: true, Forget: []string{"secret"},
		Summary:     "Issue an API key for the client (its agents' and integrations' credential)",
		Description: "The response holds the key's secret; it is shown this once and cannot be read again.",
		Body: apidoc.Schema{"type": "object", "required": []string{"name"}, "properties": apidoc.Schema{
			"name": apidoc.Schema{"type": "string", "minLength": 1, "maxLength": 100},
		}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the key, with its secret", Schema: apidoc.Ref("NewAPIKey")}},
	}, authz.TenantAdmin, scopeClientsWrite, s.apiCreateAPIKey)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base + "/:prefix", ID: "revokeAPIKey", Tag: "api-keys",
		Summary:   "Revoke a client's live API key by its listed prefix (404 if no live key has it)",
		Responses: map[int]apidoc.Response{http.StatusNoContent: {Description: "revoked"}},
	}, authz.TenantAdmin, scopeClientsWrite, s.apiRevokeAPIKey)
}

// apiKeySchema describes a key as listed, or as created (with its secret).
func apiKeySchema(withSecret bool) apidoc.Schema {
	required := []string{"id", "name", "prefix", "created_at"}
	props := apidoc.Schema{
		"id":           apidoc.Schema{"type": "integer"},
		"name":         apidoc.Schema{"type": "string"},
		"prefix":       apidoc.Schema{"type": "string", "description": "the key's first characters, which name it"},
		"created_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"revoked_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"last_used_at": apidoc.Schema{"type": "string", "format": "date-time"},
	}
	if withSecret {
		// Not required: an idempotent replay lacks it (never stored).
		props["secret"] = apidoc.Schema{"type": "string", "description": "the key itself, shown only in this response"}
	}
	return apidoc.Schema{"type": "object", "required": required, "properties": props}
}

// newAPIKey is createAPIKey's answer: the key and, once, its secret.
type newAPIKey struct {
	APIKey
	Secret string `json:"secret"`
}

func (s *Service) apiAPIKeys(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	keys, err := s.ListAPIKeys(ctx, t.Slug)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []APIKey{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": keys})
}

func (s *Service) apiCreateAPIKey(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var body struct {
		Name string `json:"name"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	k, plain, err := s.CreateAPIKey(ctx, t.Slug, body.Name)
	if err != nil {
		return err // invalid name: 400
	}
	return c.JSON(http.StatusCreated, newAPIKey{APIKey: k, Secret: plain})
}

func (s *Service) apiRevokeAPIKey(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	if err := s.RevokeAPIKey(ctx, t.Slug, c.Param("prefix")); err != nil {
		return err // ErrNotFound or ErrAPIKeyRevoked: 404
	}
	return c.NoContent(http.StatusNoContent)
}
