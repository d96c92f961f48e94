package agents

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers a client's endpoints and enrollment pages.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/endpoints", authz.TenantView, s.endpointsPage)
	a.Route(e, http.MethodGet, "/t/:slug/endpoints/:id", authz.TenantView, s.endpointPage)
	a.Route(e, http.MethodGet, "/t/:slug/enrollment", authz.TenantView, s.enrollmentPage)
	a.Route(e, http.MethodPost, "/t/:slug/enrollment", authz.TenantManage, s.createTokenForm)
	a.Route(e, http.MethodPost, "/t/:slug/enrollment/:id/revoke", authz.TenantManage, s.revokeTokenForm)
}

func (s *Service) endpointsPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.ListEndpoints(c.Request().Context(), t)
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "console/endpoints.html", "Endpoints · "+t.Name, list)
}

// chart is a small server-rendered SVG line chart of one series.
type chart struct {
	Title  string
	Points string // SVG polyline points, numbers only
	Dots   []dot  // the samples themselves, when too few to read as a line
	Last   string
}

// dot is one sample drawn on its own.
type dot struct{ X, Y float64 }

const chartW, chartH = 600.0, 120.0

// fewSamples is below how many samples each is drawn as a dot as well:
// one check-in is a point, not a line.
const fewSamples = 3

// lineChart scales percent samples over [from, to] into polyline points.
func lineChart(title string, samples []Sample, from, to time.Time, value func(Sample) float64) chart {
	var b strings.Builder
	c := chart{Title: title}
	span := max(to.Sub(from).Seconds(), 1)
	for _, smp := range samples {
		x := chartW * smp.At.Sub(from).Seconds() / span
		v := min(max(value(smp), 0), 100)
		y := chartH - chartH*v/100
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
		if len(samples) < fewSamples {
			c.Dots = append(c.Dots, dot{X: x, Y: y})
		}
	}
	c.Points = strings.TrimSpace(b.String())
	if n := len(samples); n > 0 {
		c.Last = fmt.Sprintf("%.0f%%", value(samples[n-1]))
	}
	return c
}

// chartWindow is the time the charts span: the last 24 hours, or since the
// endpoint enrolled when that is more recent, so a new endpoint's first
// hour fills the chart instead of being a line at its edge.
func chartWindow(ep Endpoint, now time.Time) (from, to time.Time) {
	from = now.Add(-24 * time.Hour)
	if ep.EnrolledAt.After(from) {
		from = ep.EnrolledAt
	}
	return from, now
}

func (s *Service) endpointPage(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such endpoint.")
	}
	list, err := s.ListEndpoints(ctx, t)
	if err != nil {
		return err
	}
	var ep *Endpoint
	for i := range list {
		if list[i].ID == id {
			ep = &list[i]
		}
	}
	if ep == nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such endpoint.")
	}
	from, to := chartWindow(*ep, s.now())
	samples, err := s.History(ctx, t, id, from)
	if err != nil {
		return err
	}
	charts := []chart{
		lineChart("CPU %", samples, from, to, func(x Sample) float64 { return x.CPUPercent }),
		lineChart("Memory %", samples, from, to, func(x Sample) float64 { return x.MemoryPercent }),
	}
	return web.Render(c, http.StatusOK, "console/endpoint.html", ep.Hostname+" · "+t.Name,
		map[string]any{"Endpoint": ep, "Charts": charts, "Samples": len(samples), "W": chartW, "H": chartH,
			"From": from, "Whole": to.Sub(from) >= 24*time.Hour-time.Minute, "Offline": ep.Status == "offline"})
}

type enrollmentPage struct {
	Tokens  []EnrollmentToken
	Token   string // a token just created, shown once
	Command string
}

func (s *Service) enrollmentPage(c echo.Context) error {
	return s.renderEnrollment(c, http.StatusOK, enrollmentPage{}, "")
}

func (s *Service) renderEnrollment(c echo.Context, status int, p enrollmentPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	tokens, err := s.ListTokens(c.Request().Context(), t)
	if err != nil {
		return err
	}
	p.Tokens = tokens
	return c.Render(status, "console/enrollment.html", web.Page{Title: "Enrollment · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) createTokenForm(c echo.Context) error {
	token, err := s.createToken(c)
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderEnrollment(c, status, enrollmentPage{}, msg)
	}
	if err != nil {
		return err
	}
	server := c.Scheme() + "://" + c.Request().Host
	return s.renderEnrollment(c, http.StatusCreated, enrollmentPage{Token: token,
		Command: fmt.Sprintf("switchboard agent --server %s --token %s", server, token)}, "")
}

// createToken creates a token from the enrollment form.
func (s *Service) createToken(c echo.Context) (string, error) {
	t, _ := tenancy.FromContext(c.Request().Context())
	ttl, err := time.ParseDuration(c.FormValue("ttl"))
	if err != nil {
		return "", invalid("valid for must be a duration like 24h or 168h")
	}
	maxUses, err := strconv.Atoi(c.FormValue("max_uses"))
	if err != nil {
		return "", invalid("maximum uses must be a whole number")
	}
	token, _, err := s.CreateToken(c.Request().Context(), t, strings.TrimSpace(c.FormValue("name")), ttl, maxUses)
	return token, err
}

func (s *Service) revokeTokenForm(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "No such token.")
	}
	if err := s.RevokeToken(ctx, t, id); errors.Is(err, ErrNotFound) {
		// Revoking twice is harmless; only a token that never existed is a 404.
		tokens, lerr := s.ListTokens(ctx, t)
		if lerr != nil {
			return lerr
		}
		for _, tok := range tokens {
			if tok.ID == id {
				return web.RedirectFlash(c, "/t/"+t.Slug+"/enrollment", "That token was already revoked.")
			}
		}
		return echo.NewHTTPError(http.StatusNotFound, "No such token.")
	} else if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/enrollment", "Token revoked; endpoints already enrolled keep working.")
}
