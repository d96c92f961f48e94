package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/modules/tenants"
	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
)

// staffAPIBase is where the MSP's own team is managed on the staff REST API.
const staffAPIBase = "/api/v1/staff"

// apiStaff is a staff user as the API shows them: never a password hash,
// SSO binding or session state.
type apiStaff struct {
	ID          int64      `json:"id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Scope       string     `json:"scope"`
	Clients     []string   `json:"clients"`
	Disabled    bool       `json:"disabled"`
	DisabledAt  *time.Time `json:"disabled_at,omitempty"`
	MFAEnrolled bool       `json:"mfa_enrolled"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

func toAPIStaff(u StaffUser, mfa bool) apiStaff {
	clients := u.TenantSlugs
	if clients == nil {
		clients = []string{}
	}
	return apiStaff{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, Scope: u.TenantScope, Clients: clients,
		Disabled: u.DisabledAt != nil, DisabledAt: u.DisabledAt, MFAEnrolled: mfa, LastLoginAt: u.LastLoginAt, CreatedAt: u.CreatedAt}
}

// staffSchema is a staff user in every answer of the staff routes.
var staffSchema = apidoc.Schema{"type": "object",
	"required": []string{"id", "email", "name", "role", "scope", "clients", "disabled", "mfa_enrolled", "created_at"},
	"properties": apidoc.Schema{
		"id": apidoc.Schema{"type": "integer"}, "email": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"},
		"role":  apidoc.Schema{"type": "string", "enum": []string{RoleOwner, RoleAdmin, RoleTechnician}},
		"scope": apidoc.Schema{"type": "string", "enum": []string{ScopeAll, ScopeList, ScopeAllExcept}, "description": "which clients the grant covers"},
		"clients": apidoc.Schema{"type": "array", "items": apidoc.Schema{"type": "string"},
			"description": "client slugs of a list grant, or the clients an all_except grant leaves out"},
		"disabled":      apidoc.Schema{"type": "boolean"},
		"disabled_at":   apidoc.Schema{"type": "string", "format": "date-time"},
		"mfa_enrolled":  apidoc.Schema{"type": "boolean", "description": "has a TOTP app or a passkey"},
		"last_login_at": apidoc.Schema{"type": "string", "format": "date-time"},
		"created_at":    apidoc.Schema{"type": "string", "format": "date-time"},
	}}

// grantProps is the grant part of creating a staff user or changing a grant.
var grantProps = apidoc.Schema{
	"role":  apidoc.Schema{"type": "string", "enum": []string{RoleOwner, RoleAdmin, RoleTechnician}},
	"scope": apidoc.Schema{"type": "string", "enum": []string{ScopeAll, ScopeList, ScopeAllExcept}, "description": "default all; owners and admins are always all"},
	"clients": apidoc.Schema{"type": "array", "items": apidoc.Schema{"type": "string"},
		"description": "client slugs, for scope list or all_except"},
}

// StaffAPIv1Routes registers staff users and their grants on the staff REST
// API, with the console's permission (platform management).
func (s *Service) StaffAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("Staff", staffSchema)
	api.Doc.Define("StaffPage", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Staff")},
		"next":  apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"},
	}})
	withPassword := apidoc.Schema{"type": "object", "required": []string{"user"}, "properties": apidoc.Schema{
		"user":     apidoc.Ref("Staff"),
		"password": apidoc.Schema{"type": "string", "description": "the generated password, in the first response only (never in a replay)"},
	}}
	api.Doc.Define("NewStaff", withPassword)
	etag := map[string]string{"ETag": "version of the grant, for If-Match"}
	one := map[int]apidoc.Response{http.StatusOK: {Description: "the staff user", Schema: apidoc.Ref("Staff"), Headers: etag}}
	api.Route(apidoc.Op{Method: http.MethodGet, Path: staffAPIBase, ID: "listStaff", Tag: "staff",
		Summary:   "List staff users and their grants, by e-mail",
		Params:    apidoc.PageParams(),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of staff users", Schema: apidoc.Ref("StaffPage")}},
	}, authz.PlatformManage, ScopeStaffRead, s.apiListStaff)
	api.Route(apidoc.Op{Method: http.MethodGet, Path: staffAPIBase + "/:email", ID: "getStaff", Tag: "staff",
		Summary: "Show a staff user and their grant, with an ETag", Responses: one,
	}, authz.PlatformManage, ScopeStaffRead, s.apiGetStaff)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: staffAPIBase, ID: "createStaff", Tag: "staff",
		Summary:     "Add a staff user with a grant; the answer holds their generated password, once",
		Description: "Only owners may create owners and admins (403). An unknown client in clients is refused with 422, an e-mail in use with 409.",
		Creates:     true, Forget: []string{"password"},
		Body: apidoc.Schema{"type": "object", "required": []string{"email", "role"}, "properties": merge(grantProps, apidoc.Schema{
			"email": apidoc.Schema{"type": "string"}, "name": apidoc.Schema{"type": "string"}})},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the new user and their password", Schema: apidoc.Ref("NewStaff"),
			Headers: map[string]string{"Location": "the user's URL", "Idempotent-Replayed": "true when this is a replayed response"}}},
	}, authz.PlatformManage, ScopeStaffWrite, s.apiCreateStaff)
	api.Route(apidoc.Op{Method: http.MethodPut, Path: staffAPIBase + "/:email/grant", ID: "putStaffGrant", Tag: "staff",
		Summary: "Replace a staff user's role and clients",
		Description: "Only owners may grant, or change the grant of, owners and admins (403). Demoting the last active owner is refused with 409, " +
			"an unknown client with 422. If-Match (the ETag read) is optional: when sent, a grant changed since is refused with 412. " +
			"The new grant applies to the user's API tokens and sessions as soon as the authorizer has it (moments).",
		Params:    []apidoc.Param{{Name: "If-Match", In: "header", Description: "the ETag read; 412 if the grant changed since"}},
		Body:      apidoc.Schema{"type": "object", "required": []string{"role"}, "properties": grantProps},
		Responses: one,
	}, authz.PlatformManage, ScopeStaffWrite, s.apiPutGrant)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: staffAPIBase + "/:email/disable", ID: "disableStaff", Tag: "staff",
		Summary:     "Disable a staff user: their sessions end and their API tokens stop working at once",
		Description: "Disabling the last active owner is refused with 409. Disabling a disabled user changes nothing.",
		Responses:   one,
	}, authz.PlatformManage, ScopeStaffWrite, s.apiStaffDisabled(true))
	api.Route(apidoc.Op{Method: http.MethodPost, Path: staffAPIBase + "/:email/enable", ID: "enableStaff", Tag: "staff",
		Summary: "Enable a disabled staff user (their unexpired tokens work again)", Responses: one,
	}, authz.PlatformManage, ScopeStaffWrite, s.apiStaffDisabled(false))
}

// merge is a new schema with the properties of a and b.
func merge(a, b apidoc.Schema) apidoc.Schema {
	out := apidoc.Schema{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// mfaEnrolled reports, per user id, whether the user has a second factor.
func (s *Service) mfaEnrolled(ctx context.Context, ids []int64) (map[int64]bool, error) {
	out := map[int64]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	var with []int64
	if err := s.root(ctx).Raw(`SELECT user_id FROM control.staff_totp WHERE user_id IN ?
		UNION SELECT user_id FROM control.staff_passkeys WHERE user_id IN ?`, ids, ids).Scan(&with).Error; err != nil {
		return nil, fmt.Errorf("looking up second factors: %w", err)
	}
	for _, id := range with {
		out[id] = true
	}
	return out, nil
}

// apiStaffOf is u as the API shows them, with their MFA state read now.
func (s *Service) apiStaffOf(ctx context.Context, u StaffUser) (apiStaff, error) {
	mfa, err := s.mfaEnrolled(ctx, []int64{u.ID})
	if err != nil {
		return apiStaff{}, err
	}
	return toAPIStaff(u, mfa[u.ID]), nil
}

// grantETag is a strong validator of a user's grant (role, scope, clients).
func grantETag(u StaffUser) string {
	slugs := slices.Clone(u.TenantSlugs)
	slices.Sort(slugs)
	b, _ := json.Marshal([]any{u.Role, u.TenantScope, slugs})
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// pathEmail is the e-mail of the :email path parameter. Echo routes on the
// escaped path when the request's differs from the canonical encoding, and
// its parameters are then still escaped; otherwise they are decoded already.
func pathEmail(c echo.Context) string {
	raw := c.Param("email")
	if c.Request().URL.RawPath == "" {
		return raw
	}
	if e, err := url.PathUnescape(raw); err == nil {
		return e
	}
	return raw
}

// apiStaffTarget is the staff user the path names; a malformed address is
// as unknown as a missing one.
func (s *Service) apiStaffTarget(c echo.Context) (StaffUser, error) {
	u, err := s.StaffByEmail(c.Request().Context(), pathEmail(c))
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) {
		return StaffUser{}, apidoc.Fail(http.StatusNotFound, "no such staff user")
	}
	return u, err
}

// emailCursor is opaque: the last e-mail of a page, under a kind tag so a
// cursor of one listing is refused by another.
func emailCursor(kind, email string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + email))
}

func parseEmailCursor(kind, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	email, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok || email == "" {
		return "", apidoc.Fail(http.StatusBadRequest, "cursor is not one this API gave out")
	}
	return email, nil
}

func (s *Service) apiListStaff(c echo.Context) error {
	ctx := c.Request().Context()
	limit, err := apidoc.PageLimit(c)
	if err != nil {
		return err
	}
	after, err := parseEmailCursor("staff", c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	all, err := s.ListStaff(ctx)
	if err != nil {
		return err
	}
	// ListStaff orders by e-mail; the page is what follows the cursor.
	var page []StaffUser
	for _, u := range all {
		if u.Email > after {
			page = append(page, u)
		}
	}
	out := struct {
		Items []apiStaff `json:"items"`
		Next  string     `json:"next,omitempty"`
	}{Items: []apiStaff{}}
	if len(page) > limit {
		page = page[:limit]
		out.Next = emailCursor("staff", page[limit-1].Email)
	}
	ids := make([]int64, 0, len(page))
	for _, u := range page {
		ids = append(ids, u.ID)
	}
	mfa, err := s.mfaEnrolled(ctx, ids)
	if err != nil {
		return err
	}
	for _, u := range page {
		out.Items = append(out.Items, toAPIStaff(u, mfa[u.ID]))
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Service) apiGetStaff(c echo.Context) error {
	u, err := s.apiStaffTarget(c)
	if err != nil {
		return err
	}
	return s.apiAnswerStaff(c, u)
}

// apiAnswerStaff answers 200 with u and their grant's ETag.
func (s *Service) apiAnswerStaff(c echo.Context, u StaffUser) error {
	out, err := s.apiStaffOf(c.Request().Context(), u)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", grantETag(u))
	return c.JSON(http.StatusOK, out)
}

// grantRequest is the JSON of a grant, alone or with a new user's details.
type grantRequest struct {
	Email   string   `json:"email"`
	Name    string   `json:"name"`
	Role    string   `json:"role"`
	Scope   string   `json:"scope"`
	Clients []string `json:"clients"`
}

// knownClients refuses (422) a grant naming a client that does not exist:
// the request is well formed, but there is nothing to grant.
func (s *Service) knownClients(ctx context.Context, slugs []string) error {
	for _, slug := range slugs {
		_, err := s.tenants.Get(ctx, slug)
		if errors.Is(err, tenants.ErrNotFound) {
			return apidoc.Fail(http.StatusUnprocessableEntity, fmt.Sprintf("there is no client %q", slug))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) apiCreateStaff(c echo.Context) error {
	ctx := c.Request().Context()
	var body grantRequest
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	if err := mayGrant(c, body.Role); err != nil {
		return err
	}
	if err := s.knownClients(ctx, body.Clients); err != nil {
		return err
	}
	u, password, err := s.CreateStaff(ctx, StaffInput{Email: body.Email, Name: strings.TrimSpace(body.Name), Role: body.Role,
		Scope: body.Scope, Tenants: body.Clients})
	if err != nil {
		return err
	}
	shown, err := s.apiStaffOf(ctx, u)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, staffAPIBase+"/"+url.PathEscape(shown.Email))
	return c.JSON(http.StatusCreated, map[string]any{"user": shown, "password": password})
}

func (s *Service) apiPutGrant(c echo.Context) error {
	ctx := c.Request().Context()
	target, err := s.apiStaffTarget(c)
	if err != nil {
		return err
	}
	var body grantRequest
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	if body.Email != "" || body.Name != "" {
		return apidoc.Fail(http.StatusBadRequest, "a grant takes role, scope and clients only")
	}
	if err := mayGrant(c, target.Role); err != nil {
		return err
	}
	if err := mayGrant(c, body.Role); err != nil {
		return err
	}
	if m := c.Request().Header.Get("If-Match"); m != "" && m != "*" && m != grantETag(target) {
		return apidoc.Fail(http.StatusPreconditionFailed, "the grant changed since you read it; read it again")
	}
	if err := s.knownClients(ctx, body.Clients); err != nil {
		return err
	}
	u, err := s.SetStaffGrant(ctx, StaffInput{Email: target.Email, Name: target.Name, Role: body.Role, Scope: body.Scope, Tenants: body.Clients})
	if err != nil {
		return err // ErrInvalid: 400; ErrLastOwner: 409
	}
	return s.apiAnswerStaff(c, u)
}

func (s *Service) apiStaffDisabled(disabled bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		target, err := s.apiStaffTarget(c)
		if err != nil {
			return err
		}
		if err := mayGrant(c, target.Role); err != nil {
			return err
		}
		// SetStaffDisabled ends the sessions; tokens are refused because
		// AuthenticateToken reads the user's live state on every request.
		u, err := s.SetStaffDisabled(c.Request().Context(), target.Email, disabled)
		if err != nil {
			return err // ErrLastOwner: 409
		}
		return s.apiAnswerStaff(c, u)
	}
}
