package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/ratelimit"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// Paths of the ingestion routes: our own format, and Alertmanager's webhook.
const (
	IngestPath       = "/api/v1/alerts"
	AlertmanagerPath = "/api/v1/alerts/alertmanager"
)

// APIRoutes registers alert ingestion for monitoring tools (API key),
// behind limit (the rate limits the wiring builds; see platform/ratelimit):
// a request over a limit is answered 429 before it is decoded, and a batch
// whose alerts are over the per-alert limit before anything is stored.
func (s *Service) APIRoutes(a *authz.Authorizer, e *echo.Echo, limit ...echo.MiddlewareFunc) {
	a.Route(e, http.MethodPost, IngestPath, authz.APIKey, s.ingestNative, limit...)
	a.Route(e, http.MethodPost, AlertmanagerPath, authz.APIKey, s.ingestAlertmanager, limit...)
	// A bad member is rejected alone (ingestAlertmanager), never the group:
	// Alertmanager would drop a refused group or resend it forever.
	web.CheckOwnBody(e, http.MethodPost, AlertmanagerPath)
}

// nativePayload is our own format: one alert, or {"alerts": [...]}.
type nativePayload struct {
	Signal
	Alerts []Signal `json:"alerts"`
}

// ingestNative is all or nothing: the sender is our own format's client and
// can fix and resend a refused batch.
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
	if err := ratelimit.Spend(c, len(signals)); err != nil {
		return err // 429: every alert of a batch counts against the client's alerts per second
	}
	t, _ := tenancy.FromContext(c.Request().Context())
	out, err := s.Ingest(c.Request().Context(), t, signals)
	if errors.Is(err, fault.Invalid) {
		s.counter.Ingested(t.Slug, "rejected", len(signals))
	}
	if err != nil {
		return err // the web layer answers by its fault kind: invalid input is 400
	}
	return c.JSON(http.StatusAccepted, map[string]any{"results": out})
}

// amPayload is the Prometheus Alertmanager webhook body (version 4). Unknown
// fields are allowed here: Alertmanager may add some. The alerts stay raw
// until each is decoded on its own, so one member that cannot be read (or is
// not UTF-8, which decoding would silently replace) is rejected alone.
type amPayload struct {
	Version string            `json:"version"`
	Status  string            `json:"status"`
	Alerts  []json.RawMessage `json:"alerts"`
}

type amAlert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// AlertmanagerUnnamedRule is the rule an Alertmanager alert without an
// alertname label is stored under. Its labels (which have no alertname)
// still make it a distinct alert from one really named "unnamed".
const AlertmanagerUnnamedRule = "unnamed"

// amResult is what happened to one member of an Alertmanager group.
type amResult struct {
	Index int `json:"index"`
	Outcome
}

// amRejection is a member of a group that could not be stored, and why.
type amRejection struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// ingestAlertmanager takes a whole Alertmanager group: any size the body
// limit allows, stored in chunks of at most maxBatch. A member that cannot
// be stored is rejected alone, listed in the answer and recorded in the
// client's audit log; the answer is still 202, because an error status
// would only make Alertmanager resend the same group forever.
func (s *Service) ingestAlertmanager(c echo.Context) error {
	ctx := c.Request().Context()
	var p amPayload
	dec := json.NewDecoder(c.Request().Body)
	if err := dec.Decode(&p); err != nil {
		if web.TooLarge(err) {
			return fault.New(fault.TooLarge, "the body is larger than the 1 MB limit")
		}
		return invalid("malformed Alertmanager payload: %v", err)
	}
	if p.Version != "" && p.Version != "4" {
		return invalid("unsupported Alertmanager webhook version %q (want 4)", p.Version)
	}
	if len(p.Alerts) == 0 {
		return invalid("no alerts in the payload")
	}
	// Every member counts, before any is stored: a refused group is left
	// whole for Alertmanager's next attempt.
	if err := ratelimit.Spend(c, len(p.Alerts)); err != nil {
		return err
	}
	t, _ := tenancy.FromContext(ctx)

	var (
		good     []Signal
		goodIdx  []int
		results  = []amResult{}
		rejected = []amRejection{}
	)
	for i, raw := range p.Alerts {
		sig, err := fromAlertmanagerJSON(raw)
		if err == nil {
			err = sig.normalize(-1)
		}
		if err != nil {
			rejected = append(rejected, amRejection{Index: i, Reason: reason(err)})
			continue
		}
		good = append(good, sig)
		goodIdx = append(goodIdx, i)
	}
	for start := 0; start < len(good); start += maxBatch {
		end := min(start+maxBatch, len(good))
		out, rej, err := s.ingestChunk(ctx, t, good[start:end], goodIdx[start:end])
		if err != nil {
			return err // the database failed: Alertmanager should retry
		}
		results = append(results, out...)
		rejected = append(rejected, rej...)
	}
	if len(rejected) > 0 {
		s.counter.Ingested(t.Slug, "rejected", len(rejected))
		if err := recordRejections(c, t, len(p.Alerts), rejected); err != nil {
			return err
		}
	}
	return c.JSON(http.StatusAccepted, map[string]any{"results": results, "stored": len(results), "rejected": rejected})
}

// ingestChunk stores up to maxBatch already-normalised signals in one
// transaction. Should Ingest still refuse the chunk as invalid (a check this
// handler does not know about), it stores the members one by one so only
// the ones at fault are rejected.
func (s *Service) ingestChunk(ctx context.Context, t tenancy.Tenant, sigs []Signal, idx []int) ([]amResult, []amRejection, error) {
	out, err := s.Ingest(ctx, t, sigs)
	if err == nil {
		res := make([]amResult, len(out))
		for i, o := range out {
			res[i] = amResult{Index: idx[i], Outcome: o}
		}
		return res, nil, nil
	}
	if !errors.Is(err, fault.Invalid) {
		return nil, nil, err
	}
	var res []amResult
	var rej []amRejection
	for i := range sigs {
		out, err := s.Ingest(ctx, t, sigs[i:i+1])
		switch {
		case errors.Is(err, fault.Invalid):
			rej = append(rej, amRejection{Index: idx[i], Reason: reason(err)})
		case err != nil:
			return nil, nil, err
		default:
			res = append(res, amResult{Index: idx[i], Outcome: out[0]})
		}
	}
	return res, rej, nil
}

// reason is the message for people about a rejected member.
func reason(err error) string {
	if m := fault.Message(err); m != "" {
		return m
	}
	return err.Error()
}

// maxRejectionsAudited bounds how many reasons one audit entry lists; the
// count says how many there were in all.
const maxRejectionsAudited = 10

// recordRejections writes one entry ("alert.rejected") to the client's audit
// log, which staff read on the client's Audit page: how many members of
// how many were not stored, and the first reasons.
func recordRejections(c echo.Context, t tenancy.Tenant, total int, rejected []amRejection) error {
	ctx := audit.WithOrigin(c.Request().Context(), audit.Origin{Actor: "alertmanager webhook", ClientIP: c.RealIP()})
	var b strings.Builder
	fmt.Fprintf(&b, "%d of %d alerts in an Alertmanager group were not stored", len(rejected), total)
	for i, r := range rejected {
		if i == maxRejectionsAudited {
			fmt.Fprintf(&b, "; and %d more", len(rejected)-i)
			break
		}
		fmt.Fprintf(&b, "; alerts[%d]: %s", r.Index, r.Reason)
	}
	// A reason quotes the offending text with %q, so it is storable itself;
	// strings.ToValidUTF8 is only a guard for what a later check might say.
	summary := strings.ToValidUTF8(strings.ReplaceAll(b.String(), "\x00", `\x00`), "\uFFFD")
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return audit.Record(ctx, tx, "alert.rejected", "alertmanager webhook", summary)
	})
}

// fromAlertmanagerJSON decodes one member of a group and maps it.
func fromAlertmanagerJSON(raw json.RawMessage) (Signal, error) {
	// encoding/json would replace invalid UTF-8 with U+FFFD without a word;
	// an alert whose text is not what was sent is refused instead.
	if !utf8.Valid(raw) {
		return Signal{}, invalid("the alert is not valid UTF-8")
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return Signal{}, invalid("the alert is null")
	}
	var a amAlert
	if err := json.Unmarshal(raw, &a); err != nil {
		return Signal{}, invalid("malformed alert: %v", err)
	}
	return fromAlertmanager(a), nil
}

// fromAlertmanager maps one Alertmanager alert: rule = alertname (or
// AlertmanagerUnnamedRule without one), endpoint = instance, severity from
// the severity label (unknown values count as warning). Text longer than
// our limits is cut and marked "…[truncated]" rather than refused: the
// alert still matters more than its tail. Labels are kept as sent, so
// silences and routes can select on the raw values (severity="page").
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
	labels := make(map[string]string, len(a.Labels))
	for k, v := range a.Labels {
		labels[k] = truncateBytes(v, maxLabelValue)
	}
	rule := strings.TrimSpace(a.Labels["alertname"])
	if rule == "" {
		rule = AlertmanagerUnnamedRule
	}
	return Signal{Source: "alertmanager", Rule: truncateRunes(rule, maxName), Severity: sev, Status: status,
		Summary:     truncateRunes(a.Annotations["summary"], maxSummary),
		Description: truncateRunes(a.Annotations["description"], maxDescription),
		Endpoint:    truncateRunes(a.Labels["instance"], maxName), Labels: labels}
}
