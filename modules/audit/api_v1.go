package audit

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// apiScopeRead is the token scope that reads a client's audit log; the log
// is part of the client's record, so it shares the clients' read scope.
const apiScopeRead = "clients:read"

// APIv1Routes registers a client's audit log on the staff REST API.
func (s *Service) APIv1Routes(api *apidoc.API) {
	api.Doc.Define("AuditEntry", apidoc.Schema{"type": "object",
		"required": []string{"id", "at", "actor", "action", "target", "summary", "client_ip"},
		"properties": apidoc.Schema{
			"id": apidoc.Schema{"type": "integer"}, "at": apidoc.Schema{"type": "string", "format": "date-time"},
			"actor": apidoc.Schema{"type": "string"}, "action": apidoc.Schema{"type": "string"},
			"target": apidoc.Schema{"type": "string"}, "summary": apidoc.Schema{"type": "string"},
			"client_ip": apidoc.Schema{"type": "string"},
		}})
	api.Doc.Define("AuditPage", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("AuditEntry")},
		"next":  apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"},
	}})
	api.Route(apidoc.Op{Method: http.MethodGet, Path: "/api/v1/clients/:slug/audit", ID: "listAudit", Tag: "audit",
		Summary: "List a client's audit log, newest first (by time, then id)",
		Params: append([]apidoc.Param{
			{Name: "action", In: "query", Description: "action prefix, like user. or tenant.created"},
			{Name: "actor", In: "query", Description: "text in the actor, case-insensitive"},
			{Name: "q", In: "query", Description: "text in the target or summary, case-insensitive"},
			{Name: "since", In: "query", Description: "entries at or after this time (RFC 3339)", Schema: apidoc.Schema{"type": "string", "format": "date-time"}},
			{Name: "until", In: "query", Description: "entries before this time (RFC 3339)", Schema: apidoc.Schema{"type": "string", "format": "date-time"}},
		}, apidoc.PageParams()...),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of entries", Schema: apidoc.Ref("AuditPage")}},
	}, authz.TenantView, apiScopeRead, s.apiTenantLog)
	s.apiExportRoute(api)
}

// auditPage is one page of the API's listing.
type auditPage struct {
	Items []Entry `json:"items"`
	Next  string  `json:"next,omitempty"`
}

func (s *Service) apiTenantLog(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	f, err := apiFilter(c)
	if err != nil {
		return err
	}
	f.Limit++ // one more tells whether there is a next page
	list, err := s.Tenant(ctx, t, f)
	if err != nil {
		return err
	}
	page := auditPage{Items: list}
	if len(list) == f.Limit {
		page.Items = list[:f.Limit-1]
		page.Next = encodeCursor(CursorOf(page.Items[len(page.Items)-1]))
	}
	if page.Items == nil {
		page.Items = []Entry{}
	}
	return c.JSON(http.StatusOK, page)
}

// apiFilter reads the listing's query; any bad value is the caller's to fix (400).
func apiFilter(c echo.Context) (Filter, error) {
	f := Filter{Action: strings.TrimSpace(c.QueryParam("action")), Actor: strings.TrimSpace(c.QueryParam("actor")),
		Text: strings.TrimSpace(c.QueryParam("q"))}
	for _, v := range []string{f.Action, f.Actor, f.Text} {
		if len(v) > 200 {
			return Filter{}, apidoc.Fail(http.StatusBadRequest, "filter text is too long")
		}
	}
	for _, d := range []struct {
		name string
		into *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		raw := c.QueryParam(d.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return Filter{}, apidoc.Fail(http.StatusBadRequest, fmt.Sprintf("%s must be an RFC 3339 time like 2026-01-02T15:04:05Z, not %q", d.name, raw))
		}
		*d.into = t
	}
	var err error
	if f.Limit, err = apidoc.PageLimit(c); err != nil {
		return Filter{}, err
	}
	if raw := c.QueryParam("cursor"); raw != "" {
		cur, ok := decodeCursor(raw)
		if !ok {
			return Filter{}, apidoc.Fail(http.StatusBadRequest, fmt.Sprintf("cursor %q is not one this API gave out", raw))
		}
		f.Before = cur
	}
	return f, nil
}

// encodeCursor makes cur opaque: entries are ordered by time then id, so
// both travel; the time as Unix microseconds, PostgreSQL's precision.
func encodeCursor(cur Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf("audit:%d:%d", cur.At.UnixMicro(), cur.ID)))
}

// decodeCursor reads what encodeCursor wrote; anything else is not a cursor.
func decodeCursor(s string) (Cursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, false
	}
	parts := strings.Split(string(b), ":")
	if len(parts) != 3 || parts[0] != "audit" {
		return Cursor{}, false
	}
	us, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return Cursor{}, false
	}
	return Cursor{At: time.UnixMicro(us), ID: id}, true
}
