package alerts

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// A silence's state at a moment, as lists group them.
const (
	SilenceActive   = "active"   // in force: matching alerts are recorded as suppressed
	SilenceUpcoming = "upcoming" // starts later
	SilenceExpired  = "expired"  // ended (by its end time, or expired early)
)

// ExpiredListed is how long an ended silence stays in the list: long enough
// to see what was silenced overnight or over a weekend.
const ExpiredListed = 7 * 24 * time.Hour

// maxSilencesListed bounds the list; a tenant with more live silences than
// this has a process problem no page will fix.
const maxSilencesListed = 500

// ErrSilenceNotStarted refuses to expire a silence that has not started:
// there is nothing to end, and deleting it says what is meant.
var ErrSilenceNotStarted = fault.Kind(fault.Conflict, "silence has not started")

// SilenceView is a silence as listed: its state when listed and, while
// active, how many alerts it is muting (suppressed and still open).
type SilenceView struct {
	Silence
	State  string `json:"state"`
	Muting int    `json:"muting"`
}

// StateAt is the silence's state at now.
func (s Silence) StateAt(now time.Time) string {
	switch {
	case now.Before(s.StartsAt):
		return SilenceUpcoming
	case now.Before(s.EndsAt):
		return SilenceActive
	}
	return SilenceExpired
}

// String writes the matcher as it is typed: host=~web.*.
func (m Matcher) String() string { return m.Name + m.Op + m.Value }

// MatcherText writes the silence's matchers as they are typed, comma-separated.
func (s Silence) MatcherText() string {
	parts := make([]string, len(s.Matchers))
	for i, m := range s.Matchers {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

// Silences lists the tenant's silences as of now: active ones (ending
// soonest first), then upcoming ones (starting soonest first), then those
// that ended within ExpiredListed (most recently ended first).
func (s *Service) Silences(ctx context.Context, t tenancy.Tenant, now time.Time) ([]SilenceView, error) {
	var list []Silence
	muting := map[int64]int{}
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Where("ends_at > ?", now.Add(-ExpiredListed)).Order("ends_at DESC").Limit(maxSilencesListed).
			Find(&list).Error; err != nil {
			return fmt.Errorf("listing silences: %w", err)
		}
		var ids []int64
		for _, sil := range list {
			if sil.StateAt(now) == SilenceActive {
				ids = append(ids, sil.ID)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		// One grouped count over suppressed alerts (the status index), not
		// one per silence.
		var rows []struct {
			SilenceID int64
			N         int
		}
		if err := tx.Raw(`SELECT silence_id, count(*) AS n FROM alerts WHERE status = 'suppressed' AND silence_id IN ? GROUP BY silence_id`, ids).
			Scan(&rows).Error; err != nil {
			return fmt.Errorf("counting muted alerts: %w", err)
		}
		for _, r := range rows {
			muting[r.SilenceID] = r.N
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var active, upcoming, expired []SilenceView
	for _, sil := range list { // ends_at descending
		v := SilenceView{Silence: sil, State: sil.StateAt(now), Muting: muting[sil.ID]}
		switch v.State {
		case SilenceActive:
			active = append(active, v)
		case SilenceUpcoming:
			upcoming = append(upcoming, v)
		default:
			expired = append(expired, v)
		}
	}
	slices.Reverse(active) // ending soonest first
	slices.SortStableFunc(upcoming, func(a, b SilenceView) int { return a.StartsAt.Compare(b.StartsAt) })
	return append(append(active, upcoming...), expired...), nil
}

// ExpireSilence ends an active silence now: alerts that arrive from now on
// are no longer suppressed by it (alerts it already muted fire again on
// their next signal, as after a silence's natural end). It reports whether
// anything changed: an ended silence stays as it was. ErrNotFound for no
// such silence; ErrSilenceNotStarted for an upcoming one (delete it).
func (s *Service) ExpireSilence(ctx context.Context, t tenancy.Tenant, id int64) (Silence, bool, error) {
	var sil Silence
	changed := false
	defer s.ForgetSuppressors(t)
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := findSilence(tx, id, &sil); err != nil {
			return err
		}
		var now time.Time
		if err := tx.Raw(`SELECT now()`).Scan(&now).Error; err != nil {
			return err
		}
		switch sil.StateAt(now) {
		case SilenceExpired:
			return nil
		case SilenceUpcoming:
			return fault.Newf(ErrSilenceNotStarted, "silence #%d starts %s; delete it instead", id, sil.StartsAt.UTC().Format(time.RFC3339))
		}
		if err := tx.Exec(`UPDATE silences SET ends_at = ? WHERE id = ?`, now, id).Error; err != nil {
			return fmt.Errorf("expiring silence #%d: %w", id, err)
		}
		sil.EndsAt, changed = now, true
		return audit.Record(ctx, tx, "silence.expired", fmt.Sprintf("silence #%d", id), sil.MatcherText())
	})
	return sil, changed, err
}

// DeleteSilence removes a silence, whatever its state. ErrNotFound for no
// such silence. Alerts it muted keep naming it on their timelines.
func (s *Service) DeleteSilence(ctx context.Context, t tenancy.Tenant, id int64) (Silence, error) {
	var sil Silence
	defer s.ForgetSuppressors(t)
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := findSilence(tx, id, &sil); err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM silences WHERE id = ?`, id).Error; err != nil {
			return fmt.Errorf("deleting silence #%d: %w", id, err)
		}
		return audit.Record(ctx, tx, "silence.deleted", fmt.Sprintf("silence #%d", id), sil.MatcherText())
	})
	return sil, err
}

// findSilence reads silence id, locked against a concurrent expire or delete.
func findSilence(tx *gorm.DB, id int64, sil *Silence) error {
	err := tx.Raw(`SELECT id, matchers, starts_at, ends_at, comment, created_by, created_at FROM silences WHERE id = ? FOR UPDATE`, id).
		Scan(sil).Error
	if err != nil {
		return fmt.Errorf("reading silence #%d: %w", id, err)
	}
	if sil.ID == 0 {
		return fault.Newf(ErrNotFound, "No such silence: #%d.", id)
	}
	return nil
}

// ParseMatchers reads matchers as people type them, "name=value",
// "name!=value", "name=~regex" or "name!~regex", from a list (each
// element one matcher; the CLI's repeated --matcher) or, split at commas,
// from one string (the form). It checks their shape, not their
// expressions: CreateSilence does that.
func ParseMatchers(parts []string) ([]Matcher, error) {
	var ms []Matcher
	for _, part := range parts {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		m, ok := parseMatcher(part)
		if !ok {
			return nil, invalid("matcher %q must look like name=value, name!=value, name=~regex or name!~regex", part)
		}
		ms = append(ms, m)
	}
	if len(ms) == 0 {
		return nil, invalid("a silence needs at least one matcher, like host=web1 or alertname=~disk_.*")
	}
	return ms, nil
}

// parseMatcher splits "name op value" with op one of =~ !~ != =.
func parseMatcher(s string) (Matcher, bool) {
	for _, op := range []string{"=~", "!~", "!=", "="} {
		if i := strings.Index(s, op); i > 0 {
			return Matcher{Name: strings.TrimSpace(s[:i]), Op: op, Value: strings.TrimSpace(s[i+len(op):])}, true
		}
	}
	return Matcher{}, false
}

// ParseSilenceDuration reads how long a silence lasts: a Go duration
// ("90m", "2h30m") or whole days ("3d"), between a minute and 90 days.
func ParseSilenceDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok && days != "" && !strings.ContainsAny(days, "hms") {
		var n int
		if _, err = fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = errors.New("not a number of days")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < time.Minute || d > 90*24*time.Hour {
		return 0, invalid("duration must be like 30m, 2h or 3d, from a minute to 90 days")
	}
	return d, nil
}
