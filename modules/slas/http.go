package slas

import (
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers a client's monthly SLA report (HTML and CSV).
func (r *Reports) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/sla", authz.TenantView, r.page)
}

func (r *Reports) page(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	month, err := r.MonthOf(c.QueryParam("month"))
	if err != nil {
		return err
	}
	rep, err := r.pageReport(c, t, month)
	if err != nil {
		return err
	}
	if c.QueryParam("format") == "csv" {
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-sla-%s.csv"`, t.Slug, rep.Month.Format("2006-01")))
		c.Response().WriteHeader(http.StatusOK)
		return rep.WriteCSV(c.Response())
	} else if f := c.QueryParam("format"); f != "" {
		return echo.NewHTTPError(http.StatusBadRequest, "format must be csv")
	}
	return web.Render(c, http.StatusOK, "console/sla.html", "SLA · "+t.Name, r.pageData(rep))
}

// PortalRoutes registers the client's own SLA report (HTML and CSV) on its portal.
func (r *Reports) PortalRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/sla", authz.PortalView, func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		month, err := r.MonthOf(c.QueryParam("month"))
		if err != nil {
			return err
		}
		rep, err := r.pageReport(c, t, month)
		if err != nil {
			return err
		}
		switch c.QueryParam("format") {
		case "csv":
			h := c.Response().Header()
			h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
			h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="sla-%s.csv"`, rep.Month.Format("2006-01")))
			c.Response().WriteHeader(http.StatusOK)
			return rep.WriteCSV(c.Response())
		case "":
		default:
			return echo.NewHTTPError(http.StatusBadRequest, "format must be csv")
		}
		return web.Render(c, http.StatusOK, "portal/sla.html", "Service levels", r.pageData(rep))
	})
}

// pageReport is the report a page or export shows for month. The month
// under way as a page is Current, as the client's home shows it: an alert
// overdue since an earlier month counts as missed and is named, so the
// report and the home agree. The CSV, one row per alert opened in the
// month, and past months are the plain monthly report.
func (r *Reports) pageReport(c echo.Context, t tenancy.Tenant, month time.Time) (Report, error) {
	if c.QueryParam("format") == "" && month.UTC().Format("2006-01") == r.now().UTC().Format("2006-01") {
		return r.Current(c.Request().Context(), t, month)
	}
	return r.Month(c.Request().Context(), t, month)
}

// pageData is what both report pages show: the report, its neighbours and
// whether it is the month under way ("no alert decided yet this month"
// rather than "in this month").
func (r *Reports) pageData(rep Report) map[string]any {
	return map[string]any{"Report": rep, "Current": rep.Month.Format("2006-01") == r.now().UTC().Format("2006-01"),
		"Prev": rep.Month.AddDate(0, -1, 0).Format("2006-01"), "Next": rep.Month.AddDate(0, 1, 0).Format("2006-01")}
}

// MonthOf reads a report's ?month=YYYY-MM (empty: this month); a malformed
// one is a 400 with the expected shape.
func (r *Reports) MonthOf(q string) (time.Time, error) {
	if q == "" {
		return r.now().UTC(), nil
	}
	m, err := time.Parse("2006-01", q)
	if err != nil {
		return time.Time{}, echo.NewHTTPError(http.StatusBadRequest, "month must look like 2026-11")
	}
	return m, nil
}

// WriteCSV writes the report's rows, one per alert, with formula-safe text cells.
func (rep Report) WriteCSV(out io.Writer) error {
	w := csv.NewWriter(out)
	_ = w.Write([]string{"alert_id", "opened_at", "severity", "rule", "summary", "response_used_s", "response_target_s", "response_met",
		"resolution_used_s", "resolution_target_s", "resolution_met"})
	for _, row := range rep.Rows {
		_ = w.Write([]string{fmt.Sprint(row.Alert.ID), row.Alert.FirstSeenAt.UTC().Format(time.RFC3339), row.Alert.Severity,
			web.CSVSafe(row.Alert.Rule), web.CSVSafe(row.Alert.Summary),
			fmt.Sprintf("%.0f", row.Response.Used.Seconds()), fmt.Sprintf("%.0f", row.Response.Target.Seconds()), outcome(row.Response),
			fmt.Sprintf("%.0f", row.Resolution.Used.Seconds()), fmt.Sprintf("%.0f", row.Resolution.Target.Seconds()), outcome(row.Resolution)})
	}
	w.Flush()
	return w.Error()
}

// outcome is a clock's result as a report cell.
func outcome(c Clock) string {
	switch {
	case c.Stopped && c.Met:
		return "met"
	case c.Breached:
		return "missed"
	default:
		return "open"
	}
}
