package audit

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers the audit pages: a client's log and the platform log,
// each filterable and exportable (?format=csv or ?format=ndjson).
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/audit", authz.TenantView, s.tenantLog)
	a.Route(e, http.MethodGet, "/platform/audit", authz.PlatformManage, s.platformLog)
}

// logPage is what the audit page shows.
type logPage struct {
	Scope   string // "client" or "platform"
	Filter  filterForm
	Entries []Entry
	// Export links of the current filter: whole URLs (a query string spliced
	// into an href is escaped as data, "=" and all, and loses the filter).
	ExportCSV, ExportNDJSON string
}

type filterForm struct {
	Action, Actor, Text, Since, Until string
}

// parseFilter reads the filter form; bad dates are the user's to fix (400).
func parseFilter(c echo.Context) (Filter, filterForm, error) {
	ff := filterForm{Action: strings.TrimSpace(c.QueryParam("action")), Actor: strings.TrimSpace(c.QueryParam("actor")),
		Text: strings.TrimSpace(c.QueryParam("q")), Since: c.QueryParam("since"), Until: c.QueryParam("until")}
	f := Filter{Action: ff.Action, Actor: ff.Actor, Text: ff.Text}
	for _, d := range []struct {
		raw  string
		into *time.Time
		add  time.Duration
	}{{ff.Since, &f.Since, 0}, {ff.Until, &f.Until, 24 * time.Hour}} {
		if d.raw == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", d.raw)
		if err != nil {
			return Filter{}, ff, echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("dates are YYYY-MM-DD, not %q", d.raw))
		}
		*d.into = t.Add(d.add) // "until" includes the whole day
	}
	for _, v := range []string{ff.Action, ff.Actor, ff.Text} {
		if len(v) > 200 {
			return Filter{}, ff, echo.NewHTTPError(http.StatusBadRequest, "filter text is too long")
		}
	}
	return f, ff, nil
}

func (s *Service) tenantLog(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list := func(f Filter) ([]Entry, error) { return s.Tenant(c.Request().Context(), t, f) }
	return s.serveLog(c, "client", t.Slug+"-audit", "Audit log · "+t.Name, list)
}

func (s *Service) platformLog(c echo.Context) error {
	list := func(f Filter) ([]Entry, error) { return s.Platform(c.Request().Context(), f) }
	return s.serveLog(c, "platform", "platform-audit", "Platform audit log", list)
}

func (s *Service) serveLog(c echo.Context, scope, fileStem, title string, list func(Filter) ([]Entry, error)) error {
	f, ff, err := parseFilter(c)
	if err != nil {
		return err
	}
	switch format := c.QueryParam("format"); format {
	case "":
	case FormatCSV, FormatNDJSON:
		ctype := "text/csv; charset=utf-8"
		if format == FormatNDJSON {
			ctype = "application/x-ndjson"
		}
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, ctype)
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-%s.%s"`, fileStem, time.Now().UTC().Format("20060102-150405"), format))
		c.Response().WriteHeader(http.StatusOK)
		return Export(c.Response(), format, list, f)
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "format must be csv or ndjson")
	}
	f.Limit = 200
	entries, err := list(f)
	if err != nil {
		return err
	}
	export := func(format string) string {
		return c.Request().URL.Path + "?" + web.QueryString("action", ff.Action, "actor", ff.Actor, "q", ff.Text,
			"since", ff.Since, "until", ff.Until, "format", format)
	}
	return web.Render(c, http.StatusOK, "console/audit.html", title,
		logPage{Scope: scope, Filter: ff, Entries: entries, ExportCSV: export(FormatCSV), ExportNDJSON: export(FormatNDJSON)})
}
