package authz

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/tenancy"
)

// MiddlewareOptions configures Middleware.
type MiddlewareOptions struct {
	// LoginURL: where a browser without a subject is sent (303 with ?next=<path>); API/JSON requests get 401 instead.
	// Nil means every request without a subject gets 401.
	LoginURL func(c echo.Context) string
	// OnDeny, if set, is told about every denial (subject, method, path, domain) so it can be logged.
	OnDeny func(c echo.Context, s Subject, reason string)
}

// Responses, built per request because error handlers may modify them.
// Denials inside a tenant look exactly like the resolver's answer for an
// unknown tenant, so they do not reveal that a client exists.
func errNotFound() error { return echo.NewHTTPError(http.StatusNotFound, "not found") }

func errForbidden() error {
	return echo.NewHTTPError(http.StatusForbidden, "You do not have permission to do this.")
}

func errNeedAPIKey() error {
	return echo.NewHTTPError(http.StatusUnauthorized, "an API key is required (Authorization: Bearer <key>)")
}

func errUnauthorized() error { return echo.NewHTTPError(http.StatusUnauthorized, "Please log in.") }

// Middleware enforces the declared permission of the matched route
// (c.Path(), request method). Use it with e.Use after tenant resolution and
// after the session loader that calls WithSubject; Echo runs e.Use middleware
// after routing, so c.Path() is the matched route template.
func (a *Authorizer) Middleware(opts MiddlewareOptions) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := req.Context()
			method, path := req.Method, c.Path()
			s, hasSubject := SubjectFrom(ctx)
			deny := func(reason string, err error) error {
				if opts.OnDeny != nil {
					opts.OnDeny(c, s, reason)
				}
				return err
			}

			perm, declared := a.Permission(method, path)
			if !declared {
				if !registered(c.Echo(), method, path) {
					// Nothing matched (Echo's 404, 405 or a RouteNotFound
					// handler is about to run): leave it alone.
					return next(c)
				}
				slog.Error("authz: route registered without a declared permission; denying it",
					"method", method, "path", path, "uri", req.RequestURI)
				return deny("route has no declared permission", errNotFound())
			}

			switch perm {
			case Public:
				return next(c)
			case APIKey:
				if _, ok := tenancy.FromContext(ctx); ok && tenancy.Via(ctx) == tenancy.ViaAPIKey {
					return next(c)
				}
				return deny("API route without an API key", errNeedAPIKey())
			}

			if !hasSubject {
				return toLogin(c, opts)
			}
			domain, wrong := surfaceDomain(ctx, s)
			if wrong != "" {
				return deny(wrong, errNotFound())
			}
			if !a.Allowed(s, domain, path, method) {
				if domain == PlatformDomain {
					return deny("not allowed in domain "+domain, errForbidden())
				}
				return deny("not allowed in domain "+domain, errNotFound())
			}
			return next(c)
		}
	}
}

// surfaceDomain returns the Casbin domain of the request for s, or why s may
// not be on this surface at all: staff sessions are honoured only on the
// console, client sessions only on their own tenant's portal.
func surfaceDomain(ctx context.Context, s Subject) (domain, wrong string) {
	t, hasTenant := tenancy.FromContext(ctx)
	via := tenancy.Via(ctx)
	if s.Staff {
		switch {
		case via == tenancy.ViaNone:
			return PlatformDomain, ""
		case via == tenancy.ViaPath && hasTenant:
			return TenantDomain(t.ID), ""
		default:
			return "", "staff session outside the console (via " + via + ")"
		}
	}
	switch {
	case via != tenancy.ViaHost || !hasTenant:
		return "", "client session outside its portal (via " + via + ")"
	case t.ID != s.TenantID:
		return "", "client session on another client's portal (tenant " + TenantDomain(t.ID) + ")"
	}
	return TenantDomain(t.ID), ""
}

// toLogin sends a browser to the login page and anything else a 401.
func toLogin(c echo.Context, opts MiddlewareOptions) error {
	req := c.Request()
	browser := (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		strings.Contains(req.Header.Get(echo.HeaderAccept), echo.MIMETextHTML)
	if !browser || opts.LoginURL == nil {
		return errUnauthorized()
	}
	login := opts.LoginURL(c)
	sep := "?"
	if strings.Contains(login, "?") {
		sep = "&"
	}
	return c.Redirect(http.StatusSeeOther, login+sep+"next="+url.QueryEscape(req.URL.RequestURI()))
}

// registered reports whether method+path is a real route of e, as opposed to
// the path Echo reports for a 404, 405 or RouteNotFound match.
func registered(e *echo.Echo, method, path string) bool {
	if path == "" {
		return false
	}
	for _, rt := range allRoutes(e) {
		if rt.Method == method && rt.Path == path {
			return true
		}
	}
	return false
}
