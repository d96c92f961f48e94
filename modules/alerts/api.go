package alerts

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// APIRoutes registers alert ingestion for monitoring tools (API key).
func (s *Service) APIRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodPost, "/api/v1/alerts", authz.APIKey, s.ingestNative)
	a.Route(e, http.MethodPost, "/api/v1/alerts/alertmanager", authz.APIKey, s.ingestAlertmanager)
}

// nativePayload is our own format: one alert, or {"alerts": [...]}.
type nativePayload struct {
	Signal
	Alerts []Signal `json:"alerts"`
}

func (s *Service) ingestNative(c echo.Context) error {
	var p nativePayload
	if err := web.DecodeJSON(c, &p); err != nil {
		return err
	}
	signals := p.Alerts
	if len(signals) == 0 {
		signals = []Signal{p.Signal}
	} else if p.Source != "" || p.Rule != "" {
		return echo.NewHTTPError(http.StatusBadRequest, "send either one alert or {\"alerts\": [...]}, not both")
	}
	return s.respond(c, signals)
}

// amPayload is the Prometheus Alertmanager webhook body (version 4), taken
// unchanged. Unknown fields are allowed here: Alertmanager may add some.
type amPayload struct {
	Version string    `json:"version"`
	Status  string    `json:"status"`
	Alerts  []amAlert `json:"alerts"`
}

type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func (s *Service) ingestAlertmanager(c echo.Context) error {
	var p amPayload
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(&p); err != nil {
		if web.TooLarge(err) {
			return echo.NewHTTPError(http.StatusRequestEntityTooLarge, "the body is larger than the 1 MB limit")
		}
		return echo.NewHTTPError(http.StatusBadRequest, "malformed Alertmanager payload: "+err.Error())
	}
	if p.Version != "" && p.Version != "4" {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("unsupported Alertmanager webhook version %q (want 4)", p.Version))
	}
	signals := make([]Signal, len(p.Alerts))
	for i, a := range p.Alerts {
		signals[i] = fromAlertmanager(a)
	}
	return s.respond(c, signals)
}

// fromAlertmanager maps one Alertmanager alert: rule = alertname, endpoint =
// instance, severity from the severity label (unknown values count as warning).
func fromAlertmanager(a amAlert) Signal {
	sev := strings.ToLower(a.Labels["severity"])
	switch sev {
	case SeverityCritical, SeverityWarning, SeverityInfo:
	case "page", "error", "high":
		sev = SeverityCritical
	default:
		sev = SeverityWarning
	}
	status := StatusFiring
	if a.Status == "resolved" {
		status = StatusResolved
	}
	labels := map[string]string{}
	for k, v := range a.Labels {
		labels[k] = v
	}
	return Signal{Source: "alertmanager", Rule: a.Labels["alertname"], Severity: sev, Status: status,
		Summary: a.Annotations["summary"], Description: a.Annotations["description"], Endpoint: a.Labels["instance"], Labels: labels}
}

func (s *Service) respond(c echo.Context, signals []Signal) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	out, err := s.Ingest(c.Request().Context(), t, signals)
	if errors.Is(err, ErrInvalid) {
		return echo.NewHTTPError(http.StatusBadRequest, strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"results": out})
}
