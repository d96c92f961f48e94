package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrInvalid marks input the sender must fix (HTTP 400).
var ErrInvalid = errors.New("invalid alert")

// ErrNotFound means no such alert or silence in this tenant.
var ErrNotFound = errors.New("not found")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_.\-/]{0,99}$`)

// Limits on one signal; larger input is refused, not truncated.
const (
	maxLabels      = 64
	maxLabelValue  = 1024
	maxSummary     = 1024
	maxDescription = 16384
	maxName        = 200
)

// normalize checks a signal and fills defaults. index names the signal in
// error messages when a payload carries several.
func (s *Signal) normalize(index int) error {
	where := ""
	if index >= 0 {
		where = fmt.Sprintf("alerts[%d]: ", index)
	}
	s.Source, s.Rule = strings.TrimSpace(s.Source), strings.TrimSpace(s.Rule)
	if s.Source == "" || s.Rule == "" {
		return invalid("%ssource and rule are required", where)
	}
	if utf8.RuneCountInString(s.Source) > maxName || utf8.RuneCountInString(s.Rule) > maxName {
		return invalid("%ssource and rule are limited to %d characters", where, maxName)
	}
	if s.Severity == "" {
		s.Severity = SeverityWarning
	}
	if s.Severity != SeverityCritical && s.Severity != SeverityWarning && s.Severity != SeverityInfo {
		return invalid("%sseverity must be critical, warning or info, not %q", where, s.Severity)
	}
	if s.Status == "" {
		s.Status = StatusFiring
	}
	if s.Status != StatusFiring && s.Status != StatusResolved {
		return invalid("%sstatus must be firing or resolved, not %q", where, s.Status)
	}
	if utf8.RuneCountInString(s.Summary) > maxSummary || utf8.RuneCountInString(s.Description) > maxDescription ||
		utf8.RuneCountInString(s.Endpoint) > maxName {
		return invalid("%ssummary (%d), description (%d) or endpoint (%d characters) too long", where, maxSummary, maxDescription, maxName)
	}
	if len(s.Labels) > maxLabels {
		return invalid("%sat most %d labels", where, maxLabels)
	}
	for k, v := range s.Labels {
		if !labelName.MatchString(k) {
			return invalid("%slabel name %q is not valid", where, k)
		}
		if len(v) > maxLabelValue || !utf8.ValidString(v) {
			return invalid("%slabel %s: value must be valid UTF-8 of at most %d bytes", where, k, maxLabelValue)
		}
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	return nil
}

// fingerprint identifies "the same alert": the tenant, source, rule and the
// sorted labels. Including the tenant means two tenants' alerts can never
// merge, even if one schema were ever read with another's fingerprints.
func fingerprint(tenantID int64, s Signal) string {
	h := sha256.New()
	write := func(v string) { h.Write([]byte(strconv.Itoa(len(v)))); h.Write([]byte{':'}); h.Write([]byte(v)) }
	write(strconv.FormatInt(tenantID, 10))
	write(s.Source)
	write(s.Rule)
	keys := make([]string, 0, len(s.Labels))
	for k := range s.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		write(k)
		write(s.Labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkMatchers validates silence matchers and compiles their expressions.
func checkMatchers(ms []Matcher) error {
	if len(ms) == 0 || len(ms) > 20 {
		return invalid("a silence needs 1-20 matchers")
	}
	for _, m := range ms {
		if !labelName.MatchString(m.Name) {
			return invalid("matcher label %q is not valid", m.Name)
		}
		switch m.Op {
		case "=", "!=":
		case "=~", "!~":
			if _, err := regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				return invalid("matcher %s%s%q: %v", m.Name, m.Op, m.Value, err)
			}
		default:
			return invalid("matcher operator must be =, !=, =~ or !~, not %q", m.Op)
		}
	}
	return nil
}

// matches reports whether every matcher holds for the signal.
func matches(ms []Matcher, s Signal) bool {
	for _, m := range ms {
		v := s.Labels[m.Name]
		switch m.Name {
		case "source":
			v = s.Source
		case "rule", "alertname":
			if _, ok := s.Labels[m.Name]; !ok {
				v = s.Rule
			}
		case "severity":
			v = s.Severity
		}
		var ok bool
		switch m.Op {
		case "=":
			ok = v == m.Value
		case "!=":
			ok = v != m.Value
		case "=~", "!~":
			re, err := regexp.Compile("^(?:" + m.Value + ")$")
			ok = err == nil && re.MatchString(v)
			if m.Op == "!~" {
				ok = err == nil && !ok
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
