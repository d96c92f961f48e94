package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
)

// Session-bound state of a browser: the CSRF token and the one-off notice
// shown on the next page. Both live in the server-side session (scs), never
// in a cookie or URL a third party can plant.
const (
	sessionManagerKey = "web.sessions" // echo context key of the request's session manager
	csrfSessionKey    = "csrf"         // session key of the synchronizer token
	flashSessionKey   = "flash"        // session key of the next page's notice
)

// CSRFField and CSRFHeader are where a state-changing request carries the
// token: the hidden form field of every form, or the header for scripts.
const (
	CSRFField  = "_csrf"
	CSRFHeader = "X-CSRF-Token"
)

// UseSessions makes sm the session manager of the requests it wraps, for
// CSRFToken, Flash and the CSRF check. It must run inside sm.LoadAndSave.
func UseSessions(sm *scs.SessionManager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Set(sessionManagerKey, sm)
			return next(c)
		}
	}
}

func sessionsOf(c echo.Context) *scs.SessionManager {
	sm, _ := c.Get(sessionManagerKey).(*scs.SessionManager)
	return sm
}

// CSRFToken returns the session's synchronizer token, creating it on first
// use, so a page with a form (the anonymous sign-in form included) holds a
// token while an answer without one (a redirect, an asset) stores nothing.
// It is empty outside a session.
func CSRFToken(c echo.Context) string {
	sm := sessionsOf(c)
	if sm == nil {
		return ""
	}
	ctx := c.Request().Context()
	if tok := sm.GetString(ctx, csrfSessionKey); tok != "" {
		return tok
	}
	tok := newToken()
	sm.Put(ctx, csrfSessionKey, tok)
	return tok
}

// RenewCSRF replaces the session's token; sign-in calls it right after
// renewing the session token, so nothing learnt before a sign-in works after.
func RenewCSRF(ctx context.Context, sm *scs.SessionManager) {
	sm.Put(ctx, csrfSessionKey, newToken())
}

// newToken is 256 random bits, URL-safe.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// CSRF refuses every state-changing request (anything but GET, HEAD,
// OPTIONS and TRACE) whose form field or header does not carry the token of
// the request's own session: a session without a token, a missing token and
// a token of another session are all refused with 403, before any handler
// or store sees the request. skip exempts requests authenticated otherwise
// (API keys, agent credentials), which carry no cookies.
func CSRF(skip func(c echo.Context) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			switch c.Request().Method {
			case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
				return next(c)
			}
			if skip != nil && skip(c) {
				return next(c)
			}
			if !validCSRF(c) {
				return echo.NewHTTPError(http.StatusForbidden, "This form has expired. Go back, reload the page and try again.")
			}
			return next(c)
		}
	}
}

func validCSRF(c echo.Context) bool {
	sm := sessionsOf(c)
	if sm == nil {
		return false
	}
	want := sm.GetString(c.Request().Context(), csrfSessionKey)
	got := c.Request().Header.Get(CSRFHeader)
	if got == "" {
		got = c.FormValue(CSRFField)
	}
	got = strings.TrimSpace(got)
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Flash keeps msg in the session for the next page rendered in it. A notice
// never travels in the URL, so nobody can make a page show words of theirs.
func Flash(c echo.Context, msg string) {
	if sm := sessionsOf(c); sm != nil && msg != "" {
		sm.Put(c.Request().Context(), flashSessionKey, msg)
	}
}

// popFlash takes the session's notice, if any, so it is shown once.
func popFlash(c echo.Context) string {
	sm := sessionsOf(c)
	if sm == nil {
		return ""
	}
	return sm.PopString(c.Request().Context(), flashSessionKey)
}

// RedirectFlash sends the browser to path (303, so a reload does not repeat
// the POST) and shows flash, a one-off success message, on the next page.
func RedirectFlash(c echo.Context, path, flash string) error {
	Flash(c, flash)
	return c.Redirect(http.StatusSeeOther, path)
}
