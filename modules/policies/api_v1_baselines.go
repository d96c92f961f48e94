package policies

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/fault"
	"switchboard/platform/web"
)

// apiError words the service's refusals for the API: a value the policy
// rules refuse is 422 with the rule's reason, a locked baseline 409, a
// missing item 404 with notFound; anything else keeps its kind.
func apiError(err error, notFound string) error {
	switch {
	case errors.Is(err, ErrLocked):
		return apidoc.Fail(http.StatusConflict, "This item is a locked baseline: it cannot be overridden, disabled or excluded for one client.")
	case errors.Is(err, ErrInvalid):
		return apidoc.Fail(http.StatusUnprocessableEntity, web.Sentence(fault.Message(err)))
	case errors.Is(err, ErrNotFound):
		return apidoc.Fail(http.StatusNotFound, notFound)
	}
	return err
}

// baselineCursor is opaque: callers must not build one.
func baselineCursor(key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("policy:" + key))
}

func (s *Service) apiBaselines(c echo.Context) error {
	limit, err := apidoc.PageLimit(c)
	if err != nil {
		return err
	}
	var after string
	if cur := c.QueryParam("cursor"); cur != "" {
		b, err := base64.RawURLEncoding.DecodeString(cur)
		key, ok := strings.CutPrefix(string(b), "policy:")
		if err != nil || !ok || !keyPattern.MatchString(key) {
			return apidoc.Fail(http.StatusBadRequest, "cursor is not one this API gave out")
		}
		after = key
	}
	globals, err := s.Globals(c.Request().Context())
	if err != nil {
		return err
	}
	page := struct {
		Items []apiBaseline `json:"items"`
		Next  string        `json:"next,omitempty"`
	}{Items: []apiBaseline{}}
	for _, g := range globals { // ordered by key
		if g.Key <= after {
			continue
		}
		if len(page.Items) == limit {
			page.Next = baselineCursor(page.Items[limit-1].Key)
			break
		}
		page.Items = append(page.Items, toAPIBaseline(g))
	}
	return c.JSON(http.StatusOK, page)
}

func (s *Service) apiBaseline(c echo.Context) error {
	g, ok, err := s.global(c.Request().Context(), c.Param("key"))
	if err != nil {
		return err
	}
	if !ok {
		return apidoc.Fail(http.StatusNotFound, "No baseline "+c.Param("key")+".")
	}
	c.Response().Header().Set("ETag", baselineETag(g))
	return c.JSON(http.StatusOK, toAPIBaseline(g))
}

// baselineInput is the body of PUT /api/v1/policies/:key. The read-only
// fields of a baseline are accepted (and ignored), so a representation that
// was read, edited and sent back is a valid body.
type baselineInput struct {
	Kind    string `json:"kind"`
	Enabled *bool  `json:"enabled"`
	Locked  bool   `json:"locked"`
	apiBody
	Key        string          `json:"key"`
	Summary    json.RawMessage `json:"summary"`
	UpdatedAt  json.RawMessage `json:"updated_at"`
	Overridden json.RawMessage `json:"overridden_by"`
}

func (s *Service) apiPutBaseline(c echo.Context) error {
	ctx := c.Request().Context()
	key := c.Param("key")
	match, noneMatch := c.Request().Header.Get("If-Match"), c.Request().Header.Get("If-None-Match")
	switch {
	case match == "" && noneMatch == "":
		return apidoc.Fail(http.StatusPreconditionRequired,
			"If-Match is required to replace a baseline (send the ETag you read), or If-None-Match: * to create one")
	case match != "" && noneMatch != "":
		return apidoc.Fail(http.StatusBadRequest, "send If-Match (replace) or If-None-Match: * (create), not both")
	case noneMatch != "" && noneMatch != "*":
		return apidoc.Fail(http.StatusBadRequest, "If-None-Match takes only *")
	}
	var in baselineInput
	if err := apidoc.JSONBody(c, &in); err != nil {
		return err
	}
	if in.Key != "" && in.Key != key {
		return apidoc.Fail(http.StatusUnprocessableEntity, "The body's key "+strconv.Quote(in.Key)+" is not the path's "+strconv.Quote(key)+".")
	}
	if in.Enabled == nil {
		return apidoc.Fail(http.StatusUnprocessableEntity, "Enabled is required: true or false.")
	}
	it, err := in.item(key, in.Kind, *in.Enabled)
	if err == nil {
		err = it.Check()
	}
	if err != nil {
		return apiError(err, "")
	}
	// What the caller read is compared on the locked row, in the saving
	// transaction; the leftover overrides are checked before (they change
	// only through clients' own writes, and only matter for a new key).
	_, existed, err := s.global(ctx, key)
	if err != nil {
		return err
	}
	if !existed && noneMatch == "*" {
		counts, err := s.overrideCounts(ctx)
		if err != nil {
			return err
		}
		if n := counts[key]; n > 0 {
			return apidoc.Fail(http.StatusConflict, "Clients still hold "+strconv.Itoa(n)+" override(s) of "+key+
				" from an earlier baseline, which would apply to the new one: clear them or choose another key.")
		}
	}
	created := false
	err = s.SetGlobalIf(ctx, it, in.Locked, func(cur *Global) error {
		switch {
		case noneMatch == "*" && cur != nil:
			return apidoc.Fail(http.StatusPreconditionFailed, "A baseline "+key+" exists already: read it and send its ETag as If-Match to replace it.")
		case match != "" && cur == nil:
			return apidoc.Fail(http.StatusPreconditionFailed, "There is no baseline "+key+" to replace: create it with If-None-Match: *.")
		case match != "" && match != "*" && match != baselineETag(*cur):
			return apidoc.Fail(http.StatusPreconditionFailed, "The baseline changed since you read it; read it again.")
		case cur != nil && cur.Kind != it.Kind:
			// Clients' overrides are stored as bodies of the baseline's kind.
			return apidoc.Fail(http.StatusConflict, "The kind of "+key+" is "+cur.Kind+" and cannot change: clients' overrides are of that kind.")
		}
		created = cur == nil
		return nil
	})
	if errors.Is(err, ErrChangedMeanwhile) {
		return apidoc.Fail(http.StatusPreconditionFailed, "Someone else created the baseline "+key+" meanwhile: read it and send its ETag as If-Match to replace it.")
	}
	if err != nil {
		return apiError(err, "")
	}
	saved, ok, err := s.global(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return apidoc.Fail(http.StatusConflict, "The baseline "+key+" was deleted while it was saved; try again.")
	}
	c.Response().Header().Set("ETag", baselineETag(saved))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, "/api/v1/policies/"+key)
	}
	return c.JSON(status, toAPIBaseline(saved))
}

func (s *Service) apiDeleteBaseline(c echo.Context) error {
	ctx := c.Request().Context()
	key := c.Param("key")
	match := c.Request().Header.Get("If-Match")
	if match == "" {
		return apidoc.Fail(http.StatusPreconditionRequired, "If-Match is required: send the ETag of the baseline you read")
	}
	err := s.DeleteGlobalIf(ctx, key, func(cur *Global) error {
		if match != "*" && match != baselineETag(*cur) {
			return apidoc.Fail(http.StatusPreconditionFailed, "The baseline changed since you read it; read it again.")
		}
		return nil
	})
	if err != nil {
		return apiError(err, "No baseline "+key+".")
	}
	return c.NoContent(http.StatusNoContent)
}
