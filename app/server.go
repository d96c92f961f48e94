package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/db"
	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/dashboard"
	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/metrics"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
	"switchboard/static"
	"switchboard/templates"
)

// server is the assembled web surface: the console (and API) on the console
// hosts, the portal on every other host. Each has its own route table and
// its own authorizer, so the same path can mean different things on each.
type server struct {
	console, portal *echo.Echo
	consoleAuthz    *authz.Authorizer
	portalAuthz     *authz.Authorizer
	resolver        *tenancy.Resolver
	sessions        *scs.SessionManager // staff, on the console
	portalSessions  *scs.SessionManager // client users, each on its own portal host
	api             *apidoc.API         // the staff REST API (api_v1.go), staff API tokens only
}

// ServeHTTP sends API calls and console hosts to the console, everything else to the portal.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /metrics is the console's whatever the host: a scraper names the server by its address.
	if isStaffAPI(r.URL.Path) {
		s.api.Echo.ServeHTTP(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == metrics.Path || s.resolver.IsConsoleHost(r.Host) {
		s.console.ServeHTTP(w, r)
		return
	}
	s.portal.ServeHTTP(w, r)
}

// buildServer wires every module's routes behind tenant resolution, sessions,
// CSRF protection and authorization, and starts the background work that
// keeps caches and grants current (stopped with ctx).
func buildServer(ctx context.Context, e *env) (*server, error) {
	s := &server{resolver: tenancy.NewResolver(e.tenants.Directory(), e.tenants.TargetVersion(), e.cfg.Server.ConsoleHosts)}
	var err error
	if s.consoleAuthz, err = authz.New(); err != nil {
		return nil, err
	}
	if s.portalAuthz, err = authz.New(); err != nil {
		return nil, err
	}
	reloadGrants := func() error {
		grants, err := e.identity.Grants(ctx)
		if err != nil {
			return err
		}
		return s.consoleAuthz.SetGrants(grants)
	}
	if err := reloadGrants(); err != nil {
		return nil, fmt.Errorf("loading staff grants: %w", err)
	}
	// Alerts are assigned only to staff who can see their client.
	e.alerts.SetAssignees(func(ctx context.Context, t tenancy.Tenant) ([]alerts.Assignee, error) {
		staff, err := e.identity.StaffSeeing(ctx, s.consoleAuthz, t.ID)
		var out []alerts.Assignee
		for _, u := range staff {
			out = append(out, alerts.Assignee{Email: u.Email, Name: u.Name})
		}
		return out, err
	})
	ready := make(chan struct{})
	grantsChanged := make(chan struct{}, 1)
	go e.cluster.Listen(ctx, tenancy.ChangeChannel, func(table string) {
		s.resolver.Invalidate()
		e.agents.Invalidate()
		if table == "" || table == "global_policies" {
			e.policies.Invalidate()
		}
		if table == "" || strings.HasPrefix(table, "staff_") {
			select { // coalesce bursts: one reload covers every change before it
			case grantsChanged <- struct{}{}:
			default:
			}
		}
	}, ready)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-grantsChanged:
				if err := reloadGrants(); err != nil {
					e.log.Error("reloading staff grants", "err", err)
				}
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		return nil, errors.New("could not start listening for tenant changes")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s.sessions = e.identity.NewStaffSessions(e.cfg.Server.SecureCookies)
	if s.console, err = s.newEcho(e, s.consoleAuthz, consoleChrome, static.FS); err != nil {
		return nil, err
	}
	s.portalSessions = e.identity.NewClientSessions(e.cfg.Server.SecureCookies)
	if s.portal, err = s.newEcho(e, s.portalAuthz, e.portal.Chrome, static.Portal); err != nil {
		return nil, err
	}

	// Console order: the session and its user first, so that an anonymous
	// visitor to /t/<slug>/… is answered before the slug is even looked up:
	// the same answer, for every method, whether the client exists or not.
	s.resolver.OnUnknownPath = func(c echo.Context) error {
		if _, ok := authz.SubjectFrom(c.Request().Context()); !ok {
			return signInFirst(c)
		}
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	limits := newIngestLimits(e.cfg.Limits, time.Now)
	s.console.Use(e.metrics.Middleware(metrics.Console), limits.early, noStore, withSessions(s.sessions, e.mfa.StaffSubject(s.sessions)), anonymousOutsideClients,
		s.resolver.Middleware("/healthz", "/readyz", agents.EnrollPath, agents.CheckInPath, metrics.Path),
		csrf(), s.consoleAuthz.Middleware(authz.MiddlewareOptions{LoginURL: func(echo.Context) string { return "/login" }}))
	// Portal order: the host names the tenant first, because the client's
	// session lives in that tenant's schema.
	s.portal.Use(e.metrics.Middleware(metrics.Portal), noStore, s.resolver.Middleware("/healthz", "/readyz"),
		withSessions(s.portalSessions, e.identity.ClientSubjectLoader(s.portalSessions)), csrf(),
		s.portalAuthz.Middleware(authz.MiddlewareOptions{LoginURL: func(echo.Context) string { return "/login" }}))

	s.health(e, s.console)
	s.health(e, s.portal)
	e.metrics.ConsoleRoutes(s.consoleAuthz, s.console)
	e.dashboard.ConsoleRoutes(s.consoleAuthz, s.console)
	e.tenants.ConsoleRoutes(s.consoleAuthz, s.console)
	dashboard.NewClientOverview(dashboard.ClientDeps{Tenants: e.tenants, Alerts: e.alerts, Agents: e.agents, Identity: e.identity,
		Notify: e.notify, Audit: e.audit, Reports: e.reports}).ConsoleRoutes(s.consoleAuthz, s.console)
	e.tenants.APIRoutes(s.consoleAuthz, s.console)
	e.alerts.APIRoutes(s.consoleAuthz, s.console, limits.alerts)
	e.alerts.ConsoleRoutes(s.consoleAuthz, s.console)
	e.agents.AgentRoutes(s.consoleAuthz, s.console, limits.checkIn)
	e.agents.ConsoleRoutes(s.consoleAuthz, s.console)
	e.notify.ConsoleRoutes(s.consoleAuthz, s.console)
	e.hooks.PlatformRoutes(s.consoleAuthz, s.console)
	e.reports.ConsoleRoutes(s.consoleAuthz, s.console)
	e.documents.ConsoleRoutes(s.consoleAuthz, s.console)
	e.policies.ConsoleRoutes(s.consoleAuthz, s.console)
	e.identity.ConsoleRoutes(s.consoleAuthz, s.console, s.sessions)
	e.mfa.ConsoleRoutes(s.consoleAuthz, s.console, s.sessions)
	e.identity.ConsoleSSORoutes(s.consoleAuthz, s.console, s.sessions)
	e.identity.TokenRoutes(s.consoleAuthz, s.console)
	s.api = newStaffAPI(e, s.consoleAuthz, s.resolver, time.Now)
	e.audit.ConsoleRoutes(s.consoleAuthz, s.console)
	e.branding.ConsoleRoutes(s.consoleAuthz, s.console)
	e.branding.PortalRoutes(s.portalAuthz, s.portal)
	e.portal.Routes(s.portalAuthz, s.portal)
	e.identity.PortalRoutes(s.portalAuthz, s.portal, s.portalSessions)
	e.identity.PortalSSORoutes(s.portalAuthz, s.portal, s.portalSessions)
	e.alerts.PortalRoutes(s.portalAuthz, s.portal)
	e.agents.PortalRoutes(s.portalAuthz, s.portal)
	e.reports.PortalRoutes(s.portalAuthz, s.portal)
	e.documents.PortalRoutes(s.portalAuthz, s.portal)
	return s, nil
}

// newEcho builds one surface with the shared middleware and tenant
// resolution, serving assets (the console's, or the portal's own, which
// name nothing but the client) under /static/.
func (s *server) newEcho(e *env, a *authz.Authorizer, chrome web.ChromeFunc, assets fs.FS) (*echo.Echo, error) {
	ech := web.New(e.log)
	framed := func(c echo.Context) web.Chrome { // every page may ask what its viewer can use
		ch := chrome(c)
		ctx := c.Request().Context()
		ch.Permits = func(method, route string) bool { return a.May(ctx, method, route) }
		return ch
	}
	renderer, err := web.NewRenderer(templates.FS, framed, "console/*.html", "portal/*.html", "public/*.html")
	if err != nil {
		return nil, err
	}
	ech.Renderer = renderer
	a.Route(ech, http.MethodGet, "/static/*", authz.Public, echo.WrapHandler(http.StripPrefix("/static/", staticHandler(assets))))
	return ech, nil
}

// staticHandler serves embedded assets with a short cache lifetime (their
// URLs carry no content hash yet).
func staticHandler(assets fs.FS) http.Handler {
	files := http.FileServerFS(assets)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		files.ServeHTTP(w, r)
	})
}

// health registers /healthz (process up) and /readyz (database reachable,
// control plane current).
func (s *server) health(e *env, ech *echo.Echo) {
	a := s.consoleAuthz
	if ech == s.portal {
		a = s.portalAuthz
	}
	a.Route(ech, http.MethodGet, "/healthz", authz.Public, func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	a.Route(ech, http.MethodGet, "/readyz", authz.Public, func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if e.pg != nil { // an embedded cluster being restarted says so
			if err := e.pg.Health(); err != nil {
				return c.String(http.StatusServiceUnavailable, err.Error()+"\n")
			}
		}
		if err := e.cluster.Ping(ctx); err != nil {
			return c.String(http.StatusServiceUnavailable, "database unreachable\n")
		}
		if err := db.CheckControl(ctx, e.cluster.ControlDB(), db.Control()); err != nil {
			return c.String(http.StatusServiceUnavailable, err.Error()+"\n")
		}
		return c.String(http.StatusOK, "ready\n")
	})
}

// withSessions loads and saves sessions, and the signed-in user with
// subject, for pages but not for assets: a session refresh would add a
// cookie (and no-cache) to an answer every browser and proxy should cache,
// and costs database round trips. The session also holds the CSRF token and
// the next page's notice (web.UseSessions).
func withSessions(sm *scs.SessionManager, subject echo.MiddlewareFunc) echo.MiddlewareFunc {
	load := echo.WrapMiddleware(sm.LoadAndSave)
	bind := web.UseSessions(sm)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		withSession := load(bind(subject(next)))
		return func(c echo.Context) error {
			if isAsset(c.Request().URL.Path) {
				return next(c)
			}
			return withSession(c)
		}
	}
}

// anonymousOutsideClients answers every request without a signed-in user
// under /t/<slug>/ as the sign-in redirect or 401, before the slug is
// resolved and whatever the method or route: a stranger learns nothing
// about which clients exist (no 403 from the CSRF check, no 204 to OPTIONS,
// no 404 for one and redirect for the other).
func anonymousOutsideClients(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if rest, ok := strings.CutPrefix(c.Request().URL.Path, "/t/"); ok && rest != "" {
			if _, signedIn := authz.SubjectFrom(c.Request().Context()); !signedIn {
				return signInFirst(c)
			}
		}
		return next(c)
	}
}

// signInFirst is the answer to an anonymous request that needs a user, as
// the authorizer gives it: a browser's page load is sent to the sign-in page
// (303, ?next= the page), anything else gets 401.
func signInFirst(c echo.Context) error {
	req := c.Request()
	browser := (req.Method == http.MethodGet || req.Method == http.MethodHead) &&
		strings.Contains(req.Header.Get(echo.HeaderAccept), echo.MIMETextHTML)
	if !browser {
		return echo.NewHTTPError(http.StatusUnauthorized, "Please log in.")
	}
	return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(req.URL.RequestURI()))
}

// isAsset reports whether path is a static file or a client's brand image.
func isAsset(path string) bool {
	return strings.HasPrefix(path, "/static/") || strings.HasPrefix(path, "/brand/")
}

// noStore keeps console pages out of browser caches, so Back after signing
// out does not show a client's data again.
func noStore(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !isAsset(c.Request().URL.Path) {
			c.Response().Header().Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}

// csrf protects every state-changing browser request with the synchronizer
// token of its server-side session (web.CSRF), checked against the _csrf
// form field or the X-CSRF-Token header; a cookie a third party planted
// proves nothing. The API is exempt: it uses keys, not cookies.
func csrf() echo.MiddlewareFunc {
	return web.CSRF(func(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/api/") })
}

// consoleChrome fills the console frame for a request.
func consoleChrome(c echo.Context) web.Chrome {
	ctx := c.Request().Context()
	sub, _ := authz.SubjectFrom(ctx)
	ch := web.Chrome{User: sub.Email, Role: sub.Role, CSRF: web.CSRFToken(c), Path: c.Request().URL.Path, Section: sections[c.Path()]}
	if t, ok := tenancy.FromContext(ctx); ok && tenancy.Via(ctx) == tenancy.ViaPath {
		ch.Current = &web.SwitcherTenant{Slug: t.Slug, Name: t.Name, Status: t.Status}
	}
	return ch
}

// sections highlight the navigation item of each page.
var sections = map[string]string{
	"/": "home", "/clients/new": "home", "/clients": "home",
	"/t/:slug/": "overview", "/t/:slug/users": "users", "/t/:slug/audit": "audit",
	"/t/:slug/alerts": "alerts", "/t/:slug/alerts/:id": "alerts", "/t/:slug/silences": "alerts", "/t/:slug/policy": "policy",
	"/t/:slug/endpoints": "endpoints", "/t/:slug/endpoints/:id": "endpoints", "/t/:slug/enrollment": "endpoints", "/t/:slug/channels": "policy", "/t/:slug/apikeys": "overview", "/t/:slug/domains": "domains", "/t/:slug/sla": "sla", "/t/:slug/branding": "branding", "/t/:slug/settings": "settings", "/t/:slug/sso": "sso", "/platform/policies": "policies",
	"/platform/staff": "staff", "/platform/audit": "platform-audit", "/platform/webhooks": "webhooks",
}
