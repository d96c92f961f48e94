package dashboard

import (
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestPortalLinkPointsAtThisServer: the portal link follows the scheme and
// port the console was reached on, since the same server answers both.
func TestPortalLinkPointsAtThisServer(t *testing.T) {
	cases := []struct {
		name, consoleHost, proto, want string
	}{
		{"make run: plain HTTP on a port", "127.0.0.1:8080", "", "http://acme.localhost:8080/"},
		{"TLS on the default port", "console.msp.example", "https", "https://acme.localhost/"},
		{"TLS on another port", "console.msp.example:8443", "https", "https://acme.localhost:8443/"},
		{"plain HTTP on port 80", "console.msp.example:80", "", "http://acme.localhost/"},
	}
	e := echo.New()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/t/acme/", nil)
			req.Host = tc.consoleHost
			if tc.proto != "" { // a TLS-terminating proxy on this machine says so
				req.RemoteAddr = "127.0.0.1:40000"
				req.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			c := e.NewContext(req, httptest.NewRecorder())
			if got := sameServer(c, "https://acme.localhost/"); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if got := sameServer(e.NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder()), ""); got != "" {
		t.Errorf("no portal became %q", got)
	}
}
