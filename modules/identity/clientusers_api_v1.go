package identity

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// The token scopes of a client's users: they are part of the client's
// record, so the clients' scopes cover them.
const (
	apiScopeClientsRead  = ScopeClientsRead
	apiScopeClientsWrite = ScopeClientsWrite
)

// apiClientUser is a client's portal user as the API shows them.
type apiClientUser struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Disabled    bool       `json:"disabled"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func toAPIClientUser(u ClientUser) apiClientUser {
	return apiClientUser{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Disabled: u.DisabledAt != nil,
		DisabledAt: u.DisabledAt, LastLoginAt: u.LastLoginAt, CreatedAt: u.CreatedAt}
}

// ClientUserAPIv1Routes registers a client's portal users on the staff REST
// API, with the console's permissions (view to list, manage to change).
func (s *Service) ClientUserAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("ClientUser", apidoc.Schema{"type": "object",
		"required": []string{"id", "email", "name", "role", "disabled", "created_at"},
		"properties": apidoc.Schema{
			"id": apidoc.Schema{"type": "integer"}, "email": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"},
			"role":          apidoc.Schema{"type": "string", "enum": []string{RoleClientAdmin, RoleClientUser}},
			"disabled":      apidoc.Schema{"type": "boolean"},
			"disabled_at":   apidoc.Schema{"type": "string", "format": "date-time"},
			"last_login_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"created_at":    apidoc.Schema{"type": "string", "format": "date-time"},
		}})
	api.Doc.Define("ClientUserPage", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("ClientUser")},
		"next":  apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"},
	}})
	api.Doc.Define("NewClientUser", apidoc.Schema{"type": "object", "required": []string{"user"}, "properties": apidoc.Schema{
		"user":     apidoc.Ref("ClientUser"),
		"password": apidoc.Schema{"type": "string", "description": "the generated password, in the first response only (never in a replay)"},
	}})
	api.Doc.Define("ClientUserPassword", apidoc.Schema{"type": "object", "required": []string{"email", "password"}, "properties": apidoc.Schema{
		"email":    apidoc.Schema{"type": "string"},
		"password": apidoc.Schema{"type": "string", "description": "the new password, shown this once"},
	}})
	one := map[int]apidoc.Response{http.StatusOK: {Description: "the user after the change", Schema: apidoc.Ref("ClientUser")}}
	const base = "/api/v1/clients/:slug/users"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listClientUsers", Tag: "client-users",
		Summary:   "List a client's portal users, by e-mail",
		Params:    apidoc.PageParams(),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of users", Schema: apidoc.Ref("ClientUserPage")}},
	}, authz.TenantView, apiScopeClientsRead, s.apiClientUsers)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "createClientUser", Tag: "client-users",
		Summary:     "Add a portal user to the client; the answer holds their generated password, once",
		Description: "role is client_admin or client_user (the default). An e-mail in use at this client is refused with 409.",
		Creates:     true, Forget: []string{"password"},
		Body: apidoc.Schema{"type": "object", "required": []string{"email"}, "properties": apidoc.Schema{
			"email": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"},
			"role": apidoc.Schema{"type": "string", "enum": []string{RoleClientAdmin, RoleClientUser}},
		}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the new user and their password", Schema: apidoc.Ref("NewClientUser"),
			Headers: map[string]string{"Idempotent-Replayed": "true when this is a replayed response"}}},
	}, authz.TenantManage, apiScopeClientsWrite, s.apiCreateClientUser)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:email/disable", ID: "disableClientUser", Tag: "client-users",
		Summary: "Disable a portal user and end their sessions (no change if disabled)", Responses: one,
	}, authz.TenantManage, apiScopeClientsWrite, s.apiClientUserDisabled(true))
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:email/enable", ID: "enableClientUser", Tag: "client-users",
		Summary: "Enable a disabled portal user", Responses: one,
	}, authz.TenantManage, apiScopeClientsWrite, s.apiClientUserDisabled(false))
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:email/reset-password", ID: "resetClientUserPassword", Tag: "client-users",
		Summary:   "Give a portal user a new generated password and end their sessions; the answer holds it, once",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the new password", Schema: apidoc.Ref("ClientUserPassword")}},
	}, authz.TenantManage, apiScopeClientsWrite, s.apiResetClientPassword)
}

func (s *Service) apiClientUsers(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	limit, err := apidoc.PageLimit(c)
	if err != nil {
		return err
	}
	after, err := parseEmailCursor("user", c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	all, err := s.ListClientUsers(ctx, t)
	if err != nil {
		return err
	}
	out := struct {
		Items []apiClientUser `json:"items"`
		Next  string          `json:"next,omitempty"`
	}{Items: []apiClientUser{}}
	// ListClientUsers orders by e-mail; the page is what follows the cursor.
	for _, u := range all {
		if u.Email <= after {
			continue
		}
		if len(out.Items) == limit {
			out.Next = emailCursor("user", out.Items[limit-1].Email)
			break
		}
		out.Items = append(out.Items, toAPIClientUser(u))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) apiCreateClientUser(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var body struct {
		Email string `json:"email"`
		Name  string `json:"name"`
		Role  string `json:"role"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	if body.Role == "" {
		body.Role = RoleClientUser
	}
	u, password, err := s.CreateClientUser(ctx, t, ClientInput{Email: body.Email, Name: strings.TrimSpace(body.Name), Role: body.Role})
	if err != nil {
		return err // invalid: 400; e-mail in use: 409
	}
	// CreateClientUser returns the row as inserted; read it back for the
	// times the database set.
	if u, err = s.ClientUserByEmail(ctx, t, u.Email); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, map[string]any{"user": toAPIClientUser(u), "password": password})
}

// apiClientUserEmail is the path's user e-mail; a malformed address is as
// unknown as a missing user.
func apiClientUserEmail(c echo.Context) (string, error) {
	e, err := NormalizeEmail(pathEmail(c))
	if err != nil {
		return "", apidoc.Fail(http.StatusNotFound, "no such user")
	}
	return e, nil
}

// apiNoSuchUser turns the service's not-found into the API's 404.
func apiNoSuchUser(err error) error {
	if errors.Is(err, ErrNotFound) {
		return apidoc.Fail(http.StatusNotFound, "no such user")
	}
	return err
}

func (s *Service) apiClientUserDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		email, err := apiClientUserEmail(c)
		if err != nil {
			return err
		}
		u, err := s.SetClientDisabled(ctx, t, email, disabled)
		if err != nil {
			return apiNoSuchUser(err)
		}
		return c.JSON(http.StatusOK, toAPIClientUser(u))
	}
}

func (s *Service) apiResetClientPassword(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	email, err := apiClientUserEmail(c)
	if err != nil {
		return err
	}
	password, err := s.ResetClientPassword(ctx, t, email, "")
	if err != nil {
		return apiNoSuchUser(err)
	}
	return c.JSON(http.StatusOK, map[string]string{"email": email, "password": password})
}
