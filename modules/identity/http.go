package identity

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/modules/tenants"
	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers sign-in, the per-client users pages and the
// platform's staff page.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, "/login", authz.Public, s.loginForm, s.offerStaffSSO)
	a.Route(e, http.MethodPost, "/login", authz.Public, s.login(sm), s.offerStaffSSO)
	a.Route(e, http.MethodPost, "/logout", authz.ConsoleView, logout(sm))

	v := consoleUsers
	a.Route(e, http.MethodGet, "/t/:slug/users", authz.TenantView, s.clientUsers(v))
	a.Route(e, http.MethodPost, "/t/:slug/users", authz.TenantManage, s.createClientUser(v))
	a.Route(e, http.MethodPost, "/t/:slug/users/:email/disable", authz.TenantManage, s.clientUserAction(v, "disable"))
	a.Route(e, http.MethodPost, "/t/:slug/users/:email/enable", authz.TenantManage, s.clientUserAction(v, "enable"))
	a.Route(e, http.MethodPost, "/t/:slug/users/:email/reset-password", authz.TenantManage, s.clientUserAction(v, "reset"))

	a.Route(e, http.MethodGet, "/platform/staff", authz.PlatformManage, s.staffPage)
	a.Route(e, http.MethodPost, "/platform/staff", authz.PlatformManage, s.createStaff)
	a.Route(e, http.MethodPost, "/platform/staff/:email/grant", authz.PlatformManage, s.changeGrant)
	a.Route(e, http.MethodPost, "/platform/staff/:email/disable", authz.PlatformManage, s.staffAction("disable", sm))
	a.Route(e, http.MethodPost, "/platform/staff/:email/enable", authz.PlatformManage, s.staffAction("enable", sm))
	a.Route(e, http.MethodPost, "/platform/staff/:email/reset-password", authz.PlatformManage, s.staffAction("reset", sm))
	a.Route(e, http.MethodPost, "/platform/staff/:email/revoke-sessions", authz.PlatformManage, s.staffAction("revoke", sm))
}

type loginForm struct {
	Email string
	Next  string
	SSO   *SSOButton // "Sign in with …", when single sign-on is set up here
}

func (s *Service) loginForm(c echo.Context) error { return signInForm(c, "public/login.html") }

// signInForm shows a sign-in form, or sends a signed-in visitor on.
func signInForm(c echo.Context, template string) error {
	if _, ok := authz.SubjectFrom(c.Request().Context()); ok {
		return c.Redirect(http.StatusSeeOther, web.LocalPath(c.QueryParam("next")))
	}
	return web.Render(c, http.StatusOK, template, "Sign in", loginForm{Next: web.LocalPath(c.QueryParam("next")), SSO: ssoButtonOf(c)})
}

func (s *Service) login(sm *scs.SessionManager) echo.HandlerFunc {
	return signIn("public/login.html", func(c echo.Context, email, password string) error {
		ctx := c.Request().Context()
		u, err := s.AuthenticateStaff(ctx, email, password, c.RealIP())
		if err != nil {
			return err
		}
		return StartStaffSession(ctx, sm, u)
	})
}

// signIn handles a sign-in form: attempt checks the password and starts the
// session. Throttled and refused attempts re-render the form (template) with
// 429 + Retry-After or 401 and the same words for every refusal.
func signIn(template string, attempt func(c echo.Context, email, password string) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		f := loginForm{Email: strings.TrimSpace(c.FormValue("email")), Next: web.LocalPath(c.FormValue("next")), SSO: ssoButtonOf(c)}
		err := attempt(c, f.Email, c.FormValue("password"))
		var throttled *ThrottledError
		switch {
		case errors.As(err, &throttled):
			secs := int(throttled.RetryAfter.Seconds()) + 1
			c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
			return web.RenderError(c, http.StatusTooManyRequests, template, "Sign in",
				fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", (secs+59)/60), f)
		case errors.Is(err, ErrBadLogin):
			return web.RenderError(c, http.StatusUnauthorized, template, "Sign in", "Invalid email or password.", f)
		case err != nil:
			return err
		}
		return c.Redirect(http.StatusSeeOther, f.Next)
	}
}

// logout ends the session here and in the store, and shows the sign-in form.
func logout(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := sm.Destroy(c.Request().Context()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/login")
	}
}

// clientUsersPage is what the users page shows.
type clientUsersPage struct {
	Users    []ClientUser
	Form     ClientInput
	Password string // a password just generated, shown once
	Email    string // whose password it is
	Me       authz.Subject
	Base     string // where the page and its forms live
	Portal   bool
}

// usersView is where a client's users are managed: by staff in the console,
// or by the client's own admins in their portal.
type usersView struct {
	template string
	base     func(t tenancy.Tenant) string
	title    func(t tenancy.Tenant) string
	portal   bool // the client's own admins, in its words
}

var (
	consoleUsers = usersView{"console/users.html",
		func(t tenancy.Tenant) string { return "/t/" + t.Slug + "/users" },
		func(t tenancy.Tenant) string { return "Users · " + t.Name }, false}
	// The portal's frame adds the client's name to every title itself.
	portalUsers = usersView{"portal/users.html",
		func(tenancy.Tenant) string { return "/users" },
		func(tenancy.Tenant) string { return "Users" }, true}
)

func (s *Service) clientUsers(v usersView) echo.HandlerFunc {
	return func(c echo.Context) error {
		return s.renderClientUsers(c, v, http.StatusOK, clientUsersPage{Form: ClientInput{Role: RoleClientUser}}, "")
	}
}

func (s *Service) renderClientUsers(c echo.Context, v usersView, status int, p clientUsersPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	users, err := s.ListClientUsers(c.Request().Context(), t)
	if err != nil {
		return err
	}
	p.Users, p.Base, p.Portal = users, v.base(t), v.portal
	p.Me, _ = authz.SubjectFrom(c.Request().Context())
	return c.Render(status, v.template, web.Page{Title: v.title(t), Error: errMsg, Data: p})
}

func (s *Service) createClientUser(v usersView) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		in := ClientInput{Email: c.FormValue("email"), Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role")}
		u, password, err := s.CreateClientUser(ctx, t, in)
		if status, msg, ok := web.Refusal(err); ok {
			return s.renderClientUsers(c, v, status, clientUsersPage{Form: in}, msg)
		}
		if err != nil {
			return err
		}
		return s.renderClientUsers(c, v, http.StatusCreated, clientUsersPage{Form: ClientInput{Role: RoleClientUser}, Password: password, Email: u.Email}, "")
	}
}

func (s *Service) clientUserAction(v usersView, action string) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		email := c.Param("email")
		// A client's admin manages the others: their own account is not
		// theirs to disable, and their own password is not reset here (a
		// reset ends every session, and is audited as the admin's act on
		// someone else).
		if me, ok := authz.SubjectFrom(ctx); ok && !me.Staff && sameEmail(me.Email, email) {
			switch action {
			case "disable":
				return s.renderClientUsers(c, v, http.StatusBadRequest, clientUsersPage{Form: ClientInput{Role: RoleClientUser}},
					"You cannot disable your own account; ask another admin.")
			case "reset":
				return s.renderClientUsers(c, v, http.StatusBadRequest, clientUsersPage{Form: ClientInput{Role: RoleClientUser}},
					"You cannot reset your own password here; ask another admin.")
			}
		}
		var err error
		var password, flash string
		switch action {
		case "disable":
			_, err = s.SetClientDisabled(ctx, t, email, true)
			flash = email + " is disabled."
		case "enable":
			_, err = s.SetClientDisabled(ctx, t, email, false)
			flash = email + " is enabled."
		case "reset":
			password, err = s.ResetClientPassword(ctx, t, email, "")
		}
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
			return echo.NewHTTPError(http.StatusNotFound, "No such user.")
		}
		if err != nil {
			return err
		}
		if password != "" {
			return s.renderClientUsers(c, v, http.StatusOK, clientUsersPage{Form: ClientInput{Role: RoleClientUser}, Password: password, Email: email}, "")
		}
		return web.RedirectFlash(c, v.base(t), flash)
	}
}

// staffPage is what the platform staff page shows.
type staffPage struct {
	Staff    []StaffUser
	Tenants  []tenants.Tenant
	Form     StaffInput
	Password string
	Email    string
	CanOwn   bool // the viewer may create or promote owners and admins
}

func (s *Service) staffPage(c echo.Context) error {
	return s.renderStaff(c, http.StatusOK, staffPage{Form: StaffInput{Role: RoleTechnician, Scope: ScopeAll}}, "")
}

func (s *Service) renderStaff(c echo.Context, status int, p staffPage, errMsg string) error {
	ctx := c.Request().Context()
	staff, err := s.ListStaff(ctx)
	if err != nil {
		return err
	}
	list, err := s.tenants.List(ctx)
	if err != nil {
		return err
	}
	sub, _ := authz.SubjectFrom(ctx)
	p.Staff, p.Tenants, p.CanOwn = staff, list, sub.Role == RoleOwner
	return c.Render(status, "console/staff.html", web.Page{Title: "Staff", Error: errMsg, Data: p})
}

func staffInputFrom(c echo.Context) StaffInput {
	form, _ := c.FormParams()
	return StaffInput{Email: c.FormValue("email"), Name: strings.TrimSpace(c.FormValue("name")), Role: c.FormValue("role"),
		Scope: c.FormValue("scope"), Tenants: form["tenants"]}
}

// mayGrant enforces that only owners hand out owner or admin roles.
func mayGrant(c echo.Context, role string) error {
	sub, _ := authz.SubjectFrom(c.Request().Context())
	if (role == RoleOwner || role == RoleAdmin) && sub.Role != RoleOwner {
		return echo.NewHTTPError(http.StatusForbidden, "Only owners can make someone an owner or admin.")
	}
	return nil
}

func (s *Service) createStaff(c echo.Context) error {
	in := staffInputFrom(c)
	if err := mayGrant(c, in.Role); err != nil {
		return err
	}
	u, password, err := s.CreateStaff(c.Request().Context(), in)
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderStaff(c, status, staffPage{Form: in}, msg)
	}
	if err != nil {
		return err
	}
	return s.renderStaff(c, http.StatusCreated, staffPage{Form: StaffInput{Role: RoleTechnician, Scope: ScopeAll}, Password: password, Email: u.Email}, "")
}

func (s *Service) changeGrant(c echo.Context) error {
	in := staffInputFrom(c)
	in.Email = c.Param("email")
	if err := mayGrant(c, in.Role); err != nil {
		return err
	}
	if target, err := s.StaffByEmail(c.Request().Context(), in.Email); err == nil {
		if err := mayGrant(c, target.Role); err != nil {
			return err
		}
	}
	_, err := s.SetStaffGrant(c.Request().Context(), in)
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderStaff(c, status, staffPage{Form: StaffInput{Role: RoleTechnician, Scope: ScopeAll}}, msg)
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/platform/staff", "Access of "+in.Email+" updated.")
}

// sameEmail reports whether a and b name the same account.
func sameEmail(a, b string) bool {
	na, errA := NormalizeEmail(a)
	nb, errB := NormalizeEmail(b)
	return errA == nil && errB == nil && na == nb
}

func (s *Service) staffAction(action string, sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		email := c.Param("email")
		target, err := s.StaffByEmail(ctx, email)
		if err != nil {
			return echo.NewHTTPError(http.StatusNotFound, "No such staff user.")
		}
		if err := mayGrant(c, target.Role); err != nil {
			return err
		}
		var password, flash string
		switch action {
		case "disable":
			_, err = s.SetStaffDisabled(ctx, email, true)
			flash = email + " is disabled and signed out."
		case "enable":
			_, err = s.SetStaffDisabled(ctx, email, false)
			flash = email + " is enabled."
		case "reset":
			password, err = s.ResetStaffPassword(ctx, email, "")
		case "revoke":
			var n int64
			n, err = s.RevokeStaffSessions(ctx, email)
			flash = fmt.Sprintf("%s of %s ended.", humane.Plural(int(n), "session", "sessions"), email)
		}
		if errors.Is(err, ErrLastOwner) {
			return s.renderStaff(c, http.StatusConflict, staffPage{Form: StaffInput{Role: RoleTechnician, Scope: ScopeAll}}, "The last active owner cannot be disabled.")
		}
		if err != nil {
			return err
		}
		if me, _ := authz.SubjectFrom(ctx); action != "enable" && sameEmail(me.Email, email) {
			// The audit entry says every session ended: this one too, now,
			// rather than when its next request is refused.
			if err := sm.Destroy(ctx); err != nil {
				return fmt.Errorf("ending the current session: %w", err)
			}
		}
		if password != "" {
			return s.renderStaff(c, http.StatusOK, staffPage{Form: StaffInput{Role: RoleTechnician, Scope: ScopeAll}, Password: password, Email: email}, "")
		}
		return web.RedirectFlash(c, "/platform/staff", flash)
	}
}
