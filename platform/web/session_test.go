package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
)

// TestLocalPath: targets browsers or proxies read as another site become
// "/"; paths of this site are kept with their query.
func TestLocalPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/t/acme/alerts?status=open", "/t/acme/alerts?status=open"},
		{"/alerts/7#timeline", "/alerts/7"},
		{"/a%20b", "/a%20b"},
		{"", "/"},
		{"/\t/evil.example/x", "/"},
		{"/%09/evil.example/x", "/"},
		{"/%2509/evil.example/x", "/"},
		{"//evil.example", "/"},
		{"///evil.example", "/"},
		{"/\\evil.example", "/"},
		{"\\\\evil.example", "/"},
		{"/%5C/evil.example", "/"},
		{"/%5c%5cevil.example", "/"},
		{"/%2F/evil.example", "/"},
		{"/%2f%2fevil.example", "/"},
		{"/%252F%252Fevil.example", "/"},
		{"https://evil.example/", "/"},
		{"http:evil.example", "/"},
		{"javascript:alert(1)", "/"},
		{" /evil", "/"},
		{"/\r\nSet-Cookie: x=y", "/"},
		{"/\x00/evil", "/"},
		{"/\x7f/evil", "/"},
		{"/\u3000/evil.example", "/"},
		{"/%zz", "/"},
		{"/" + strings.Repeat("a", 3000), "/"},
	} {
		if got := LocalPath(tc.in); got != tc.want {
			t.Errorf("LocalPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestCSRFAndFlash: the token lives in the session and only it passes; a
// notice put in the session shows once, and ?flash= never.
func TestCSRFAndFlash(t *testing.T) {
	sm := scs.New() // the in-memory store: what is tested is the binding, not the store
	e := echo.New()
	load := echo.WrapMiddleware(sm.LoadAndSave)
	e.Use(load, UseSessions(sm), CSRF(nil))
	e.GET("/form", func(c echo.Context) error { return c.String(http.StatusOK, CSRFToken(c)) })
	e.GET("/notice", func(c echo.Context) error { return c.String(http.StatusOK, popFlash(c)) })
	e.POST("/do", func(c echo.Context) error { return RedirectFlash(c, "/notice", "done") })
	e.POST("/renew", func(c echo.Context) error {
		RenewCSRF(c.Request().Context(), sm)
		return c.NoContent(http.StatusNoContent)
	})

	var cookie *http.Cookie
	call := func(method, path, token string, extra ...*http.Cookie) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(url.Values{CSRFField: {token}}.Encode()))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationForm)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for _, c := range extra {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		for _, c := range rec.Result().Cookies() {
			if c.Name == sm.Cookie.Name {
				cookie = c
			}
		}
		return rec
	}
	if rec := call(http.MethodPost, "/do", ""); rec.Code != http.StatusForbidden {
		t.Fatalf("POST without a session = %d, want 403", rec.Code)
	}
	token := call(http.MethodGet, "/form", "").Body.String()
	if token == "" || call(http.MethodGet, "/form", "").Body.String() != token {
		t.Fatal("the token is not kept in the session")
	}
	for name, bad := range map[string]string{"empty": "", "planted": "x", "truncated": token[:10]} {
		if rec := call(http.MethodPost, "/do", bad, &http.Cookie{Name: "_csrf", Value: bad}); rec.Code != http.StatusForbidden {
			t.Errorf("%s token: %d, want 403", name, rec.Code)
		}
	}
	rec := call(http.MethodPost, "/do", token)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/notice" {
		t.Fatalf("the session's token: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	if got := call(http.MethodGet, "/notice?flash=spoof", "").Body.String(); got != "done" {
		t.Errorf("notice = %q, want the session's", got)
	}
	if got := call(http.MethodGet, "/notice?flash=spoof", "").Body.String(); got != "" {
		t.Errorf("notice again = %q, want nothing (shown once, never from the URL)", got)
	}
	call(http.MethodPost, "/renew", token)
	if rec := call(http.MethodPost, "/do", token); rec.Code != http.StatusForbidden {
		t.Errorf("the token from before renewal: %d, want 403", rec.Code)
	}
}
