package audit_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

func parse(query url.Values) (audit.Filter, error) {
	req := httptest.NewRequest(http.MethodGet, "/t/acme/audit?"+query.Encode(), nil)
	c := echo.New().NewContext(req, httptest.NewRecorder())
	f, _, err := audit.ParseFilter(c)
	return f, err
}

func TestParseFilterRejects(t *testing.T) {
	long := strings.Repeat("x", 201)
	cases := []struct {
		name   string
		query  url.Values
		reason string // must appear in the message
	}{
		{"month 13", url.Values{"since": {"2024-13-01"}}, `"2024-13-01"`},
		{"day 30 of February", url.Values{"until": {"2024-02-30"}}, `"2024-02-30"`},
		{"words", url.Values{"until": {"yesterday"}}, `"yesterday"`},
		{"US order", url.Values{"since": {"03/01/2024"}}, `"03/01/2024"`},
		{"with a time", url.Values{"since": {"2024-03-01T10:00:00Z"}}, "YYYY-MM-DD"},
		{"bad until after a good since", url.Values{"since": {"2024-03-01"}, "until": {"2024-3-2"}}, `"2024-3-2"`},
		{"long action", url.Values{"action": {long}}, "too long"},
		{"long actor", url.Values{"actor": {long}}, "too long"},
		{"long text", url.Values{"q": {long}}, "too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(tc.query)
			var he *echo.HTTPError
			if !errors.As(err, &he) || he.Code != http.StatusBadRequest {
				t.Fatalf("want a 400 HTTPError, got %v", err)
			}
			msg, _ := he.Message.(string)
			if !strings.Contains(msg, tc.reason) {
				t.Fatalf("message %q does not say %q", msg, tc.reason)
			}
		})
	}
}

func TestParseFilterAccepts(t *testing.T) {
	f, err := parse(url.Values{
		"action": {"  user.  "}, "actor": {" Alice "}, "q": {strings.Repeat("y", 200)},
		"since": {"2024-03-01"}, "until": {"2024-03-01"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := audit.Filter{Action: "user.", Actor: "Alice", Text: strings.Repeat("y", 200),
		Since: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)}
	if !f.Since.Equal(want.Since) || !f.Until.Equal(want.Until) {
		t.Fatalf("since %v until %v; want %v and %v (the whole of the until day)", f.Since, f.Until, want.Since, want.Until)
	}
	f.Since, f.Until, want.Since, want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if f != want {
		t.Fatalf("filter %+v, want %+v", f, want)
	}
	if f, err := parse(url.Values{}); err != nil || f != (audit.Filter{}) {
		t.Fatalf("empty query: %+v %v", f, err)
	}
}

// TestUntilIncludesTheWholeDay runs a parsed filter against a real log: an
// entry one second before midnight of the "until" day is in, midnight is out.
func TestUntilIncludesTheWholeDay(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "until")
	ctx := context.Background()
	times := map[string]time.Time{
		"day before":     time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC),
		"start of day":   time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC),
		"end of day":     time.Date(2024, 3, 1, 23, 59, 59, 0, time.UTC),
		"next midnight":  time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC),
		"later next day": time.Date(2024, 3, 2, 12, 0, 0, 0, time.UTC),
	}
	err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		for name, at := range times {
			if err := tx.Exec(`INSERT INTO audit_log (at, actor, action, target) VALUES (?, 'x', 'day.test', ?)`, at, name).Error; err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		query url.Values
		want  []string
	}{
		{url.Values{"until": {"2024-03-01"}}, []string{"day before", "end of day", "start of day"}},
		{url.Values{"since": {"2024-03-01"}, "until": {"2024-03-01"}}, []string{"end of day", "start of day"}},
		{url.Values{"since": {"2024-03-02"}}, []string{"later next day", "next midnight"}},
	}
	for _, tc := range cases {
		f, err := parse(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		f.Action = "day."
		got, err := e.svc.Tenant(ctx, scope, f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, en := range got {
			names = append(names, en.Target)
		}
		slices.Sort(names)
		if !slices.Equal(names, tc.want) {
			t.Fatalf("%v: got %v, want %v", tc.query, names, tc.want)
		}
	}
}
