package alerts

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// apiServer serves the alert API for one tenant, as if its API key had been
// resolved by the tenancy middleware.
func apiServer(t *testing.T, f fixture, tn tenancy.Tenant) *echo.Echo {
	t.Helper()
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(tenancy.WithTenant(c.Request().Context(), tn, tenancy.ViaAPIKey)))
			return next(c)
		}
	}, a.Middleware(authz.MiddlewareOptions{}))
	f.alerts.APIRoutes(a, e)
	return e
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	e := apiServer(t, f, tn)
	huge := `{"source":"x","rule":"r","description":"` + strings.Repeat("a", 1100*1024) + `"}`
	cases := []struct {
		name, path, body string
		status           int
		fragment         string
	}{
		{"one alert", "/api/v1/alerts", `{"source":"zabbix","rule":"ping","severity":"critical","labels":{"host":"fw1"}}`, 202, `"action":"created"`},
		{"repeat", "/api/v1/alerts", `{"source":"zabbix","rule":"ping","severity":"critical","labels":{"host":"fw1"}}`, 202, `"action":"repeated"`},
		{"batch", "/api/v1/alerts", `{"alerts":[{"source":"a","rule":"b"},{"source":"a","rule":"c","status":"resolved"}]}`, 202, `"action":"ignored"`},
		{"empty body", "/api/v1/alerts", ``, 400, "empty"},
		{"not json", "/api/v1/alerts", `{"source":`, 400, "malformed JSON"},
		{"trailing data", "/api/v1/alerts", `{"source":"a","rule":"b"} {}`, 400, "after the document"},
		{"unknown field", "/api/v1/alerts", `{"source":"a","rule":"b","sevrity":"critical"}`, 400, "sevrity"},
		{"missing rule", "/api/v1/alerts", `{"source":"a"}`, 400, "source and rule are required"},
		{"bad item in batch", "/api/v1/alerts", `{"alerts":[{"source":"a","rule":"ok-1"},{"source":"a","rule":"b","severity":"urgent"}]}`, 400, "alerts[1]: severity"},
		{"both forms", "/api/v1/alerts", `{"source":"a","rule":"b","alerts":[{"source":"a","rule":"b"}]}`, 400, "either one alert"},
		{"oversized", "/api/v1/alerts", huge, 413, "Too Large"},
		{"alertmanager firing", "/api/v1/alerts/alertmanager", `{"version":"4","status":"firing","receiver":"sb","groupLabels":{},"alerts":[
			{"status":"firing","labels":{"alertname":"HighLoad","instance":"web2:9100","severity":"page"},"annotations":{"summary":"load 12"},"startsAt":"2026-11-27T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p","fingerprint":"abc"}]}`, 202, `"action":"created"`},
		{"alertmanager resolved", "/api/v1/alerts/alertmanager", `{"version":"4","status":"resolved","alerts":[
			{"status":"resolved","labels":{"alertname":"HighLoad","instance":"web2:9100","severity":"page"},"annotations":{"summary":"load 12"}}]}`, 202, `"action":"resolved"`},
		{"alertmanager without alertname", "/api/v1/alerts/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{}}]}`, 400, "source and rule"},
		{"alertmanager wrong version", "/api/v1/alerts/alertmanager", `{"version":"3","alerts":[]}`, 400, "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.fragment) {
				t.Fatalf("status %d body %.300s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.fragment)
			}
		})
	}
	list, err := f.alerts.List(context.Background(), tn, Filter{Status: "all"})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]Alert{}
	for _, a := range list {
		rules[a.Rule] = a
	}
	if len(list) != 3 || rules["ok-1"].ID != 0 {
		t.Fatalf("stored %d alerts %v; refused requests must store nothing", len(list), rules)
	}
	hl := rules["HighLoad"]
	if hl.Severity != SeverityCritical || hl.Endpoint != "web2:9100" || hl.Status != StatusResolved || hl.Summary != "load 12" {
		t.Fatalf("alertmanager mapping: %+v", hl)
	}
}
