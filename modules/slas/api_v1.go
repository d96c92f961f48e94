package slas

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// scopeRead is the token scope of the report (the table is identity.TokenScopes).
const scopeRead = "clients:read"

// APIv1Routes registers a client's monthly SLA report on the staff REST API.
func (r *Reports) APIv1Routes(api *apidoc.API) {
	api.Doc.Define("SLAClock", apidoc.Schema{"type": "object", "required": []string{"target_s", "used_s", "outcome"}, "properties": apidoc.Schema{
		"target_s": apidoc.Schema{"type": "integer", "description": "business seconds allowed"},
		"used_s":   apidoc.Schema{"type": "integer", "description": "business seconds used (so far, while open)"},
		"outcome":  apidoc.Schema{"type": "string", "enum": []string{"met", "missed", "open"}},
	}})
	api.Doc.Define("SLAOutcome", apidoc.Schema{"type": "object", "required": []string{"decided", "met", "measured", "percent"}, "properties": apidoc.Schema{
		"decided":  apidoc.Schema{"type": "integer", "description": "alerts with an outcome: stopped, or already past the target"},
		"met":      apidoc.Schema{"type": "integer"},
		"measured": apidoc.Schema{"type": "boolean", "description": "whether any alert has an outcome; if not, percent means nothing"},
		"percent":  apidoc.Schema{"type": "number", "description": "share of decided alerts that met the target"},
		"mean_s":   apidoc.Schema{"type": "integer", "description": "mean business seconds of the stopped clocks"},
		"median_s": apidoc.Schema{"type": "integer"},
	}})
	api.Doc.Define("SLARow", apidoc.Schema{"type": "object", "required": []string{"alert_id", "opened_at", "severity", "rule", "summary", "response", "resolution"},
		"properties": apidoc.Schema{
			"alert_id": apidoc.Schema{"type": "integer"}, "opened_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"severity": apidoc.Schema{"type": "string"}, "rule": apidoc.Schema{"type": "string"}, "summary": apidoc.Schema{"type": "string"},
			"response": apidoc.Ref("SLAClock"), "resolution": apidoc.Ref("SLAClock"),
		}})
	rows := apidoc.Schema{"type": "array", "items": apidoc.Ref("SLARow")}
	api.Doc.Define("SLAReport", apidoc.Schema{"type": "object", "required": []string{"month", "current", "origin", "alerts", "response", "resolution", "breaches", "overdue", "rows"},
		"properties": apidoc.Schema{
			"month":      apidoc.Schema{"type": "string", "example": "2026-11"},
			"current":    apidoc.Schema{"type": "boolean", "description": "the month under way: overdue open alerts of earlier months count as missed"},
			"origin":     apidoc.Schema{"type": "string", "description": "where the client's SLA comes from; empty: the client has no SLA"},
			"alerts":     apidoc.Schema{"type": "integer", "description": "alerts opened in the month"},
			"response":   apidoc.Ref("SLAOutcome"),
			"resolution": apidoc.Ref("SLAOutcome"),
			"breaches":   apidoc.Schema{"type": "array", "items": apidoc.Ref("SLARow"), "description": "alerts of the month that missed either target"},
			"overdue":    apidoc.Schema{"type": "array", "items": apidoc.Ref("SLARow"), "description": "open alerts past a target now (current month only)"},
			"rows":       rows,
		}})
	api.Route(apidoc.Op{Method: http.MethodGet, Path: "/api/v1/clients/:slug/sla", ID: "getSLAReport", Tag: "sla",
		Summary: "A client's monthly SLA report, as JSON or CSV",
		Description: "The numbers of the console's SLA page. With Accept: text/csv or ?format=csv, the CSV export instead: " +
			"one row per alert opened in the month (the plain monthly report, without earlier months' overdue alerts).",
		Params: []apidoc.Param{
			{Name: "month", In: "query", Description: "YYYY-MM (default: this month)", Schema: apidoc.Schema{"type": "string", "pattern": `^\d{4}-\d{2}$`}},
			{Name: "format", In: "query", Description: "csv: the CSV export", Schema: apidoc.Schema{"type": "string", "enum": []string{"json", "csv"}}},
		},
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the report", Schema: apidoc.Ref("SLAReport"),
			Alternates: map[string]apidoc.Schema{"text/csv": {"type": "string"}}}},
	}, authz.TenantView, scopeRead, r.apiReport)
}

// apiClock is a clock as the API reports it.
type apiClock struct {
	TargetS int64  `json:"target_s"`
	UsedS   int64  `json:"used_s"`
	Outcome string `json:"outcome"`
}

type apiRow struct {
	AlertID    int64     `json:"alert_id"`
	OpenedAt   time.Time `json:"opened_at"`
	Severity   string    `json:"severity"`
	Rule       string    `json:"rule"`
	Summary    string    `json:"summary"`
	Response   apiClock  `json:"response"`
	Resolution apiClock  `json:"resolution"`
}

type apiOutcome struct {
	Decided  int     `json:"decided"`
	Met      int     `json:"met"`
	Measured bool    `json:"measured"`
	Percent  float64 `json:"percent"`
	MeanS    int64   `json:"mean_s"`
	MedianS  int64   `json:"median_s"`
}

type apiReport struct {
	Month      string     `json:"month"`
	Current    bool       `json:"current"`
	Origin     string     `json:"origin"`
	Alerts     int        `json:"alerts"`
	Response   apiOutcome `json:"response"`
	Resolution apiOutcome `json:"resolution"`
	Breaches   []apiRow   `json:"breaches"`
	Overdue    []apiRow   `json:"overdue"`
	Rows       []apiRow   `json:"rows"`
}

func seconds(d time.Duration) int64 { return int64(d.Round(time.Second) / time.Second) }

func clockOf(c Clock) apiClock {
	return apiClock{TargetS: seconds(c.Target), UsedS: seconds(c.Used), Outcome: outcome(c)}
}

func outcomeOf(o Outcome) apiOutcome {
	return apiOutcome{Decided: o.Decided, Met: o.Met, Measured: o.Measured(), Percent: o.Percent(), MeanS: seconds(o.Mean), MedianS: seconds(o.Median)}
}

func rowsOf(rows []Row) []apiRow {
	out := make([]apiRow, 0, len(rows)) // [] rather than null
	for _, row := range rows {
		out = append(out, apiRow{AlertID: row.Alert.ID, OpenedAt: row.Alert.FirstSeenAt, Severity: row.Alert.Severity,
			Rule: row.Alert.Rule, Summary: row.Alert.Summary, Response: clockOf(row.Response), Resolution: clockOf(row.Resolution)})
	}
	return out
}

// wantsCSV: ?format=csv, or Accept naming text/csv without ?format.
func wantsCSV(c echo.Context) (bool, error) {
	switch c.QueryParam("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(c.Request().Header.Get(echo.HeaderAccept), "text/csv"), nil
	}
	return false, apidoc.Fail(http.StatusBadRequest, "format must be json or csv")
}

func (r *Reports) apiReport(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	month, err := r.MonthOf(c.QueryParam("month"))
	if err != nil {
		return err
	}
	csv, err := wantsCSV(c)
	if err != nil {
		return err
	}
	// As the console: the month under way as a report is Current, the CSV
	// and past months the plain monthly report.
	current := month.UTC().Format("2006-01") == r.now().UTC().Format("2006-01")
	var rep Report
	if current && !csv {
		rep, err = r.Current(ctx, t, month)
	} else {
		rep, err = r.Month(ctx, t, month)
	}
	if err != nil {
		return err
	}
	if csv {
		h := c.Response().Header()
		h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
		h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-sla-%s.csv"`, t.Slug, rep.Month.Format("2006-01")))
		c.Response().WriteHeader(http.StatusOK)
		return rep.WriteCSV(c.Response())
	}
	return c.JSON(http.StatusOK, apiReport{Month: rep.Month.Format("2006-01"), Current: current, Origin: rep.Origin, Alerts: rep.Alerts,
		Response: outcomeOf(rep.Response), Resolution: outcomeOf(rep.Resolution),
		Breaches: rowsOf(rep.Breaches), Overdue: rowsOf(rep.Overdue), Rows: rowsOf(rep.Rows)})
}
