package audit

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// exportMIME is the content type of each export format.
var exportMIME = map[string]string{FormatCSV: "text/csv; charset=utf-8", FormatNDJSON: "application/x-ndjson"}

// apiExportRoute registers the export of a client's audit log on the staff
// REST API: the listing's filters, every matching entry, streamed.
func (s *Service) apiExportRoute(api *apidoc.API) {
	api.Route(apidoc.Op{Method: http.MethodGet, Path: "/api/v1/clients/:slug/audit/export", ID: "exportAudit", Tag: "audit",
		Summary: "Export a client's audit log as CSV or NDJSON, newest first",
		Description: "Every entry matching the filters (those of the listing, without paging), streamed as a download. " +
			"CSV: a header row id,at,actor,action,target,summary,client_ip, then one row per entry (cells that a spreadsheet would run as a formula are prefixed with '). " +
			"NDJSON: one AuditEntry JSON object per line.",
		Params: []apidoc.Param{
			{Name: "format", In: "query", Required: true, Schema: apidoc.Schema{"type": "string", "enum": []string{FormatCSV, FormatNDJSON}}},
			{Name: "action", In: "query", Description: "action prefix, like user. or tenant.created"},
			{Name: "actor", In: "query", Description: "text in the actor, case-insensitive"},
			{Name: "q", In: "query", Description: "text in the target or summary, case-insensitive"},
			{Name: "since", In: "query", Description: "entries at or after this time (RFC 3339)", Schema: apidoc.Schema{"type": "string", "format": "date-time"}},
			{Name: "until", In: "query", Description: "entries before this time (RFC 3339)", Schema: apidoc.Schema{"type": "string", "format": "date-time"}},
		},
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the entries, in the format asked for",
			Headers: map[string]string{"Content-Disposition": `attachment; filename="<client>-audit-<YYYY-MM-DD>.<format>"`},
			Alternates: map[string]apidoc.Schema{
				"text/csv":             {"type": "string", "description": "CSV with a header row"},
				"application/x-ndjson": {"type": "string", "format": "binary", "description": "one AuditEntry object per line"},
			}}},
	}, authz.TenantView, apiScopeRead, s.apiExport)
}

func (s *Service) apiExport(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	format := c.QueryParam("format")
	ctype, ok := exportMIME[format]
	if !ok {
		return apidoc.Fail(http.StatusBadRequest, fmt.Sprintf("format must be csv or ndjson, not %q", format))
	}
	f, err := apiFilter(c)
	if err != nil {
		return err
	}
	// An export is everything that matches: Each pages through it itself.
	f.Limit, f.Before = 0, Cursor{}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, ctype)
	h.Set(echo.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="%s-audit-%s.%s"`, t.Slug, time.Now().UTC().Format("2006-01-02"), format))
	// Headers are sent with the first bytes, which come after the first
	// page was read (the CSV writer buffers its header row): a failure of
	// that read is still answered as an error, not as an empty file.
	err = Export(c.Response(), format, func(f Filter) ([]Entry, error) { return s.Tenant(ctx, t, f) }, f)
	if err != nil {
		if !c.Response().Committed {
			h.Del(echo.HeaderContentDisposition)
		}
		return err
	}
	if !c.Response().Committed { // nothing matched, in NDJSON: an empty file
		c.Response().WriteHeader(http.StatusOK)
	}
	return nil
}
