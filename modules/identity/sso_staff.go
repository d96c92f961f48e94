package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/web"
)

// Staff single sign-on: the console's relying party at the MSP's identity
// provider (sso.* in the configuration).

// StaffSSORoutes registers the console's sign-in through the identity
// provider. Without sso.issuer both answer 404.
func (s *Service) StaffSSORoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, SSOStartPath, authz.Public, s.staffSSOStart(sm))
	a.Route(e, http.MethodGet, SSOCallbackPath, authz.Public, s.staffSSOCallback(sm))
}

// StaffSSOEnabled reports whether staff can sign in through an identity provider.
func (s *Service) StaffSSOEnabled() bool { return s.sso.opts.Staff.Issuer != "" }

func (s *Service) staffRelyingParty() relyingParty {
	c := s.sso.opts.Staff
	return relyingParty{issuer: c.Issuer, clientID: c.ClientID, clientSecret: c.ClientSecret}
}

var errNoStaffSSO = echo.NewHTTPError(http.StatusNotFound, "Single sign-on is not configured.")

func (s *Service) staffSSOStart(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.StaffSSOEnabled() {
			return errNoStaffSSO
		}
		ctx := c.Request().Context()
		to, err := s.beginSSO(ctx, sm, s.staffRelyingParty(), s.redirectURL(c, s.sso.opts.Staff.ConsoleURL), web.LocalPath(c.QueryParam("next")))
		if err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, to)
	}
}

func (s *Service) staffSSOCallback(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !s.StaffSSOEnabled() {
			return errNoStaffSSO
		}
		ctx := c.Request().Context()
		id, err := s.finishSSO(c, sm, s.staffRelyingParty())
		if err != nil {
			return err
		}
		u, err := s.SignInStaffSSO(ctx, id, c.RealIP())
		if err != nil {
			return err
		}
		if err := StartStaffSession(ctx, sm, u); err != nil {
			return err
		}
		recordSSOSignIn(ctx, sm, s.sso.mfaDoneAtIdP(id.AMR))
		return c.Redirect(http.StatusSeeOther, web.LocalPath(id.Next))
	}
}

// SignInStaffSSO signs in the staff user the identity provider vouched for:
// the user bound to the provider's subject, or else the one with the token's
// verified e-mail address (then bound to that subject, so that another
// account with the same address cannot take it over). With sso.roles the
// provider's claims decide the user's role and clients at every sign-in;
// with sso.create_users someone they give a role to is created. Refusals are
// ErrSSOAccount with the reason.
func (s *Service) SignInStaffSSO(ctx context.Context, id ssoIdentity, ip string) (StaffUser, error) {
	cfg := s.sso.opts.Staff
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: "sso:" + id.Email, ClientIP: ip})
	email, err := NormalizeEmail(id.Email)
	if err != nil || !id.EmailVerified {
		return StaffUser{}, fault.New(ErrSSOAccount, "The identity provider did not send a verified e-mail address for this account, so it cannot be matched to a console user.")
	}
	u, found, err := s.staffForSSO(ctx, id.Issuer, id.Subject, email)
	if err != nil {
		return StaffUser{}, err
	}
	in, err := cfg.staffGrant(id, email)
	if err != nil {
		return StaffUser{}, err
	}
	switch {
	case !found && !cfg.CreateUsers:
		return StaffUser{}, fault.Newf(ErrSSOAccount, "There is no console user %s. Ask an owner to add you.", email)
	case !found:
		if u, _, err = s.CreateStaff(ctx, in); err != nil {
			return StaffUser{}, fmt.Errorf("creating %s at their first single sign-on: %w", email, err)
		}
	case u.DisabledAt != nil:
		return StaffUser{}, fault.New(ErrSSOAccount, "This console user is disabled.")
	case in.Role != "" && grantDiffers(u, in):
		in.Email = u.Email
		if u, err = s.SetStaffGrant(ctx, in); err != nil {
			return StaffUser{}, fmt.Errorf("applying the identity provider's role to %s: %w", email, err)
		}
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE control.staff_users SET last_login_at = now(), sso_issuer = ?, sso_subject = ?
			WHERE id = ? AND disabled_at IS NULL`, id.Issuer, id.Subject, u.ID)
		if res.Error != nil {
			return fmt.Errorf("recording the sign-in of %s: %w", u.Email, res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.New(ErrSSOAccount, "This console user is disabled.")
		}
		return audit.RecordPlatform(audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip}), tx, "staff.login", u.Email, "single sign-on")
	})
	if err != nil {
		return StaffUser{}, err
	}
	return u, nil
}

// staffForSSO finds the user bound to (issuer, subject), or else the one
// with email; a user bound to another subject is refused.
func (s *Service) staffForSSO(ctx context.Context, issuer, subject, email string) (StaffUser, bool, error) {
	var u StaffUser
	err := s.root(ctx).Where("sso_issuer = ? AND sso_subject = ?", issuer, subject).Take(&u).Error
	if err == nil {
		if u.Email != email {
			s.log.InfoContext(ctx, "single sign-on: e-mail changed at the identity provider", "user", u.Email, "now", email)
		}
		u, err = s.StaffByID(ctx, u.ID)
		return u, err == nil, err
	}
	if !errors.Is(err, gorm.ErrRecordNotFound) {
		return StaffUser{}, false, fmt.Errorf("reading staff user: %w", err)
	}
	u, err = s.StaffByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return StaffUser{}, false, nil
	}
	if err != nil {
		return StaffUser{}, false, err
	}
	if u.SSOSubject != nil && (*u.SSOSubject != subject || u.SSOIssuer == nil || *u.SSOIssuer != issuer) {
		return StaffUser{}, false, fault.Newf(ErrSSOAccount, "The console user %s is bound to another account at the identity provider.", email)
	}
	return u, true, nil
}

var roleRank = map[string]int{RoleTechnician: 1, RoleAdmin: 2, RoleOwner: 3}

// staffGrant is the role and clients the provider's claims give (an empty
// Role when sso.roles is not configured: roles are then Switchboard's own).
func (c StaffSSOConfig) staffGrant(id ssoIdentity, email string) (StaffInput, error) {
	in := StaffInput{Email: email, Scope: ScopeAll}
	if name, _ := id.Claims["name"].(string); checkName(name) == nil {
		in.Name = name
	}
	if len(c.Roles) == 0 {
		return in, nil
	}
	for _, v := range claimValues(id.Claims, c.RoleClaim) {
		if r := c.Roles[v]; roleRank[r] > roleRank[in.Role] {
			in.Role = r
		}
	}
	if in.Role == "" {
		return in, fault.Newf(ErrSSOAccount, "Your account at the identity provider is given no role in this console (claim %q).", c.RoleClaim)
	}
	if in.Role != RoleTechnician {
		return in, nil
	}
	for _, v := range claimValues(id.Claims, c.GrantClaim) {
		for _, slug := range c.Grants[v] {
			if slug == "*" {
				in.Scope, in.Tenants = ScopeAll, nil
				return in, nil
			}
			if !slices.Contains(in.Tenants, slug) {
				in.Tenants = append(in.Tenants, slug)
			}
		}
	}
	if len(in.Tenants) == 0 {
		return in, fault.Newf(ErrSSOAccount, "Your account at the identity provider is given no clients to work in (claim %q).", c.GrantClaim)
	}
	in.Scope = ScopeList
	slices.Sort(in.Tenants)
	return in, nil
}

// grantDiffers reports whether u's role or clients differ from in's.
func grantDiffers(u StaffUser, in StaffInput) bool {
	if u.Role != in.Role || u.TenantScope != in.Scope {
		return true
	}
	have := slices.Clone(u.TenantSlugs)
	slices.Sort(have)
	return !slices.Equal(have, in.Tenants) && !(len(have) == 0 && len(in.Tenants) == 0)
}

// staffPasswordRefused reports whether u may not sign in with a password:
// sso.disable_password is on and u has signed in with single sign-on.
func (s *Service) staffPasswordRefused(u StaffUser) bool {
	return s.sso.opts.Staff.DisablePassword && u.SSOSubject != nil
}
