package policies

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers the policy pages: a client's effective policy and
// the MSP's global baselines.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/policy", authz.TenantView, s.tenantPage)
	a.Route(e, http.MethodPost, "/t/:slug/policy/:key/override", authz.TenantAdmin, s.overrideForm)
	a.Route(e, http.MethodPost, "/t/:slug/policy/:key/clear", authz.TenantAdmin, s.clearForm)
	a.Route(e, http.MethodPost, "/t/:slug/policy/:key/exclusions", authz.TenantAdmin, s.exclusionForm)
	a.Route(e, http.MethodPost, "/t/:slug/policy/items", authz.TenantAdmin, s.tenantItemForm)
	a.Route(e, http.MethodGet, "/platform/policies", authz.PlatformManage, s.globalPage)
	a.Route(e, http.MethodPost, "/platform/policies/:key", authz.PlatformManage, s.globalForm)
}

func (s *Service) tenantPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	eff, err := s.Effective(c.Request().Context(), t)
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "console/policy.html", "Policy · "+t.Name, eff)
}

// policyError words the service's refusals for the browser; their fault
// kinds give the status, and invalid input keeps its own message.
func policyError(err error) error {
	switch {
	case errors.Is(err, ErrLocked):
		return fault.New(ErrLocked, "This item is a locked baseline and cannot be changed for one client.")
	case errors.Is(err, ErrNotFound):
		return fault.New(ErrNotFound, "No such policy item.")
	}
	return err
}

// thresholdFrom reads the threshold fields of a form (value, for, severity).
func thresholdFrom(c echo.Context, base Threshold) (Threshold, error) {
	th := base
	if v := c.FormValue("value"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return th, echo.NewHTTPError(http.StatusBadRequest, "value must be a number")
		}
		th.Value = f
	}
	if v := c.FormValue("for"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return th, echo.NewHTTPError(http.StatusBadRequest, "for must be a duration like 5m or 30s")
		}
		th.For = d
	}
	if v := c.FormValue("severity"); v != "" {
		th.Severity = v
	}
	return th, nil
}

func (s *Service) overrideForm(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	key := c.Param("key")
	var enabled *bool
	if v := c.FormValue("enabled"); v != "" {
		b := v == "true"
		enabled = &b
	}
	var body *Item
	if c.FormValue("sla") == "1" {
		sla, err := slaFrom(c)
		if err != nil {
			return err
		}
		body = &Item{SLA: &sla}
	} else if c.FormValue("value") != "" || c.FormValue("for") != "" || c.FormValue("severity") != "" {
		g, ok, err := s.global(ctx, key)
		if err != nil {
			return err
		}
		if !ok || g.Threshold == nil {
			return echo.NewHTTPError(http.StatusBadRequest, "only thresholds can be edited here")
		}
		th, err := thresholdFrom(c, *g.Threshold)
		if err != nil {
			return err
		}
		body = &Item{Threshold: &th}
	}
	if err := s.Override(ctx, t, key, enabled, body); err != nil {
		return policyError(err)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/policy", key+" overridden for "+t.Name+".")
}

func (s *Service) clearForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	if err := s.ClearOverride(c.Request().Context(), t, c.Param("key")); err != nil {
		return policyError(err)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/policy", c.Param("key")+" follows the baseline again.")
}

func (s *Service) exclusionForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	exclude := c.FormValue("exclude") != "false"
	if err := s.SetExclusion(c.Request().Context(), t, c.Param("key"), strings.TrimSpace(c.FormValue("hostname")), exclude); err != nil {
		return policyError(err)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/policy", "Exclusions of "+c.Param("key")+" updated.")
}

func (s *Service) globalPage(c echo.Context) error {
	globals, err := s.Globals(c.Request().Context())
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, "console/policies.html", "Global policies", globals)
}

func (s *Service) globalForm(c echo.Context) error {
	ctx := c.Request().Context()
	g, ok, err := s.global(ctx, c.Param("key"))
	if err != nil {
		return err
	}
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "No such policy item.")
	}
	it := g.Item
	it.Enabled = c.FormValue("enabled") == "true"
	locked := c.FormValue("locked") == "true"
	if it.SLA != nil && c.FormValue("sla") == "1" {
		sla, err := slaFrom(c)
		if err != nil {
			return err
		}
		it.SLA = &sla
	}
	if it.Threshold != nil {
		th, err := thresholdFrom(c, *it.Threshold)
		if err != nil {
			return err
		}
		it.Threshold = &th
	}
	if err := s.SetGlobal(ctx, it, locked); err != nil {
		return policyError(err)
	}
	return web.RedirectFlash(c, "/platform/policies", it.Key+" saved; every client follows it now.")
}

// parseLabels reads "k=v, k2=v2" into a map.
func parseLabels(text string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(text, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, echo.NewHTTPError(http.StatusBadRequest, "labels are written name=value, separated by commas")
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

// tenantItemForm adds one of the client's own items: a maintenance window
// (labels, start, duration) or a routing rule (minimum severity, labels, channels).
func (s *Service) tenantItemForm(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	labels, err := parseLabels(c.FormValue("labels"))
	if err != nil {
		return err
	}
	it := Item{Key: strings.TrimSpace(c.FormValue("key")), Kind: c.FormValue("kind"), Enabled: true}
	switch it.Kind {
	case KindMaintenance:
		// The form's time is on the viewer's clock, as every time they see.
		zone := web.ZoneFrom(ctx)
		if zone == nil {
			zone = time.UTC
		}
		start, err := time.ParseInLocation("2006-01-02T15:04", c.FormValue("starts_at"), zone)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "start must be a date and time")
		}
		d, err := time.ParseDuration(c.FormValue("duration"))
		if err != nil || d <= 0 {
			return echo.NewHTTPError(http.StatusBadRequest, "duration must be like 2h or 90m")
		}
		it.Maintenance = &Maintenance{Labels: labels, StartsAt: start.UTC(), EndsAt: start.UTC().Add(d)}
	case KindRouting:
		var channels []string
		for _, ch := range strings.Split(c.FormValue("channels"), ",") {
			if ch = strings.TrimSpace(ch); ch != "" {
				channels = append(channels, ch)
			}
		}
		it.Routing = &Routing{MinSeverity: c.FormValue("min_severity"), Labels: labels, Channels: channels}
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "add a maintenance window or a routing rule")
	}
	if err := s.SetTenantItem(ctx, t, it); err != nil {
		return policyError(err)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/policy", it.Key+" added for "+t.Name+".")
}

// slaFrom reads the SLA form: ack_/resolve_ durations per severity, the
// calendar (24×7, or zone, one opening-hours line per row, holidays), whose
// calendar runs the clock and the warn share.
func slaFrom(c echo.Context) (SLA, error) {
	sla := SLA{Targets: map[string]SLATarget{}, ClockOwner: c.FormValue("clock_owner")}
	for _, sev := range []string{"critical", "warning", "info"} {
		a, err1 := time.ParseDuration(c.FormValue("ack_" + sev))
		r, err2 := time.ParseDuration(c.FormValue("resolve_" + sev))
		if err1 != nil || err2 != nil {
			return SLA{}, echo.NewHTTPError(http.StatusBadRequest, "targets are durations like 15m or 4h")
		}
		sla.Targets[sev] = SLATarget{Acknowledge: a, Resolve: r}
	}
	warn, err := strconv.ParseFloat(c.FormValue("warn_at"), 64)
	if err != nil {
		return SLA{}, echo.NewHTTPError(http.StatusBadRequest, "warn at is a share like 0.75")
	}
	sla.WarnAt = warn
	sla.Calendar.AlwaysOpen = c.FormValue("always_open") == "true"
	if !sla.Calendar.AlwaysOpen {
		sla.Calendar.Zone = strings.TrimSpace(c.FormValue("zone"))
		for _, line := range strings.Split(c.FormValue("hours"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				sla.Calendar.Hours = append(sla.Calendar.Hours, line)
			}
		}
		for _, d := range strings.Split(c.FormValue("holidays"), ",") {
			if d = strings.TrimSpace(d); d != "" {
				sla.Calendar.Holidays = append(sla.Calendar.Holidays, d)
			}
		}
	}
	return sla, nil
}
