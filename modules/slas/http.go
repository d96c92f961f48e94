package slas

import (
	"encoding/csv"
	"fmt"
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
	month := r.now().UTC()
	if m := c.QueryParam("month"); m != "" {
		parsed, err := time.Parse("2006-01", m)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "month must look like 2026-11")
		}
		month = parsed
	}
	rep, err := r.Month(c.Request().Context(), t, month)
	if err != nil {
		return err
	}
	if c.QueryParam("format") == "csv" {
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-sla-%s.csv"`, t.Slug, rep.Month.Format("2006-01")))
		c.Response().WriteHeader(http.StatusOK)
		w := csv.NewWriter(c.Response())
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
	} else if f := c.QueryParam("format"); f != "" {
		return echo.NewHTTPError(http.StatusBadRequest, "format must be csv")
	}
	return web.Render(c, http.StatusOK, "console/sla.html", "SLA · "+t.Name, map[string]any{
		"Report": rep, "Prev": rep.Month.AddDate(0, -1, 0).Format("2006-01"), "Next": rep.Month.AddDate(0, 1, 0).Format("2006-01")})
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
