package identity

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/web"
)

// TokenRoutes registers the signed-in staff user's own API tokens page.
func (s *Service) TokenRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/account/tokens", authz.ConsoleView, s.tokensPage)
	a.Route(e, http.MethodPost, "/account/tokens", authz.ConsoleView, s.createTokenForm)
	a.Route(e, http.MethodPost, "/account/tokens/:id/revoke", authz.ConsoleView, s.revokeTokenForm)
}

// tokensView is the data of templates/console/tokens.html.
type tokensView struct {
	Tokens  []APIToken
	Scopes  []string
	Secret  string // the new token's secret, shown once
	Created string
	Form    struct{ Name, Clients, Expires string }
}

func (s *Service) tokensPage(c echo.Context) error {
	return s.renderTokens(c, http.StatusOK, tokensView{}, "")
}

func (s *Service) renderTokens(c echo.Context, status int, v tokensView, errMsg string) error {
	sub, _ := authz.SubjectFrom(c.Request().Context())
	list, err := s.ListTokens(c.Request().Context(), sub.Email)
	if err != nil {
		return err
	}
	v.Tokens, v.Scopes = list, TokenScopes
	if v.Form.Expires == "" {
		v.Form.Expires = "90d"
	}
	return web.RenderError(c, status, "console/tokens.html", "API tokens", errMsg, v)
}

func (s *Service) createTokenForm(c echo.Context) error {
	sub, _ := authz.SubjectFrom(c.Request().Context())
	form, _ := c.FormParams()
	var v tokensView
	v.Form.Name, v.Form.Clients, v.Form.Expires = form.Get("name"), form.Get("clients"), form.Get("expires")
	in := TokenInput{Name: v.Form.Name, Scopes: form["scope"], Clients: splitList(v.Form.Clients)}
	life, err := ParseLifetime(v.Form.Expires)
	if err == nil {
		in.Lifetime = life
		var t APIToken
		t, v.Secret, err = s.CreateToken(c.Request().Context(), sub.Email, in)
		v.Created = t.Name
	}
	if errors.Is(err, fault.Invalid) {
		return s.renderTokens(c, http.StatusUnprocessableEntity, v, fault.Message(err))
	}
	if err != nil {
		return err
	}
	// Rendered, not redirected: the secret must not travel in a flash or URL.
	return s.renderTokens(c, http.StatusOK, v, "")
}

func (s *Service) revokeTokenForm(c echo.Context) error {
	sub, _ := authz.SubjectFrom(c.Request().Context())
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err == nil {
		err = s.RevokeToken(c.Request().Context(), sub.Email, id)
	}
	if err != nil && (errors.Is(err, fault.NotFound) || errors.Is(err, strconv.ErrSyntax) || errors.Is(err, strconv.ErrRange)) {
		// Another user's token looks like none at all: 404, never a false success.
		return echo.NewHTTPError(http.StatusNotFound, "No such token of yours.")
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/account/tokens", "Token revoked; scripts using it stop at once.")
}

// splitList splits a comma- or space-separated list, dropping empty items.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}
