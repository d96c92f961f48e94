package alerts

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Token scopes of the alert routes (the table is identity.TokenScopes).
const (
	scopeRead  = "alerts:read"
	scopeWrite = "alerts:write"
)

// APIv1Routes registers a client's alerts on the staff REST API.
func (s *Service) APIv1Routes(api *apidoc.API) {
	api.Doc.Define("Alert", alertSchema)
	api.Doc.Define("AlertEvent", eventSchema)
	api.Doc.Define("AlertPage", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Alert")},
		"next":  apidoc.Schema{"type": "string", "description": "cursor of the next page; absent on the last page"},
	}})
	api.Doc.Define("AlertDetail", apidoc.Schema{"type": "object", "required": []string{"alert", "events"}, "properties": apidoc.Schema{
		"alert":  apidoc.Ref("Alert"),
		"events": apidoc.Schema{"type": "array", "items": apidoc.Ref("AlertEvent")},
	}})
	const base = "/api/v1/clients/:slug/alerts"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listAlerts", Tag: "alerts",
		Summary: "List a client's alerts, newest first",
		Params: append([]apidoc.Param{
			{Name: "status", In: "query", Description: "open (default), firing, acknowledged, resolved, suppressed or all",
				Schema: apidoc.Schema{"type": "string", "enum": []string{"open", "firing", "acknowledged", "resolved", "suppressed", "all"}}},
			{Name: "severity", In: "query", Schema: apidoc.Schema{"type": "string", "enum": []string{"critical", "warning", "info"}}},
			{Name: "q", In: "query", Description: "text in summary, rule, source or endpoint"},
		}, apidoc.PageParams()...),
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "one page of alerts", Schema: apidoc.Ref("AlertPage")}},
	}, authz.TenantView, scopeRead, s.apiList)
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base + "/:id", ID: "getAlert", Tag: "alerts", Summary: "Show an alert and its timeline",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the alert", Schema: apidoc.Ref("AlertDetail")}},
	}, authz.TenantView, scopeRead, s.apiGet)
	for _, act := range []struct {
		name   string
		action Action
	}{{"acknowledge", ActionAcknowledge}, {"resolve", ActionResolve}} {
		api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:id/" + act.name, ID: act.name + "Alert", Tag: "alerts",
			Summary:   capital(act.name) + " an alert (no change if it already is)",
			Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the alert after the change", Schema: apidoc.Ref("Alert")}},
		}, authz.TenantManage, scopeWrite, s.apiTransition(act.action))
	}
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:id/assign", ID: "assignAlert", Tag: "alerts",
		Summary:     "Assign an alert to a staff member who can see the client (empty: unassign)",
		Body:        apidoc.Schema{"type": "object", "required": []string{"assignee"}, "properties": apidoc.Schema{"assignee": apidoc.Schema{"type": "string"}}},
		Responses:   map[int]apidoc.Response{http.StatusOK: {Description: "the alert after the change", Schema: apidoc.Ref("Alert")}},
		Description: "The same rule as the console: only staff who can see the client may be assigned.",
	}, authz.TenantManage, scopeWrite, s.apiAssign)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:id/notes", ID: "addAlertNote", Tag: "alerts", Creates: true,
		Summary: "Add a note to an alert's timeline (internal unless client_visible)",
		Body: apidoc.Schema{"type": "object", "required": []string{"note"}, "properties": apidoc.Schema{
			"note": apidoc.Schema{"type": "string"}, "client_visible": apidoc.Schema{"type": "boolean"}}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the alert and its timeline", Schema: apidoc.Ref("AlertDetail")}},
	}, authz.TenantManage, scopeWrite, s.apiNote)
}

func capital(s string) string { return strings.ToUpper(s[:1]) + s[1:] }

var alertSchema = apidoc.Schema{"type": "object", "required": []string{"id", "source", "rule", "severity", "status", "summary", "first_seen_at", "last_seen_at"},
	"properties": apidoc.Schema{
		"id": apidoc.Schema{"type": "integer"}, "fingerprint": apidoc.Schema{"type": "string"},
		"source": apidoc.Schema{"type": "string"}, "rule": apidoc.Schema{"type": "string"},
		"severity": apidoc.Schema{"type": "string"},
		"status":   apidoc.Schema{"type": "string", "enum": []string{"firing", "acknowledged", "resolved", "suppressed"}},
		"summary":  apidoc.Schema{"type": "string"}, "description": apidoc.Schema{"type": "string"},
		"labels":   apidoc.Schema{"type": "object", "nullable": true, "additionalProperties": apidoc.Schema{"type": "string"}},
		"endpoint": apidoc.Schema{"type": "string"}, "occurrences": apidoc.Schema{"type": "integer"},
		"first_seen_at": apidoc.Schema{"type": "string", "format": "date-time"}, "last_seen_at": apidoc.Schema{"type": "string", "format": "date-time"},
		"acknowledged_at": apidoc.Schema{"type": "string", "format": "date-time"}, "resolved_at": apidoc.Schema{"type": "string", "format": "date-time"},
		"assignee": apidoc.Schema{"type": "string"}, "silence_id": apidoc.Schema{"type": "integer"},
	}}

var eventSchema = apidoc.Schema{"type": "object", "required": []string{"id", "alert_id", "at", "kind"},
	"properties": apidoc.Schema{
		"id": apidoc.Schema{"type": "integer"}, "alert_id": apidoc.Schema{"type": "integer"},
		"at": apidoc.Schema{"type": "string", "format": "date-time"}, "kind": apidoc.Schema{"type": "string"},
		"actor": apidoc.Schema{"type": "string"}, "body": apidoc.Schema{"type": "string"}, "client_visible": apidoc.Schema{"type": "boolean"},
	}}

// alertPage is one page of the API's alert list.
type alertPage struct {
	Items []Alert `json:"items"`
	Next  string  `json:"next,omitempty"`
}

// pageAfter lists alerts matching f by id, newest first, below the id
// before (0: from the newest): a stable order for cursor pagination, which
// the console's severity-first order is not.
func (s *Service) pageAfter(ctx context.Context, t tenancy.Tenant, f Filter, before int64) ([]Alert, error) {
	var out []Alert
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		q, err := f.where(tx.Model(&Alert{}))
		if err != nil {
			return err
		}
		if before > 0 {
			q = q.Where("id < ?", before)
		}
		return q.Order("id DESC").Limit(f.Limit).Find(&out).Error
	})
	return out, err
}

// cursor encodes the last id of a page opaquely: clients must not build one.
func cursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("alert:" + strconv.FormatInt(id, 10)))
}

func parseCursor(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	id, ok := strings.CutPrefix(string(b), "alert:")
	n, perr := strconv.ParseInt(id, 10, 64)
	if err != nil || !ok || perr != nil || n <= 0 {
		return 0, invalid("cursor %q is not one this API gave out", s)
	}
	return n, nil
}

func (s *Service) apiList(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	limit, err := apidoc.PageLimit(c)
	if err != nil {
		return err
	}
	f := Filter{Status: c.QueryParam("status"), Severity: c.QueryParam("severity"), Text: c.QueryParam("q"), Limit: limit}
	before, err := parseCursor(c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	f.Limit++ // one more tells whether there is a next page
	list, err := s.pageAfter(c.Request().Context(), t, f, before)
	if err != nil {
		return err
	}
	page := alertPage{Items: list}
	if len(list) == f.Limit {
		page.Items = list[:f.Limit-1]
		page.Next = cursor(page.Items[len(page.Items)-1].ID)
	}
	if page.Items == nil {
		page.Items = []Alert{}
	}
	return c.JSON(http.StatusOK, page)
}

// apiAlertID is the :id of the path; anything but a positive number names no alert.
func apiAlertID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.Newf(ErrNotFound, "no alert %q", c.Param("id"))
	}
	return id, nil
}

func (s *Service) apiGet(c echo.Context) error { return s.apiDetail(c, http.StatusOK) }

func (s *Service) apiDetail(c echo.Context, status int) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	id, err := apiAlertID(c)
	if err != nil {
		return err
	}
	a, events, err := s.Get(c.Request().Context(), t, id)
	if err != nil {
		return err
	}
	if events == nil {
		events = []Event{}
	}
	return c.JSON(status, map[string]any{"alert": a, "events": events})
}

// apiAlert answers with the alert as it is now.
func (s *Service) apiAlert(c echo.Context, t tenancy.Tenant, id int64) error {
	a, _, err := s.Get(c.Request().Context(), t, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, a)
}

func (s *Service) apiTransition(action Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		id, err := apiAlertID(c)
		if err != nil {
			return err
		}
		if _, _, err := s.Get(ctx, t, id); err != nil { // 404 for an unknown alert, not "0 changed"
			return err
		}
		if _, err := s.Transition(ctx, t, []int64{id}, action); err != nil {
			return err
		}
		return s.apiAlert(c, t, id)
	}
}

func (s *Service) apiAssign(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := apiAlertID(c)
	if err != nil {
		return err
	}
	var body struct {
		Assignee *string `json:"assignee"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	if body.Assignee == nil {
		return invalid("assignee is required (\"\" unassigns)")
	}
	if err := s.Assign(ctx, t, id, *body.Assignee); err != nil {
		return err
	}
	return s.apiAlert(c, t, id)
}

func (s *Service) apiNote(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := apiAlertID(c)
	if err != nil {
		return err
	}
	var body struct {
		Note          string `json:"note"`
		ClientVisible bool   `json:"client_visible"`
	}
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	if err := s.AddNote(ctx, t, id, body.Note, body.ClientVisible); err != nil {
		return err
	}
	return s.apiDetail(c, http.StatusCreated)
}
