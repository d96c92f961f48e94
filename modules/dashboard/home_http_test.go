package dashboard

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/authz"
	"switchboard/platform/web"
	"switchboard/templates"
)

// The home answers ?sort= and ?mine=1 for the signed-in staff user (a
// technician who sees the fixture's four clients), and refuses values it
// does not offer with 400 and the reason.
func TestHomeQueueParams(t *testing.T) {
	f := newQueueFixture(t)
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, s := range f.sums {
		ids = append(ids, s.ID)
	}
	if err := a.SetGrants([]authz.Grant{{Subject: "staff:1", Role: "technician", Scope: "list", TenantIDs: ids}}); err != nil {
		t.Fatal(err)
	}
	e := web.New(tenantstest.Quiet)
	if e.Renderer, err = web.NewRenderer(templates.FS, nil, "console/*.html"); err != nil {
		t.Fatal(err)
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			sub := authz.Subject{Key: "staff:1", Role: "technician", Staff: true, Email: "Tech@msp.example"}
			c.SetRequest(c.Request().WithContext(authz.WithSubject(c.Request().Context(), sub)))
			return next(c)
		}
	})
	f.s.ConsoleRoutes(a, e)
	get := func(target string) (int, string) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil).WithContext(context.Background()))
		return rec.Code, rec.Body.String()
	}
	// order returns the rules as they appear in the queue's rows.
	order := func(body string) string {
		var got []string
		for _, row := range strings.Split(body, "<tr>")[1:] {
			for _, r := range []string{"a-crit", "a-warn", "b-crit", "b-warn", "c-warn", "d-crit"} {
				if strings.Contains(row, ">"+r+"</a>") {
					got = append(got, r)
				}
			}
		}
		return strings.Join(got, " ")
	}
	cases := []struct {
		target, want, heading string
	}{
		{"/", "a-crit d-crit b-crit a-warn b-warn c-warn", "Most urgent, all clients"},
		{"/?sort=age", "a-warn b-crit b-warn c-warn a-crit d-crit", "Most urgent, all clients"},
		{"/?sort=breach", "a-warn a-crit b-warn c-warn b-crit d-crit", "Most urgent, all clients"},
		{"/?sort=client", "b-crit b-warn d-crit c-warn a-crit a-warn", "Most urgent, all clients"},
		{"/?mine=1", "a-crit c-warn", "My alerts, all clients"},
		{"/?mine=1&sort=age", "c-warn a-crit", "My alerts, all clients"},
	}
	for _, tc := range cases {
		t.Run(tc.target, func(t *testing.T) {
			status, body := get(tc.target)
			if status != http.StatusOK || !strings.Contains(body, tc.heading) {
				t.Fatalf("%d without %q:\n%.2000s", status, tc.heading, body)
			}
			if got := order(body); got != tc.want {
				t.Errorf("queue %q, want %q", got, tc.want)
			}
			if !strings.Contains(body, `class="due due-breached"`) && !strings.Contains(tc.target, "mine") {
				t.Errorf("no breached clock shown")
			}
		})
	}
	for bad, reason := range map[string]string{"/?sort=severity": "sort by urgency, age, breach or client", "/?mine=yes": "mine is 1"} {
		t.Run(bad, func(t *testing.T) {
			if status, body := get(bad); status != http.StatusBadRequest || !strings.Contains(body, reason) {
				t.Errorf("%s: %d, want 400 saying %q:\n%.1500s", bad, status, reason, body)
			}
		})
	}
}
