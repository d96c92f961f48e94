package agents

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Token scopes of the enrollment token operations (identity's names).
const (
	scopeClientsRead  = "clients:read"
	scopeClientsWrite = "clients:write"
)

// TokenAPIv1Routes registers a client's enrollment tokens on the staff REST
// API, with the permissions of the console's enrollment page.
func (s *Service) TokenAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("EnrollmentToken", enrollmentTokenSchema(false))
	api.Doc.Define("NewEnrollmentToken", enrollmentTokenSchema(true))
	api.Doc.Define("EnrollmentTokenList", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("EnrollmentToken")},
	}})
	const base = "/api/v1/clients/:slug/enrollment-tokens"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listEnrollmentTokens", Tag: "enrollment-tokens",
		Summary:   "List a client's enrollment tokens, newest first (never their secrets)",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the tokens", Schema: apidoc.Ref("EnrollmentTokenList")}},
	}, authz.TenantView, scopeClientsRead, s.apiTokens)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "createEnrollmentToken", Tag: "enrollment-tokens", Creates: true, Forget: []string{"token"},
		Summary: "Issue an enrollment token for the client's agents",
		Description: "ttl is how long it is valid, like 24h or 168h (1 minute to 366 days); max_uses is how many " +
			"endpoints it may enroll (1-100000). The response holds the token; it is shown this once.",
		Body: apidoc.Schema{"type": "object", "required": []string{"name", "ttl", "max_uses"}, "properties": apidoc.Schema{
			"name":     apidoc.Schema{"type": "string", "minLength": 1, "maxLength": 100},
			"ttl":      apidoc.Schema{"type": "string", "example": "24h"},
			"max_uses": apidoc.Schema{"type": "integer", "minimum": 1, "maximum": maxTokenUses},
		}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the token, with its secret", Schema: apidoc.Ref("NewEnrollmentToken")}},
	}, authz.TenantManage, scopeClientsWrite, s.apiCreateToken)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base + "/:id", ID: "revokeEnrollmentToken", Tag: "enrollment-tokens",
		Summary:     "Revoke a live enrollment token (404 if none has the id or it was revoked before)",
		Description: "Endpoints it enrolled keep their own credentials.",
		Responses:   map[int]apidoc.Response{http.StatusNoContent: {Description: "revoked"}},
	}, authz.TenantManage, scopeClientsWrite, s.apiRevokeToken)
}

// enrollmentTokenSchema describes a token as listed, or as created (with its secret).
func enrollmentTokenSchema(withSecret bool) apidoc.Schema {
	required := []string{"id", "name", "prefix", "expires_at", "max_uses", "uses", "created_by", "created_at"}
	props := apidoc.Schema{
		"id":           apidoc.Schema{"type": "integer"},
		"name":         apidoc.Schema{"type": "string"},
		"prefix":       apidoc.Schema{"type": "string", "description": "the token's first characters, which name it"},
		"expires_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"max_uses":     apidoc.Schema{"type": "integer"},
		"uses":         apidoc.Schema{"type": "integer"},
		"created_by":   apidoc.Schema{"type": "string"},
		"created_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"revoked_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"last_used_at": apidoc.Schema{"type": "string", "format": "date-time"},
	}
	if withSecret {
		// Not required: an idempotent replay lacks it (never stored).
		props["token"] = apidoc.Schema{"type": "string", "description": "the token itself, shown only in this response"}
	}
	return apidoc.Schema{"type": "object", "required": required, "properties": props}
}

// newToken is createEnrollmentToken's answer: the token and, once, its secret.
type newToken struct {
	EnrollmentToken
	Token string `json:"token"`
}

func (s *Service) apiTokens(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	list, err := s.ListTokens(ctx, t)
	if err != nil {
		return err
	}
	if list == nil {
		list = []EnrollmentToken{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

func (s *Service) apiCreateToken(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var body struct {
		Name    string `json:"name"`
		TTL     string `json:"ttl"`
		MaxUses int    `json:"max_uses"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	ttl, err := time.ParseDuration(body.TTL)
	if err != nil {
		return invalid("ttl must be a duration like 24h or 168h")
	}
	plain, tok, err := s.CreateToken(ctx, t, body.Name, ttl, body.MaxUses)
	if err != nil {
		return err // out of bounds: 400
	}
	return c.JSON(http.StatusCreated, newToken{EnrollmentToken: tok, Token: plain})
}

func (s *Service) apiRevokeToken(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return fault.Newf(ErrNotFound, "no enrollment token %q", c.Param("id"))
	}
	if err := s.RevokeToken(ctx, t, id); err != nil {
		return err // ErrNotFound (none, or revoked before): 404
	}
	return c.NoContent(http.StatusNoContent)
}
