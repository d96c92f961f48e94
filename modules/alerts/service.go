package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/policies"
	"switchboard/platform/failpoint"
	"switchboard/platform/fault"
	"switchboard/platform/humane"
	"switchboard/platform/outbox"
	"switchboard/platform/tenancy"
)

// Service ingests signals and manages alerts. All of it is tenant-plane work.
type Service struct {
	maintenance MaintenanceSource
	sla         SLASource
	assignees   AssigneeSource // nil: any assignee is taken
	counter     Counter        // what ingestion did, for metrics

	// suppressors caches each tenant's active silences and maintenance
	// windows for a few seconds: every ingest needs them, they rarely change,
	// and a silence created through this process drops the entry at once.
	mu          sync.Mutex
	suppressors map[int64]cachedSuppressors
}

type cachedSuppressors struct {
	silences []Silence
	windows  []policies.Window
	at       time.Time
}

// suppressorsTTL bounds how late another replica sees a new silence or window.
const suppressorsTTL = 5 * time.Second

// activeSuppressors returns the tenant's silences and maintenance windows in
// force, from the cache when fresh, else read inside tx.
func (s *Service) activeSuppressors(ctx context.Context, tx *gorm.DB, t tenancy.Tenant) ([]Silence, []policies.Window, error) {
	s.mu.Lock()
	c, ok := s.suppressors[t.ID]
	s.mu.Unlock()
	if ok && time.Since(c.at) < suppressorsTTL {
		return c.silences, c.windows, nil
	}
	var silences []Silence
	if err := tx.Where("starts_at <= now() AND ends_at > now()").Find(&silences).Error; err != nil {
		return nil, nil, fmt.Errorf("reading silences: %w", err)
	}
	windows, err := s.maintenance.ActiveMaintenance(ctx, tx, time.Now())
	if err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	if s.suppressors == nil {
		s.suppressors = map[int64]cachedSuppressors{}
	}
	s.suppressors[t.ID] = cachedSuppressors{silences: silences, windows: windows, at: time.Now()}
	s.mu.Unlock()
	return silences, windows, nil
}

// ForgetSuppressors drops a tenant's cached silences and windows (after a change).
func (s *Service) ForgetSuppressors(t tenancy.Tenant) {
	s.mu.Lock()
	delete(s.suppressors, t.ID)
	s.mu.Unlock()
}

// AddEvent appends an entry to an alert's timeline and records the given
// outbox events in the same transaction (an SLA breach and the escalation
// it causes); ErrNotFound if there is no such alert.
func (s *Service) AddEvent(ctx context.Context, t tenancy.Tenant, id int64, kind, actor, body string, publish ...outbox.Event) error {
	return s.onAlert(ctx, t, id, func(tx *gorm.DB, _ Alert) error {
		if err := addEvent(tx, id, kind, actor, body); err != nil {
			return err
		}
		return outbox.Record(tx, publish...)
	})
}

// MaintenanceSource lists the maintenance windows in force for the tenant
// whose schema tx is scoped to (the policies service implements it).
type MaintenanceSource interface {
	ActiveMaintenance(ctx context.Context, tx *gorm.DB, now time.Time) ([]policies.Window, error)
}

// NewService returns the alerts service: ingestion suppresses signals inside
// the tenant's maintenance windows (maintenance), and the alert pages show
// the SLA clocks (sla, from the slas module, which alerts cannot import).
func NewService(maintenance MaintenanceSource, sla SLASource, opts ...Option) *Service {
	s := &Service{maintenance: maintenance, sla: sla, counter: uncounted{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Counter counts ingested signals by outcome (created, repeated, resolved,
// suppressed, ignored, rejected); *metrics.Metrics is one. client is the
// tenant's slug.
type Counter interface {
	Ingested(client, outcome string, n int)
}

// uncounted is the Counter of a service built without one (module tests).
type uncounted struct{}

func (uncounted) Ingested(string, string, int) {}

// Option configures a Service.
type Option func(*Service)

// WithCounter counts what ingestion does.
func WithCounter(c Counter) Option { return func(s *Service) { s.counter = c } }

// maxBatch is the most signals one request may carry.
const maxBatch = 500

// Ingest records signals for a tenant in one transaction: every signal is
// validated first, so a bad one stores nothing. A firing signal opens an
// alert or, if one with the same fingerprint is open, counts a repeat; a
// signal matching an active silence is recorded as suppressed; a resolved
// signal resolves the open alert. What others must act on (a new alert to
// announce and time, a resolution) is recorded in the tenant's outbox in the
// same transaction: one statement, whatever the batch size.
func (s *Service) Ingest(ctx context.Context, t tenancy.Tenant, signals []Signal) ([]Outcome, error) {
	if len(signals) == 0 {
		return nil, invalid("no alerts in the payload")
	}
	if len(signals) > maxBatch {
		return nil, invalid("at most %d alerts per request", maxBatch)
	}
	for i := range signals {
		idx := i
		if len(signals) == 1 {
			idx = -1
		}
		if err := signals[i].normalize(idx); err != nil {
			return nil, err
		}
	}
	out := make([]Outcome, 0, len(signals))
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		out = out[:0]
		silences, windows, err := s.activeSuppressors(ctx, tx, t)
		if err != nil {
			return err
		}
		var events []outbox.Event
		for _, sig := range signals {
			o, seen, err := ingestOne(tx, t, sig, silences, windows)
			if err != nil {
				return err
			}
			out = append(out, o)
			switch {
			case o.Action == "created" && o.Status == StatusFiring:
				events = append(events, Opened{Alert: Alert{ID: o.AlertID, Source: sig.Source, Rule: sig.Rule, Severity: sig.Severity,
					Status: o.Status, Summary: sig.Summary, Description: sig.Description, Labels: sig.Labels,
					Endpoint: sig.Endpoint, Occurrences: o.Occurred, FirstSeenAt: seen, LastSeenAt: seen}})
			case o.Action == "resolved":
				events = append(events, Changed{AlertID: o.AlertID, Action: ActionResolve, FirstSeenAt: seen})
			}
		}
		return outbox.Record(tx, events...)
	})
	if err != nil {
		return nil, err
	}
	failpoint.Hit(failpoint.IngestCommitted)
	counted := map[string]int{} // counted after the commit: a rolled-back batch did nothing
	for _, o := range out {
		counted[o.Action]++
	}
	for action, n := range counted {
		s.counter.Ingested(t.Slug, action, n)
	}
	return out, nil
}

// ingestOne records one signal; it also returns when the alert was first seen.
func ingestOne(tx *gorm.DB, t tenancy.Tenant, sig Signal, silences []Silence, windows []policies.Window) (Outcome, time.Time, error) {
	fp := fingerprint(t.ID, sig)
	if sig.Status == StatusResolved {
		var a Alert
		res := tx.Raw(`UPDATE alerts SET status = 'resolved', resolved_at = now(), last_seen_at = now()
			WHERE fingerprint = ? AND status IN ('firing', 'acknowledged', 'suppressed') RETURNING id, status, occurrences, first_seen_at`, fp).Scan(&a)
		if res.Error != nil {
			return Outcome{}, time.Time{}, fmt.Errorf("resolving alert: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return Outcome{Action: "ignored", Status: StatusResolved}, time.Time{}, nil // nothing open: a late or repeated resolve
		}
		if err := addEvent(tx, a.ID, "resolved", sig.Source, "resolved by the source"); err != nil {
			return Outcome{}, time.Time{}, err
		}
		return Outcome{AlertID: a.ID, Action: "resolved", Status: StatusResolved, Occurred: a.Occurrences}, a.FirstSeenAt, nil
	}

	status, silenceID, why := StatusFiring, (*int64)(nil), ""
	for i := range silences {
		sel, err := CompileSelector(silences[i].Matchers) // regexps come from the compile cache
		if err == nil && sel.MatchesSignal(sig) {
			status, silenceID = StatusSuppressed, &silences[i].ID
			why = fmt.Sprintf("suppressed by silence #%d", silences[i].ID)
			break
		}
	}
	for _, w := range windows {
		if status == StatusFiring && EqualSelector(w.Labels).MatchesSignal(sig) {
			status, why = StatusSuppressed, "suppressed by maintenance window "+w.Key
		}
	}
	var row struct {
		ID          int64
		Status      string
		Occurrences int
		FirstSeenAt time.Time
		Inserted    bool
		WasStatus   *string // the open alert's status before this signal, if one was open
	}
	// A repeat of an open alert counts and refreshes it; an acknowledged one
	// stays acknowledged; a suppressed one fires once its silence is over.
	// prev reads the open alert as it was before this statement (a CTE sees
	// the statement's starting snapshot), in the same round trip.
	err := tx.Raw(`WITH prev AS (SELECT status FROM alerts WHERE fingerprint = ? AND status IN ('firing', 'acknowledged', 'suppressed'))
		INSERT INTO alerts (fingerprint, source, rule, severity, status, summary, description, labels, endpoint, silence_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (fingerprint) WHERE status IN ('firing', 'acknowledged', 'suppressed') DO UPDATE SET
			occurrences = alerts.occurrences + 1,
			last_seen_at = now(),
			-- unmuted: its work (and SLA) starts now; the timeline keeps when it was muted
			first_seen_at = CASE WHEN alerts.status = 'suppressed' AND EXCLUDED.status = 'firing' THEN now() ELSE alerts.first_seen_at END,
			severity = EXCLUDED.severity,
			summary = EXCLUDED.summary,
			description = EXCLUDED.description,
			endpoint = EXCLUDED.endpoint,
			status = CASE WHEN alerts.status = 'acknowledged' THEN 'acknowledged' ELSE EXCLUDED.status END,
			silence_id = EXCLUDED.silence_id
		RETURNING id, status, occurrences, first_seen_at, (xmax = 0) AS inserted, (SELECT status FROM prev) AS was_status`,
		fp, fp, sig.Source, sig.Rule, sig.Severity, status, sig.Summary, sig.Description, labelsJSON(sig.Labels), sig.Endpoint, silenceID).Scan(&row).Error
	if err != nil {
		return Outcome{}, time.Time{}, fmt.Errorf("recording alert: %w", err)
	}
	action := "repeated"
	// A muted alert whose silence or window is over fires now: it is opened
	// (announced, its SLA clocks started) as a new one would be.
	unmuted := !row.Inserted && row.WasStatus != nil && *row.WasStatus == StatusSuppressed && row.Status == StatusFiring
	if unmuted {
		action = "created"
		why = "no longer suppressed"
	}
	if row.Inserted || unmuted {
		action = "created"
		if row.Status == StatusSuppressed {
			action = "suppressed"
		}
		body := sig.Summary
		if why != "" {
			body = why + ": " + sig.Summary
		}
		if err := addEvent(tx, row.ID, action, sig.Source, body); err != nil {
			return Outcome{}, time.Time{}, err
		}
	}
	return Outcome{AlertID: row.ID, Action: action, Status: row.Status, Occurred: row.Occurrences}, row.FirstSeenAt, nil
}

func addEvent(tx *gorm.DB, alertID int64, kind, actor, body string) error {
	if err := tx.Exec(`INSERT INTO alert_events (alert_id, kind, actor, body) VALUES (?, ?, ?, ?)`, alertID, kind, actor, body).Error; err != nil {
		return fmt.Errorf("recording alert event: %w", err)
	}
	return nil
}

// Transition changes the status of alerts by id: acknowledge (firing →
// acknowledged), resolve (open → resolved), wait or resume (see
// recordPause). Alerts already in the target state are left alone; it
// returns how many changed. Each change is published as Changed in the same
// transaction.
func (s *Service) Transition(ctx context.Context, t tenancy.Tenant, ids []int64, action Action) (int, error) {
	var q, kind string
	switch action {
	case ActionWait, ActionResume:
	case ActionAcknowledge:
		q, kind = `UPDATE alerts SET status = 'acknowledged', acknowledged_at = now() WHERE id IN ? AND status = 'firing' RETURNING id, first_seen_at`, "acknowledged"
	case ActionResolve:
		q, kind = `UPDATE alerts SET status = 'resolved', resolved_at = now() WHERE id IN ? AND status IN ('firing', 'acknowledged', 'suppressed') RETURNING id, first_seen_at`, "resolved"
	default:
		return 0, invalid("unknown action %q", action)
	}
	if len(ids) == 0 || len(ids) > 1000 {
		return 0, invalid("select 1-1000 alerts")
	}
	actor := audit.OriginFrom(ctx).Actor
	var changed []changedAlert
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) (err error) {
		if err := requireAlerts(tx, ids); err != nil {
			return err
		}
		if action == ActionWait || action == ActionResume {
			changed, err = recordPause(ctx, tx, ids, action)
			return err
		}
		if err := tx.Raw(q, ids).Scan(&changed).Error; err != nil {
			return fmt.Errorf("updating alerts: %w", err)
		}
		for _, a := range changed {
			if err := addEvent(tx, a.ID, kind, actor, ""); err != nil {
				return err
			}
		}
		if len(changed) == 0 {
			return nil
		}
		if err := audit.Record(ctx, tx, "alert."+kind, alertTargets(changedIDs(changed)), humane.Plural(len(changed), "alert", "alerts")); err != nil {
			return err
		}
		return publishChanged(tx, changed, action)
	})
	return len(changed), err
}

// requireAlerts fails with ErrNotFound unless every id names an alert of
// the tenant: an action on an alert that does not exist is refused whole,
// never reported as done to the ones that do.
func requireAlerts(tx *gorm.DB, ids []int64) error {
	var found []int64
	if err := tx.Raw(`SELECT id FROM alerts WHERE id IN ?`, ids).Scan(&found).Error; err != nil {
		return fmt.Errorf("finding alerts: %w", err)
	}
	for _, id := range ids {
		if !slices.Contains(found, id) {
			return fault.Newf(ErrNotFound, "No such alert: #%d.", id)
		}
	}
	return nil
}

// changedAlert is an alert a transition changed.
type changedAlert struct {
	ID          int64
	FirstSeenAt time.Time
}

func changedIDs(cs []changedAlert) []int64 {
	ids := make([]int64, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

// alertTargets names alerts for an audit entry: "#11, #12".
func alertTargets(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = "#" + strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// publishChanged records one Changed event per alert, in tx.
func publishChanged(tx *gorm.DB, cs []changedAlert, action Action) error {
	events := make([]outbox.Event, len(cs))
	for i, c := range cs {
		events[i] = Changed{AlertID: c.ID, Action: action, FirstSeenAt: c.FirstSeenAt}
	}
	return outbox.Record(tx, events...)
}

// recordPause marks open alerts as waiting on the client (ActionWait: their
// SLA clocks pause) or back in the provider's hands (ActionResume), inside
// the caller's transaction. Only alerts not already in that state change;
// their changes are published.
func recordPause(ctx context.Context, tx *gorm.DB, ids []int64, action Action) ([]changedAlert, error) {
	kind, from := "waiting", "resumed"
	if action == ActionResume {
		kind, from = "resumed", "waiting"
	}
	var changed []changedAlert
	// The last pause-related event says the state; none means not waiting.
	err := tx.Raw(`WITH changed AS (
		INSERT INTO alert_events (alert_id, kind, actor)
		SELECT a.id, ?, ? FROM alerts a
		WHERE a.id IN ? AND a.status IN ('firing', 'acknowledged')
		AND coalesce((SELECT e.kind FROM alert_events e WHERE e.alert_id = a.id AND e.kind IN ('waiting', 'resumed')
			ORDER BY e.id DESC LIMIT 1), 'resumed') = ?
		RETURNING alert_id)
		SELECT a.id, a.first_seen_at FROM alerts a JOIN changed c ON c.alert_id = a.id`, kind, audit.OriginFrom(ctx).Actor, ids, from).Scan(&changed).Error
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", kind, err)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	if err := audit.Record(ctx, tx, "alert."+kind, alertTargets(changedIDs(changed)), humane.Plural(len(changed), "alert", "alerts")); err != nil {
		return nil, err
	}
	return changed, publishChanged(tx, changed, action)
}

// AddNote appends a note to an alert's timeline; forClient shares it with
// the client's portal, otherwise it stays internal.
func (s *Service) AddNote(ctx context.Context, t tenancy.Tenant, id int64, text string, forClient bool) error {
	text, err := noteText(text)
	if err != nil {
		return err
	}
	return s.onAlert(ctx, t, id, func(tx *gorm.DB, _ Alert) error {
		return addNote(tx, Event{AlertID: id, Kind: "note", Actor: audit.OriginFrom(ctx).Actor, Body: text, ClientVisible: forClient})
	})
}

// noteText is a note's text, trimmed, or why it cannot be one.
func noteText(text string) (string, error) {
	text = strings.TrimSpace(text)
	if text == "" || len(text) > 8000 {
		return "", invalid("a note must be 1-8000 characters")
	}
	return text, nil
}

// addNote appends a note event (staff's or the client's) to a timeline.
func addNote(tx *gorm.DB, e Event) error {
	if err := tx.Select("AlertID", "Kind", "Actor", "Body", "ClientVisible").Create(&e).Error; err != nil {
		return fmt.Errorf("adding a note: %w", err)
	}
	return nil
}

// Assign sets (or, with "", clears) an alert's assignee.
func (s *Service) Assign(ctx context.Context, t tenancy.Tenant, id int64, assignee string) error {
	assignee = strings.TrimSpace(assignee)
	if len(assignee) > 254 {
		return invalid("assignee is too long")
	}
	// Asked before the alert's transaction, which it need not hold open;
	// keeping an assignee who has since lost the client is a no-op, not an error.
	refusal := s.checkAssignee(ctx, t, assignee)
	if refusal != nil && !errors.Is(refusal, ErrInvalid) {
		return refusal
	}
	return s.onAlert(ctx, t, id, func(tx *gorm.DB, a Alert) error {
		if a.Assignee == assignee {
			return nil
		}
		if refusal != nil {
			return refusal
		}
		if err := tx.Exec(`UPDATE alerts SET assignee = ? WHERE id = ?`, assignee, id).Error; err != nil {
			return err
		}
		body := audit.Changed("assignee", orNone(a.Assignee), orNone(assignee))
		if err := addEvent(tx, id, "assigned", audit.OriginFrom(ctx).Actor, body); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "alert.assigned", fmt.Sprintf("alert #%d", id), body)
	})
}

func (s *Service) onAlert(ctx context.Context, t tenancy.Tenant, id int64, fn func(*gorm.DB, Alert) error) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var a Alert
		err := tx.Where("id = ?", id).Take(&a).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return fault.Newf(ErrNotFound, "alert #%d", id)
		}
		if err != nil {
			return err
		}
		return fn(tx, a)
	})
}

// Filter narrows the alert list.
type Filter struct {
	Status   string // "open" (default), firing, acknowledged, resolved, suppressed, all
	Severity string
	Endpoint string
	Text     string
	Limit    int
}

// List returns the tenant's alerts, most severe and most recent first.
func (s *Service) List(ctx context.Context, t tenancy.Tenant, f Filter) ([]Alert, error) {
	var out []Alert
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		q, err := f.where(tx.Model(&Alert{}))
		if err != nil {
			return err
		}
		limit := f.Limit
		if limit <= 0 || limit > 500 {
			limit = 200
		}
		return q.Order("CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END, last_seen_at DESC").Limit(limit).Find(&out).Error
	})
	return out, err
}

// where narrows q to the alerts f selects (its Limit is the caller's).
func (f Filter) where(q *gorm.DB) (*gorm.DB, error) {
	switch f.Status {
	case "", "open":
		q = q.Where("status IN ('firing', 'acknowledged')")
	case "all":
	case StatusFiring, StatusAcknowledged, StatusResolved, StatusSuppressed:
		q = q.Where("status = ?", f.Status)
	default:
		return nil, invalid("unknown status filter %q", f.Status)
	}
	if f.Severity != "" {
		q = q.Where("severity = ?", f.Severity)
	}
	if f.Endpoint != "" {
		q = q.Where("endpoint = ?", f.Endpoint)
	}
	if f.Text != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(f.Text) + "%"
		q = q.Where("(summary ILIKE ? OR rule ILIKE ? OR source ILIKE ? OR endpoint ILIKE ?)", like, like, like, like)
	}
	return q, nil
}

// Get returns one alert with its timeline.
func (s *Service) Get(ctx context.Context, t tenancy.Tenant, id int64) (Alert, []Event, error) {
	var a Alert
	var events []Event
	err := s.onAlert(ctx, t, id, func(tx *gorm.DB, found Alert) error {
		a = found
		return tx.Where("alert_id = ?", id).Order("id").Find(&events).Error
	})
	return a, events, err
}

// CreateSilence suppresses matching alerts from startsAt until endsAt.
func (s *Service) CreateSilence(ctx context.Context, t tenancy.Tenant, ms []Matcher, startsAt, endsAt time.Time, comment string) (Silence, error) {
	if err := checkMatchers(ms); err != nil {
		return Silence{}, err
	}
	if !endsAt.After(startsAt) || endsAt.Before(time.Now()) {
		return Silence{}, invalid("a silence must end after it starts, and in the future")
	}
	sil := Silence{Matchers: ms, StartsAt: startsAt, EndsAt: endsAt, Comment: strings.TrimSpace(comment), CreatedBy: audit.OriginFrom(ctx).Actor}
	defer s.ForgetSuppressors(t)
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Select("Matchers", "StartsAt", "EndsAt", "Comment", "CreatedBy").Create(&sil).Error; err != nil {
			return fmt.Errorf("creating silence: %w", err)
		}
		return audit.Record(ctx, tx, "silence.created", fmt.Sprintf("silence #%d", sil.ID),
			fmt.Sprintf("%d matcher(s) until %s", len(ms), endsAt.UTC().Format(time.RFC3339)))
	})
	return sil, err
}

func labelsJSON(m map[string]string) string {
	b, _ := json.Marshal(m) // a map of strings always encodes
	return string(b)
}

func orNone(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// OpenCounts counts the tenant's open (firing or acknowledged) alerts per severity.
func (s *Service) OpenCounts(ctx context.Context, t tenancy.Tenant) (map[string]int, error) {
	out := map[string]int{SeverityCritical: 0, SeverityWarning: 0, SeverityInfo: 0}
	var rows []struct {
		Severity string
		N        int
	}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT severity, count(*) AS n FROM alerts WHERE status IN ('firing', 'acknowledged') GROUP BY severity`).Scan(&rows).Error
	})
	for _, r := range rows {
		out[r.Severity] = r.N
	}
	return out, err
}

// OpenedBetween returns the alerts first seen in [from, to) (suppressed ones
// excluded: they were never the provider's to handle) with their timelines.
func (s *Service) OpenedBetween(ctx context.Context, t tenancy.Tenant, from, to time.Time) ([]Alert, map[int64][]Event, error) {
	var list []Alert
	events := map[int64][]Event{}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Where("first_seen_at >= ? AND first_seen_at < ? AND status <> 'suppressed'", from, to).
			Order("first_seen_at").Limit(100000).Find(&list).Error; err != nil {
			return err
		}
		if len(list) == 0 {
			return nil
		}
		var all []Event
		if err := tx.Raw(`SELECT e.id, e.alert_id, e.at, e.kind, e.actor, e.body FROM alert_events e
			JOIN alerts a ON a.id = e.alert_id
			WHERE a.first_seen_at >= ? AND a.first_seen_at < ? AND a.status <> 'suppressed' ORDER BY e.id`, from, to).Scan(&all).Error; err != nil {
			return err
		}
		for _, e := range all {
			events[e.AlertID] = append(events[e.AlertID], e)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading alerts of %s: %w", t.Slug, err)
	}
	return list, events, nil
}

// OpenBefore returns up to limit of the tenant's open (firing or
// acknowledged) alerts first seen before before, oldest first, with their
// timelines, in one transaction: the open alerts a month's report does not
// cover.
func (s *Service) OpenBefore(ctx context.Context, t tenancy.Tenant, before time.Time, limit int) ([]Alert, map[int64][]Event, error) {
	var list []Alert
	events := map[int64][]Event{}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Where("first_seen_at < ? AND status IN ('firing', 'acknowledged')", before).
			Order("first_seen_at").Limit(limit).Find(&list).Error; err != nil {
			return err
		}
		var err error
		events, err = timelinesOf(tx, list, "id, alert_id, at, kind, actor, body")
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("reading open alerts of %s: %w", t.Slug, err)
	}
	return list, events, nil
}

// timelinesOf reads the given columns of the timelines of list, in tx, by
// alert id (in timeline order).
func timelinesOf(tx *gorm.DB, list []Alert, columns string) (map[int64][]Event, error) {
	events := map[int64][]Event{}
	if len(list) == 0 {
		return events, nil
	}
	ids := make([]int64, len(list))
	for i, a := range list {
		ids[i] = a.ID
	}
	var all []Event
	if err := tx.Raw(`SELECT `+columns+` FROM alert_events WHERE alert_id IN ? ORDER BY id`, ids).Scan(&all).Error; err != nil {
		return nil, err
	}
	for _, e := range all {
		events[e.AlertID] = append(events[e.AlertID], e)
	}
	return events, nil
}

// OpenIDs returns the ids of the tenant's open (firing or acknowledged) alerts.
func (s *Service) OpenIDs(ctx context.Context, t tenancy.Tenant) ([]int64, error) {
	var ids []int64
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT id FROM alerts WHERE status IN ('firing', 'acknowledged') ORDER BY id`).Scan(&ids).Error
	})
	if err != nil {
		return nil, fmt.Errorf("listing open alerts of %s: %w", t.Slug, err)
	}
	return ids, nil
}

// AppendEvent adds an entry to an alert's timeline inside the caller's
// tenancy.Do transaction, for modules that record their own rows with it
// (a delivery and its "notified" entry commit together).
func AppendEvent(tx *gorm.DB, alertID int64, kind, actor, body string) error {
	return addEvent(tx, alertID, kind, actor, body)
}
