package alerts

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"switchboard/platform/fault"
)

// ErrInvalid marks input the sender must fix (HTTP 400).
var ErrInvalid = fault.Kind(fault.Invalid, "invalid alert")

// ErrNotFound means no such alert or silence in this tenant.
var ErrNotFound = fault.Kind(fault.NotFound, "not found")

func invalid(format string, args ...any) error {
	return fault.Newf(ErrInvalid, format, args...)
}

// Limits on one signal; larger input is refused, not truncated (the
// Alertmanager webhook truncates before it gets here: see truncateBytes).
const (
	maxLabels      = 64
	maxLabelValue  = 1024
	maxSummary     = 1024
	maxDescription = 16384
	maxName        = 200
)

// badText says why s cannot be stored in a PostgreSQL text column (invalid
// UTF-8, or a NUL byte, which text cannot hold), or "" when it can. Checking
// here turns what would be a database error (500) into the sender's 400.
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if strings.IndexByte(s, 0) >= 0 {
		return "holds a NUL byte"
	}
	return ""
}

// normalize checks a signal and fills defaults. index names the signal in
// error messages when a payload carries several.
func (s *Signal) normalize(index int) error {
	where := ""
	if index >= 0 {
		where = fmt.Sprintf("alerts[%d]: ", index)
	}
	for _, f := range []struct{ name, text string }{{"source", s.Source}, {"rule", s.Rule}, {"severity", s.Severity},
		{"status", s.Status}, {"summary", s.Summary}, {"description", s.Description}, {"endpoint", s.Endpoint}} {
		if why := badText(f.text); why != "" {
			return invalid("%s%s %s", where, f.name, why)
		}
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
		if !validLabelName(k) {
			return invalid("%slabel name %q is not valid (1-%d bytes of UTF-8 without NUL)", where, k, maxLabelName)
		}
		if why := badText(v); why != "" {
			return invalid("%slabel %q: value %s", where, k, why)
		}
		if len(v) > maxLabelValue {
			return invalid("%slabel %q: value is longer than %d bytes", where, k, maxLabelValue)
		}
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	return nil
}

// truncatedMarker ends a value that was cut to fit, so nobody mistakes the
// stored text for the whole of it.
const truncatedMarker = "…[truncated]"

// truncateBytes returns s if it fits in n bytes, else its longest prefix
// that, with truncatedMarker appended, fits in n bytes, cut on a rune
// boundary so valid UTF-8 stays valid.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-len(truncatedMarker), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMarker
}

// truncateRunes is truncateBytes for limits counted in characters.
func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	keep, i := max(n-utf8.RuneCountInString(truncatedMarker), 0), 0
	for at := range s {
		if i == keep {
			return s[:at] + truncatedMarker
		}
		i++
	}
	return s // not reached: s has more than n ≥ keep runes
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

// checkMatchers validates a silence's matchers: 1-20 of them, each as
// CompileSelector requires.
func checkMatchers(ms []Matcher) error {
	if len(ms) == 0 || len(ms) > 20 {
		return invalid("a silence needs 1-20 matchers")
	}
	_, err := CompileSelector(ms)
	return err
}
