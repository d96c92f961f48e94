package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// Pages of the second factor: the step of sign-in after the password, and
// the signed-in user's own security page (enrolment).
const (
	mfaLoginPath   = "/login/mfa"
	securityPath   = "/account/security"
	mfaCodesKey    = "mfa_codes" // recovery codes to show once on the next security page
	maxPasskeyJSON = 64 << 10
)

// enrolRoutes are what a user whose role requires a second factor, and who
// has none, may reach until they add one.
var enrolRoutes = map[string]bool{
	securityPath: true, securityPath + "/totp": true, securityPath + "/passkeys/begin": true, securityPath + "/passkeys": true, "/logout": true,
}

// ConsoleRoutes registers the second-factor step of sign-in (public: the
// session is not signed in until it is done) and the security page.
func (m *MFA) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo, sm *scs.SessionManager) {
	a.Route(e, http.MethodGet, mfaLoginPath, authz.Public, m.stepPage(sm))
	a.Route(e, http.MethodPost, mfaLoginPath, authz.Public, m.stepCode(sm))
	a.Route(e, http.MethodPost, mfaLoginPath+"/passkey/begin", authz.Public, m.stepPasskeyBegin(sm))
	a.Route(e, http.MethodPost, mfaLoginPath+"/passkey", authz.Public, m.stepPasskeyFinish(sm))
	a.Route(e, http.MethodPost, mfaLoginPath+"/cancel", authz.Public, logout(sm))

	a.Route(e, http.MethodGet, securityPath, authz.ConsoleView, m.securityPage(sm))
	a.Route(e, http.MethodPost, securityPath+"/totp", authz.ConsoleView, m.enrolTOTP(sm))
	a.Route(e, http.MethodPost, securityPath+"/totp/remove", authz.ConsoleView, m.removeTOTP(sm))
	a.Route(e, http.MethodPost, securityPath+"/recovery-codes", authz.ConsoleView, m.renewCodes(sm))
	a.Route(e, http.MethodPost, securityPath+"/passkeys/begin", authz.ConsoleView, m.passkeyBegin(sm))
	a.Route(e, http.MethodPost, securityPath+"/passkeys", authz.ConsoleView, m.passkeyFinish(sm))
	a.Route(e, http.MethodPost, securityPath+"/passkeys/:id/remove", authz.ConsoleView, m.passkeyRemove(sm))
	a.Route(e, http.MethodPost, securityPath+"/time-zone", authz.ConsoleView, m.setTimeZone(sm))
}

// StaffSubject is Service.StaffSubject followed by the second-factor gate:
// a session that gave its password but not its second factor reaches only
// the sign-in pages (/login…: the second-factor step, or signing in afresh;
// anything else sends it to the second-factor step), and a user whose
// role requires a factor and who has none reaches only the enrolment page.
func (m *MFA) StaffSubject(sm *scs.SessionManager) echo.MiddlewareFunc {
	load := m.svc.StaffSubject(sm)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return load(func(c echo.Context) error {
			ctx := c.Request().Context()
			route := c.Path()
			if strings.HasPrefix(route, "/api/") || route == "/healthz" || route == "/readyz" || route == "/static/*" {
				return next(c)
			}
			sub, signedIn := authz.SubjectFrom(ctx)
			switch {
			case !signedIn && sm.GetString(ctx, subjectKey) != "" && !strings.HasPrefix(route, "/login"):
				return sendTo(c, mfaLoginPath, echo.NewHTTPError(http.StatusUnauthorized, "Please finish signing in with your second factor."))
			case signedIn && sub.Staff && m.Required(sub.Role) && !sm.GetBool(ctx, mfaVerifiedKey) && !enrolRoutes[route]:
				// Signed in without a verified factor: StaffSubject found none.
				return sendTo(c, securityPath, echo.NewHTTPError(http.StatusForbidden,
					"Your role requires a second factor: add one on "+securityPath+" first."))
			}
			return next(c)
		})
	}
}

// sendTo sends a browser's page load to path (303, ?next= the page) and
// answers anything else with refusal.
func sendTo(c echo.Context, path string, refusal error) error {
	req := c.Request()
	if (req.Method == http.MethodGet || req.Method == http.MethodHead) && strings.Contains(req.Header.Get(echo.HeaderAccept), echo.MIMETextHTML) {
		return c.Redirect(http.StatusSeeOther, path+"?next="+url.QueryEscape(req.URL.RequestURI()))
	}
	return refusal
}

// secondFactorPending reports whether u's session still owes a second
// factor: u has one, and the session has not proved it. StaffSubject does
// not sign such a session in.
func (s *Service) secondFactorPending(ctx context.Context, sm *scs.SessionManager, u StaffUser) (bool, error) {
	if sm.GetBool(ctx, mfaVerifiedKey) {
		return false, nil
	}
	return s.hasSecondFactor(ctx, u.ID)
}

// MarkSecondFactor records that the session proved a second factor (or
// enrolled one, or that single sign-on's identity provider vouched for one),
// so the session counts as signed in for a user who has factors.
func MarkSecondFactor(ctx context.Context, sm *scs.SessionManager) { sm.Put(ctx, mfaVerifiedKey, true) }

// pendingUser is the user whose session gave its password but not yet its
// second factor (false: no such session).
func (m *MFA) pendingUser(c echo.Context, sm *scs.SessionManager) (StaffUser, bool, error) {
	ctx := c.Request().Context()
	if _, signedIn := authz.SubjectFrom(ctx); signedIn {
		return StaffUser{}, false, nil
	}
	key := sm.GetString(ctx, subjectKey)
	if key == "" {
		return StaffUser{}, false, nil
	}
	u, err := m.svc.staffFromSubject(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return StaffUser{}, false, nil
	}
	if err != nil {
		return StaffUser{}, false, err
	}
	if u.DisabledAt != nil || sm.GetInt64(ctx, startedKey) <= u.SessionsNotBefore.UnixMicro() {
		return StaffUser{}, false, nil
	}
	return u, true, nil
}

// me is the signed-in staff user.
func (m *MFA) me(c echo.Context) (StaffUser, error) {
	sub, ok := authz.SubjectFrom(c.Request().Context())
	if !ok || !sub.Staff {
		return StaffUser{}, echo.NewHTTPError(http.StatusUnauthorized, "Please log in.")
	}
	return m.svc.staffFromSubject(c.Request().Context(), sub.Key)
}

// stepForm is what the second-factor step of sign-in shows.
type stepForm struct {
	Email    string
	Next     string
	TOTP     bool
	Passkeys bool
	Recovery int
	CSRF     string
}

func (m *MFA) stepPage(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		return m.renderStep(c, sm, http.StatusOK, "")
	}
}

// renderStep shows the second-factor form with status and msg, or sends a
// visitor without a pending sign-in to the sign-in form.
func (m *MFA) renderStep(c echo.Context, sm *scs.SessionManager, status int, msg string) error {
	u, ok, err := m.pendingUser(c, sm)
	if err != nil {
		return err
	}
	next := web.LocalPath(c.FormValue("next"))
	if !ok {
		if c.Request().Method != http.MethodGet {
			return echo.NewHTTPError(http.StatusUnauthorized, "Your sign-in has expired; sign in again.")
		}
		return c.Redirect(http.StatusSeeOther, "/login?next="+url.QueryEscape(next))
	}
	f, err := m.Factors(c.Request().Context(), u.ID)
	if err != nil {
		return err
	}
	form := stepForm{Email: u.Email, Next: next, TOTP: f.TOTP, Passkeys: len(f.Passkeys) > 0, Recovery: f.RecoveryLeft, CSRF: web.CSRFToken(c)}
	return c.Render(status, "public/mfa_login.html", web.Page{Title: "Second factor", Error: msg, Data: form})
}

// finishSignIn makes the pending session a signed-in one: a new session
// token and CSRF token, and the mark that the factor was proved.
func finishSignIn(ctx context.Context, sm *scs.SessionManager, u StaffUser) error {
	if err := StartStaffSession(ctx, sm, u); err != nil {
		return err
	}
	MarkSecondFactor(ctx, sm)
	return nil
}

// refusalAnswer maps a refused factor to its status and words, setting
// Retry-After when throttled; ok is false for errors that are not the
// user's (they go on to the error handler).
func refusalAnswer(c echo.Context, err error) (int, string, bool) {
	var throttled *ThrottledError
	if errors.As(err, &throttled) {
		secs := int(throttled.RetryAfter.Seconds()) + 1
		c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
		return http.StatusTooManyRequests, fmt.Sprintf("Too many failed attempts. Try again in %d minutes.", (secs+59)/60), true
	}
	return web.Refusal(err)
}

func (m *MFA) stepCode(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, ok, err := m.pendingUser(c, sm)
		if err != nil || !ok {
			return m.renderStep(c, sm, http.StatusUnauthorized, "")
		}
		_, err = m.VerifyCode(ctx, u, c.FormValue("code"), c.RealIP())
		if status, msg, refused := refusalAnswer(c, err); refused {
			return m.renderStep(c, sm, status, msg)
		}
		if err != nil {
			return err
		}
		if err := finishSignIn(ctx, sm, u); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, web.LocalPath(c.FormValue("next")))
	}
}

// jsonRefusal answers a passkey request's refusal as JSON {"error": …}.
func jsonRefusal(c echo.Context, err error) error {
	if status, msg, ok := refusalAnswer(c, err); ok {
		return c.JSON(status, map[string]string{"error": msg})
	}
	return err
}

// readJSON reads a passkey answer's body, bounded.
func readJSON(c echo.Context) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(c.Request().Body, maxPasskeyJSON+1))
	if err != nil {
		return nil, fmt.Errorf("reading the passkey answer: %w", err)
	}
	if len(b) > maxPasskeyJSON {
		return nil, invalid("the passkey answer is too large")
	}
	return b, nil
}

func (m *MFA) relyingParty(c echo.Context) (RelyingParty, error) {
	return m.NewRelyingParty(c.Scheme(), c.Request().Host)
}

func (m *MFA) stepPasskeyBegin(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, ok, err := m.pendingUser(c, sm)
		if err != nil {
			return err
		}
		if !ok {
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": "Your sign-in has expired; sign in again."})
		}
		rp, err := m.relyingParty(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		options, state, err := m.BeginPasskeyLogin(ctx, u, rp)
		if err != nil {
			return jsonRefusal(c, err)
		}
		sm.Put(ctx, mfaCeremonyKey, string(state))
		return c.JSONBlob(http.StatusOK, options)
	}
}

func (m *MFA) stepPasskeyFinish(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, ok, err := m.pendingUser(c, sm)
		if err != nil {
			return err
		}
		if !ok {
			return c.JSON(http.StatusUnauthorized, map[string]string{"error": "Your sign-in has expired; sign in again."})
		}
		rp, err := m.relyingParty(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		body, err := readJSON(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		state := sm.PopString(ctx, mfaCeremonyKey) // one answer per challenge
		if err := m.FinishPasskeyLogin(ctx, u, rp, []byte(state), body, c.RealIP()); err != nil {
			return jsonRefusal(c, err)
		}
		if err := finishSignIn(ctx, sm, u); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, map[string]string{"next": web.LocalPath(c.QueryParam("next"))})
	}
}

// securityView is what the security page shows.
type securityView struct {
	Email      string
	Factors    Factors
	Required   bool // the user's role requires a factor
	Offer      *TOTPEnrolment
	Codes      []string // recovery codes just made, shown once
	PasskeysOK bool
	PasskeyWhy string // why passkeys are unavailable here
	Next       string
	TimeZone   string // the zone the console shows this user's times in
}

func (m *MFA) securityPage(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		return m.renderSecurity(c, sm, http.StatusOK, "")
	}
}

// renderSecurity shows the security page. Without TOTP it offers a secret,
// kept in the session until confirmed, so a reload shows the same QR code.
func (m *MFA) renderSecurity(c echo.Context, sm *scs.SessionManager, status int, msg string) error {
	ctx := c.Request().Context()
	u, err := m.me(c)
	if err != nil {
		return err
	}
	f, err := m.Factors(ctx, u.ID)
	if err != nil {
		return err
	}
	v := securityView{Email: u.Email, Factors: f, Required: m.Required(u.Role), Next: web.LocalPath(c.QueryParam("next")), TimeZone: u.TimeZone}
	if codes := sm.PopString(ctx, mfaCodesKey); codes != "" {
		v.Codes = strings.Fields(codes)
	}
	if !f.TOTP {
		var offer TOTPEnrolment
		if secret := sm.GetString(ctx, mfaTOTPKey); secret != "" {
			offer, err = m.TOTPOffer(u, secret)
		} else if offer, err = m.NewTOTP(u); err == nil {
			sm.Put(ctx, mfaTOTPKey, offer.Secret)
		}
		if err != nil {
			return err
		}
		v.Offer = &offer
	}
	if _, err := m.relyingParty(c); err != nil {
		_, v.PasskeyWhy, _ = web.Refusal(err)
	} else {
		v.PasskeysOK = true
	}
	return c.Render(status, "console/mfa.html", web.Page{Title: "Sign-in security", Error: msg, Data: v})
}

// changed finishes a change of factors: recovery codes to show once, the
// mark that this session has a proved factor, and back to the page.
func changed(c echo.Context, sm *scs.SessionManager, codes []string, flash string) error {
	ctx := c.Request().Context()
	if len(codes) > 0 {
		sm.Put(ctx, mfaCodesKey, strings.Join(codes, " "))
	}
	return web.RedirectFlash(c, securityPath, flash)
}

// refuseOnPage re-renders the security page with a refusal, or passes an
// error that is not the user's on.
func (m *MFA) refuseOnPage(c echo.Context, sm *scs.SessionManager, err error) error {
	if status, msg, ok := refusalAnswer(c, err); ok {
		return m.renderSecurity(c, sm, status, msg)
	}
	return err
}

func (m *MFA) enrolTOTP(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, err := m.me(c)
		if err != nil {
			return err
		}
		codes, err := m.EnrolTOTP(ctx, u, sm.GetString(ctx, mfaTOTPKey), c.FormValue("code"), c.FormValue("confirm"), c.RealIP())
		if err != nil {
			return m.refuseOnPage(c, sm, err)
		}
		sm.Remove(ctx, mfaTOTPKey)
		MarkSecondFactor(ctx, sm)
		return changed(c, sm, codes, "Authenticator app added.")
	}
}

func (m *MFA) removeTOTP(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := m.me(c)
		if err != nil {
			return err
		}
		if err := m.RemoveTOTP(c.Request().Context(), u, c.FormValue("confirm"), c.RealIP()); err != nil {
			return m.refuseOnPage(c, sm, err)
		}
		return changed(c, sm, nil, "Authenticator app removed.")
	}
}

func (m *MFA) renewCodes(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := m.me(c)
		if err != nil {
			return err
		}
		codes, err := m.RenewRecoveryCodes(c.Request().Context(), u, c.FormValue("confirm"), c.RealIP())
		if err != nil {
			return m.refuseOnPage(c, sm, err)
		}
		return changed(c, sm, codes, "New recovery codes made; the old ones no longer work.")
	}
}

func (m *MFA) passkeyBegin(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, err := m.me(c)
		if err != nil {
			return err
		}
		rp, err := m.relyingParty(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		name := c.FormValue("name")
		options, state, err := m.BeginPasskeyRegistration(ctx, u, rp, name, c.FormValue("confirm"), c.RealIP())
		if err != nil {
			return jsonRefusal(c, err)
		}
		sm.Put(ctx, mfaCeremonyKey, string(state))
		sm.Put(ctx, mfaNameKey, strings.TrimSpace(name))
		return c.JSONBlob(http.StatusOK, options)
	}
}

func (m *MFA) passkeyFinish(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		u, err := m.me(c)
		if err != nil {
			return err
		}
		rp, err := m.relyingParty(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		body, err := readJSON(c)
		if err != nil {
			return jsonRefusal(c, err)
		}
		state, name := sm.PopString(ctx, mfaCeremonyKey), sm.PopString(ctx, mfaNameKey)
		codes, err := m.FinishPasskeyRegistration(ctx, u, rp, name, []byte(state), body)
		if err != nil {
			return jsonRefusal(c, err)
		}
		MarkSecondFactor(ctx, sm)
		if len(codes) > 0 {
			sm.Put(ctx, mfaCodesKey, strings.Join(codes, " "))
		}
		web.Flash(c, "Passkey "+strconv.Quote(name)+" added.")
		return c.JSON(http.StatusOK, map[string]string{"next": securityPath})
	}
}

func (m *MFA) passkeyRemove(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := m.me(c)
		if err != nil {
			return err
		}
		id, err := strconv.ParseInt(c.Param("id"), 10, 64)
		if err != nil || id <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "That is not a passkey's number.")
		}
		if err := m.RemovePasskey(c.Request().Context(), u, id, c.FormValue("confirm"), c.RealIP()); err != nil {
			return m.refuseOnPage(c, sm, err)
		}
		return changed(c, sm, nil, "Passkey removed.")
	}
}
