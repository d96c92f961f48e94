package policies

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/apidoc"
	"switchboard/platform/tenancy"
)

// clientState is a client's effective policy read from the database (never
// the cache: a write a moment ago must show), its ETag, and the baselines.
func (s *Service) clientState(ctx context.Context, t tenancy.Tenant) (apiClientPolicy, string, []Global, error) {
	globals, err := s.Globals(ctx)
	if err != nil {
		return apiClientPolicy{}, "", nil, err
	}
	eff, err := s.mergeFor(ctx, t, globals)
	if err != nil {
		return apiClientPolicy{}, "", nil, err
	}
	p := clientPolicy(t.Slug, eff, globals)
	return p, etag(p), globals, nil
}

func (s *Service) apiClientPolicy(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	p, tag, _, err := s.clientState(ctx, t)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", tag)
	return c.JSON(http.StatusOK, p)
}

// requireIfMatch refuses a write to a client's policy without If-Match.
func requireIfMatch(c echo.Context) error {
	if c.Request().Header.Get("If-Match") == "" {
		return apidoc.Fail(http.StatusPreconditionRequired, "If-Match is required: send the ETag of the client's policy you read")
	}
	return nil
}

// precondition compares If-Match with the client's policy now, just before
// the write (as the client settings do), and returns the baselines.
func (s *Service) precondition(c echo.Context, t tenancy.Tenant) ([]Global, error) {
	_, tag, globals, err := s.clientState(c.Request().Context(), t)
	if err != nil {
		return nil, err
	}
	if m := c.Request().Header.Get("If-Match"); m != "*" && m != tag {
		return nil, apidoc.Fail(http.StatusPreconditionFailed, "The client's policy changed since you read it; read it again.")
	}
	return globals, nil
}

// overrideInput is the body of PUT …/policy/:key/override. Threshold fields
// left out are the baseline's, as on the console's form.
type overrideInput struct {
	Enabled   *bool `json:"enabled"`
	Threshold *struct {
		Value    *float64 `json:"value"`
		For      *string  `json:"for"`
		Severity *string  `json:"severity"`
	} `json:"threshold"`
	SLA *apiSLA `json:"sla"`
}

func (s *Service) apiPutOverride(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	key := c.Param("key")
	if err := requireIfMatch(c); err != nil {
		return err
	}
	var in overrideInput
	if err := apidoc.JSONBody(c, &in); err != nil {
		return err
	}
	globals, err := s.precondition(c, t)
	if err != nil {
		return err
	}
	var g *Global
	for i := range globals {
		if globals[i].Key == key {
			g = &globals[i]
		}
	}
	switch {
	case g == nil:
		return apidoc.Fail(http.StatusNotFound, "No baseline "+key+": only baselines can be overridden.")
	case g.Locked:
		return apiError(ErrLocked, "")
	case in.Threshold != nil && in.SLA != nil:
		return apidoc.Fail(http.StatusUnprocessableEntity, "Override a threshold or an SLA, not both.")
	case in.Threshold != nil && g.Threshold == nil, in.SLA != nil && g.SLA == nil:
		return apidoc.Fail(http.StatusUnprocessableEntity, key+" is a "+g.Kind+" item: only a threshold's value, for and severity, or an SLA, can be overridden; other items only enabled.")
	}
	var body *Item
	switch {
	case in.Threshold != nil:
		th := *g.Threshold
		if in.Threshold.Value != nil {
			th.Value = *in.Threshold.Value
		}
		if in.Threshold.Severity != nil {
			th.Severity = *in.Threshold.Severity
		}
		if in.Threshold.For != nil {
			if th.For, err = parseDuration("the threshold's for", *in.Threshold.For); err != nil {
				return apiError(err, "")
			}
		}
		body = &Item{Threshold: &th}
	case in.SLA != nil:
		sla, err := in.SLA.model()
		if err != nil {
			return apiError(err, "")
		}
		body = &Item{SLA: &sla}
	}
	if err := s.Override(ctx, t, key, in.Enabled, body); err != nil {
		return apiError(err, "No baseline "+key+".")
	}
	return s.apiClientPolicy(c) // the policy after the change
}

func (s *Service) apiDeleteOverride(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	if err := requireIfMatch(c); err != nil {
		return err
	}
	if _, err := s.precondition(c, t); err != nil {
		return err
	}
	if err := s.ClearOverride(ctx, t, c.Param("key")); err != nil {
		return apiError(err, "This client does not override "+c.Param("key")+".")
	}
	return s.apiClientPolicy(c) // the policy after the change
}

func (s *Service) apiExclusion(exclude bool) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		t, _ := tenancy.FromContext(ctx)
		if err := requireIfMatch(c); err != nil {
			return err
		}
		if _, err := s.precondition(c, t); err != nil {
			return err
		}
		key := c.Param("key")
		if err := s.SetExclusion(ctx, t, key, strings.TrimSpace(c.Param("hostname")), exclude); err != nil {
			return apiError(err, "No policy item "+key+" for this client.")
		}
		return s.apiClientPolicy(c) // the policy after the change
	}
}

// ownItemInput is the body of PUT …/policy/:key: what the console's form
// adds, a routing rule or a maintenance window.
type ownItemInput struct {
	Kind        string       `json:"kind"`
	Enabled     *bool        `json:"enabled"`
	Routing     *Routing     `json:"routing"`
	Maintenance *Maintenance `json:"maintenance"`
}

func (s *Service) apiPutOwnItem(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	if err := requireIfMatch(c); err != nil {
		return err
	}
	var in ownItemInput
	if err := apidoc.JSONBody(c, &in); err != nil {
		return err
	}
	if in.Kind != KindRouting && in.Kind != KindMaintenance {
		return apidoc.Fail(http.StatusUnprocessableEntity, "A client's own items are routing rules or maintenance windows (kind routing or maintenance).")
	}
	enabled := in.Enabled == nil || *in.Enabled
	it := Item{Key: c.Param("key"), Kind: in.Kind, Enabled: enabled, Routing: in.Routing, Maintenance: in.Maintenance}
	if err := it.Check(); err != nil {
		return apiError(err, "")
	}
	if _, err := s.precondition(c, t); err != nil {
		return err
	}
	if err := s.SetTenantItem(ctx, t, it); err != nil {
		return apiError(err, "")
	}
	return s.apiClientPolicy(c) // the policy after the change
}
