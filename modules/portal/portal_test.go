package portal

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// TestChrome: the frame wears the tenant's brand, and when the brand cannot
// be read it falls back to the tenant's own name rather than failing the
// page or showing anything else.
func TestChrome(t *testing.T) {
	tn := tenancy.Tenant{ID: 7, Slug: "acme", Name: "Acme Health"}
	for _, tc := range []struct {
		name  string
		brand BrandSource
		want  web.Brand
	}{
		{"brand", func(context.Context, tenancy.Tenant) (web.Brand, error) {
			return web.Brand{Name: "Acme", Primary: "#0f766e"}, nil
		}, web.Brand{Name: "Acme", Primary: "#0f766e"}},
		{"brand unavailable", func(context.Context, tenancy.Tenant) (web.Brand, error) {
			return web.Brand{Name: "half-read"}, errors.New("database down")
		}, web.Brand{Name: "Acme Health"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			noSettings := func(context.Context, tenancy.Tenant) (*time.Location, string, error) {
				return nil, "de-DE", errors.New("database down")
			}
			s := NewService(nil, nil, nil, tc.brand, noSettings, slog.New(slog.NewTextHandler(io.Discard, nil)))
			req := httptest.NewRequest(http.MethodGet, "/alerts/3", nil)
			ctx := tenancy.WithTenant(req.Context(), tn, tenancy.ViaHost)
			ctx = authz.WithSubject(ctx, authz.Subject{Key: "client:7:1", Role: authz.ClientUser, TenantID: 7, Email: "it@acme.example"})
			c := echo.New().NewContext(req.WithContext(ctx), httptest.NewRecorder())
			c.SetPath("/alerts/:id")
			ch := s.Chrome(c)
			if ch.Brand == nil || *ch.Brand != tc.want {
				t.Errorf("brand = %+v, want %+v", ch.Brand, tc.want)
			}
			if ch.User != "it@acme.example" || ch.Section != "alerts" {
				t.Errorf("chrome = %+v, want the user and the alerts section", ch)
			}
			// No database here: the client's settings cannot be read, and
			// its times are shown in UTC (named so on the page) rather than
			// failing the page.
			if ch.Zone != time.UTC || ch.Locale != "" {
				t.Errorf("zone, locale = %v, %q; want UTC and the default when the settings cannot be read", ch.Zone, ch.Locale)
			}
		})
	}
}

func TestSection(t *testing.T) {
	for route, want := range map[string]string{
		"/": "home", "/alerts": "alerts", "/alerts/:id": "alerts", "/endpoints": "endpoints",
		"/sla": "sla", "/users": "users", "/users/:email/disable": "users", "/login": "",
	} {
		if got := section(route); got != want {
			t.Errorf("section(%q) = %q, want %q", route, got, want)
		}
	}
}
