package main

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/identity"
	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/metrics"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// apiPrefix is where the staff REST API lives. The agent and ingestion
// routes share /api/v1 but stay on the console surface with tenant API keys.
const apiPrefix = "/api/v1"

// isStaffAPI reports whether path belongs to the staff API surface.
func isStaffAPI(path string) bool {
	if path == apiPrefix+"/openapi.json" {
		return true
	}
	for _, resource := range []string{"/clients", "/staff", "/policies"} {
		if path == apiPrefix+resource || strings.HasPrefix(path, apiPrefix+resource+"/") {
			return true
		}
	}
	return false
}

// staffAPIDescription opens the OpenAPI document; the scope table is part
// of the contract, so it is written here, next to the routes that declare them.
const staffAPIDescription = `The staff REST API of Switchboard. Authenticate with a personal API token: ` +
	"`Authorization: Bearer sbt_…` (`switchboard user token create` or the console's Account → API tokens).\n\n" +
	`A request is allowed only if the token holds the operation's scope AND the token's user holds the operation's permission now ` +
	`(their current grants), AND, for a client's resources, the client is in the token's client list (if it has one). ` +
	"Scopes: `clients:read` (list and show clients, read settings, SLA reports, audit logs and their exports, enrollment tokens, portal domains, portal users and a move's status), " +
	"`clients:write` (create, suspend, resume, delete and move clients, change settings; list, create and revoke API keys; create and revoke enrollment tokens; add, verify, make primary and remove portal domains; create, disable, enable portal users and reset their passwords), " +
	"`alerts:read` (list and show alerts and silences), `alerts:write` (acknowledge, resolve, assign, note alerts; create, expire, delete silences), " +
	"`staff:read` (list and show staff users and their grants), `staff:write` (create staff users, change grants, disable and enable them), " +
	"`policies:read` (baselines, a client's overrides and effective policy), `policies:write` (change baselines and overrides).\n\n" +
	`Errors are application/problem+json (RFC 9457).`

// newStaffAPI builds the staff API surface: its own Echo (problem+json
// errors, no sessions, no CSRF) whose routes are declared on the console's
// authorizer, so a token is judged by its user's live grants.
func newStaffAPI(e *env, a *authz.Authorizer, resolver *tenancy.Resolver, now func() time.Time) *apidoc.API {
	ech := web.New(e.log)
	ech.HTTPErrorHandler = apidoc.ErrorHandler(e.log)
	api := apidoc.NewAPI(a, ech, apidoc.New("Switchboard staff API", "1", staffAPIDescription))
	ech.Use(e.metrics.Middleware(metrics.API), noStore, tokenAuth(e.identity, a, api, resolver, now), newAPILimit(e.cfg.Limits, now))
	api.Idem = apidoc.NewIdempotency(func(ctx context.Context) *gorm.DB { return e.cluster.ControlDB().WithContext(ctx) }, now, tokenUser)
	api.ServeDocument(apiPrefix + "/openapi.json")
	staffClientsAPI{tenants: e.tenants, authz: a}.routes(api)
	staffLifecycleAPI{tenants: e.tenants, resolver: resolver, log: e.log}.routes(api)
	e.alerts.APIv1Routes(api)
	e.alerts.SilenceAPIv1Routes(api)
	e.reports.APIv1Routes(api)
	e.tenants.APIKeyAPIv1Routes(api)
	e.agents.TokenAPIv1Routes(api)
	e.audit.APIv1Routes(api)
	e.tenants.DomainAPIv1Routes(api)
	e.policies.APIv1Routes(api)
	e.identity.StaffAPIv1Routes(api)
	e.identity.ClientUserAPIv1Routes(api)
	return api
}

// tokenKey is where tokenAuth leaves the request's API token in the Echo context.
const tokenKey = "api_token"

// tokenAuth authenticates a staff API token and enforces, on the matched
// route: the token's scope, its client list, and the user's live grants.
// Echo runs Use middleware after routing, so c.Path() is the template.
func tokenAuth(ids *identity.Service, a *authz.Authorizer, api *apidoc.API, resolver *tenancy.Resolver, now func() time.Time) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			method, path := c.Request().Method, c.Path()
			scope, declared := api.Scope(method, path)
			if !declared {
				if _, ok := a.Permission(method, path); !ok {
					return echo.ErrNotFound // no such route (404/405): let Echo answer
				}
				return apidoc.Fail(http.StatusNotFound, "not found")
			}
			if scope == "" {
				return next(c) // public: the document
			}
			req := c.Request()
			plain, ok := strings.CutPrefix(req.Header.Get(echo.HeaderAuthorization), "Bearer ")
			if !ok || plain == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
				return apidoc.Fail(http.StatusUnauthorized, "an API token is required (Authorization: Bearer sbt_…)")
			}
			ctx := req.Context()
			tok, u, err := ids.AuthenticateToken(ctx, strings.TrimSpace(plain), now())
			if err != nil {
				if errors.Is(err, identity.ErrBadToken) {
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="switchboard", error="invalid_token"`)
				}
				return err
			}
			s := authz.Subject{Key: u.Subject(), Role: u.Role, Staff: true, Email: u.Email}
			ctx = authz.WithSubject(ctx, s)
			ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: c.RealIP()})
			c.Set(tokenKey, tok)

			domain := authz.PlatformDomain
			if slug := c.Param("slug"); slug != "" {
				// A client outside the token's list, or the user's grants,
				// looks exactly like a client that does not exist.
				t, err := resolver.BySlug(ctx, slug)
				if errors.Is(err, tenancy.ErrUnknownTenant) || (err == nil && (!tok.Covers(t.ID) || !visibleStatus(t.Status))) {
					return apidoc.Fail(http.StatusNotFound, "no such client")
				}
				if err != nil {
					return err
				}
				domain = authz.TenantDomain(t.ID)
				if !tok.Has(scope) {
					return apidoc.Fail(http.StatusForbidden, "this token lacks the scope "+scope)
				}
				if !a.Allowed(s, domain, path, method) {
					if a.Allowed(s, domain, apiPrefix+"/clients/:slug", http.MethodGet) {
						return apidoc.Fail(http.StatusForbidden, "your role may not do this for this client")
					}
					return apidoc.Fail(http.StatusNotFound, "no such client")
				}
				ctx = tenancy.WithTenant(ctx, t, tenancy.ViaPath)
			} else {
				if !tok.Has(scope) {
					return apidoc.Fail(http.StatusForbidden, "this token lacks the scope "+scope)
				}
				if !a.Allowed(s, domain, path, method) {
					return apidoc.Fail(http.StatusForbidden, "your role may not do this")
				}
			}
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// tokenUser is the id of the staff user a request's token belongs to: the
// owner of its Idempotency-Keys.
func tokenUser(ctx context.Context) (int64, bool) {
	s, ok := authz.SubjectFrom(ctx)
	if !ok || !s.Staff {
		return 0, false
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(s.Key, "staff:"), 10, 64)
	return id, err == nil
}

// visibleStatus: clients being provisioned or deleted are not served.
func visibleStatus(status string) bool {
	return status == tenancy.StatusActive || status == tenancy.StatusSuspended
}

// tokenOf is the API token of a request that passed tokenAuth.
func tokenOf(c echo.Context) identity.APIToken {
	t, _ := c.Get(tokenKey).(identity.APIToken)
	return t
}
