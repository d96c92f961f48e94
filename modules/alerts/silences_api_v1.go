package alerts

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// maxSilenceSpan bounds a silence created with ends_at, as
// ParseSilenceDuration bounds one created with a duration.
const maxSilenceSpan = 90 * 24 * time.Hour

// SilenceAPIv1Routes registers a client's silences on the staff REST API.
func (s *Service) SilenceAPIv1Routes(api *apidoc.API) {
	api.Doc.Define("Matcher", matcherSchema)
	api.Doc.Define("Silence", silenceSchema)
	api.Doc.Define("SilenceList", apidoc.Schema{"type": "object", "required": []string{"items"}, "properties": apidoc.Schema{
		"items": apidoc.Schema{"type": "array", "items": apidoc.Ref("Silence")},
	}})
	const base = "/api/v1/clients/:slug/silences"
	api.Route(apidoc.Op{Method: http.MethodGet, Path: base, ID: "listSilences", Tag: "silences",
		Summary:   "List a client's silences: active (ending soonest first), upcoming, then those ended in the last 7 days",
		Responses: map[int]apidoc.Response{http.StatusOK: {Description: "the silences", Schema: apidoc.Ref("SilenceList")}},
	}, authz.TenantView, scopeRead, s.apiSilences)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base, ID: "createSilence", Tag: "silences", Creates: true,
		Summary: "Silence a client's matching alerts for a while (they are recorded as suppressed)",
		Description: "matchers is a list of {name, op, value}, op one of =, !=, =~ (regular expression) or !~; " +
			"name is a label or one of the pseudo-labels source, rule and severity. starts_at defaults to now; " +
			"give either ends_at or duration (like 30m, 2h or 3d), at most 90 days.",
		Body: apidoc.Schema{"type": "object", "required": []string{"matchers"}, "properties": apidoc.Schema{
			"matchers":  apidoc.Schema{"type": "array", "minItems": 1, "maxItems": 20, "items": apidoc.Ref("Matcher")},
			"starts_at": apidoc.Schema{"type": "string", "format": "date-time"},
			"ends_at":   apidoc.Schema{"type": "string", "format": "date-time"},
			"duration":  apidoc.Schema{"type": "string", "example": "2h"},
			"comment":   apidoc.Schema{"type": "string"},
		}},
		Responses: map[int]apidoc.Response{http.StatusCreated: {Description: "the silence", Schema: apidoc.Ref("Silence")}},
	}, authz.TenantManage, scopeWrite, s.apiCreateSilence)
	api.Route(apidoc.Op{Method: http.MethodPost, Path: base + "/:id/expire", ID: "expireSilence", Tag: "silences",
		Summary:     "End an active silence now (no change if it has ended; 409 if it has not started: delete it)",
		Responses:   map[int]apidoc.Response{http.StatusOK: {Description: "the silence after the change", Schema: apidoc.Ref("Silence")}},
		Description: "Alerts it muted fire again on their next signal, as after a silence's natural end.",
	}, authz.TenantManage, scopeWrite, s.apiExpireSilence)
	api.Route(apidoc.Op{Method: http.MethodDelete, Path: base + "/:id", ID: "deleteSilence", Tag: "silences",
		Summary:   "Delete a silence, whatever its state",
		Responses: map[int]apidoc.Response{http.StatusNoContent: {Description: "deleted"}},
	}, authz.TenantManage, scopeWrite, s.apiDeleteSilence)
}

var matcherSchema = apidoc.Schema{"type": "object", "required": []string{"name", "op", "value"}, "properties": apidoc.Schema{
	"name":  apidoc.Schema{"type": "string"},
	"op":    apidoc.Schema{"type": "string", "enum": []string{"=", "!=", "=~", "!~"}},
	"value": apidoc.Schema{"type": "string"},
}}

var silenceSchema = apidoc.Schema{"type": "object",
	"required": []string{"id", "matchers", "starts_at", "ends_at", "comment", "created_by", "created_at", "state", "muting"},
	"properties": apidoc.Schema{
		"id":        apidoc.Schema{"type": "integer"},
		"matchers":  apidoc.Schema{"type": "array", "items": apidoc.Ref("Matcher")},
		"starts_at": apidoc.Schema{"type": "string", "format": "date-time"}, "ends_at": apidoc.Schema{"type": "string", "format": "date-time"},
		"comment": apidoc.Schema{"type": "string"}, "created_by": apidoc.Schema{"type": "string"},
		"created_at": apidoc.Schema{"type": "string", "format": "date-time"},
		"state":      apidoc.Schema{"type": "string", "enum": []string{SilenceActive, SilenceUpcoming, SilenceExpired}},
		"muting":     apidoc.Schema{"type": "integer", "description": "open alerts it is muting now (active silences only)"},
	}}

func (s *Service) apiSilences(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.Silences(c.Request().Context(), t, time.Now())
	if err != nil {
		return err
	}
	if list == nil {
		list = []SilenceView{}
	}
	return c.JSON(http.StatusOK, map[string]any{"items": list})
}

// silenceBody is what createSilence takes; times are pointers so that
// "absent" and "zero" differ.
type silenceBody struct {
	Matchers []Matcher  `json:"matchers"`
	StartsAt *time.Time `json:"starts_at"`
	EndsAt   *time.Time `json:"ends_at"`
	Duration string     `json:"duration"`
	Comment  string     `json:"comment"`
}

// span reads the silence's start and end from b as of now.
func (b silenceBody) span(now time.Time) (time.Time, time.Time, error) {
	start := now
	if b.StartsAt != nil {
		start = *b.StartsAt
	}
	switch {
	case b.EndsAt != nil && b.Duration != "":
		return start, start, invalid("give ends_at or duration, not both")
	case b.EndsAt != nil:
		if b.EndsAt.Sub(start) > maxSilenceSpan {
			return start, start, invalid("a silence lasts at most 90 days")
		}
		return start, *b.EndsAt, nil
	case b.Duration != "":
		d, err := ParseSilenceDuration(b.Duration)
		return start, start.Add(d), err
	}
	return start, start, invalid("a silence needs ends_at or duration")
}

func (s *Service) apiCreateSilence(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	var body silenceBody
	if err := apidoc.JSONBody(c, &body); err != nil {
		return err
	}
	now := time.Now()
	start, end, err := body.span(now)
	if err != nil {
		return err
	}
	sil, err := s.CreateSilence(ctx, t, body.Matchers, start, end, body.Comment)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, SilenceView{Silence: sil, State: sil.StateAt(now)})
}

func (s *Service) apiExpireSilence(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := apiSilenceID(c)
	if err != nil {
		return err
	}
	sil, _, err := s.ExpireSilence(ctx, t, id)
	if err != nil {
		return err
	}
	// The database's clock ended it: its state is read at its own end.
	return c.JSON(http.StatusOK, SilenceView{Silence: sil, State: sil.StateAt(maxTime(time.Now(), sil.EndsAt))})
}

func (s *Service) apiDeleteSilence(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := apiSilenceID(c)
	if err != nil {
		return err
	}
	if _, err := s.DeleteSilence(ctx, t, id); err != nil {
		return err // ErrNotFound: 404
	}
	return c.NoContent(http.StatusNoContent)
}

// apiSilenceID is the :id of the path; anything but a positive number names no silence.
func apiSilenceID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fault.Newf(ErrNotFound, "no silence %q", c.Param("id"))
	}
	return id, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
