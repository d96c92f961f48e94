package alerts

import (
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxLabelName bounds a label (or matcher) name in bytes. Prometheus itself
// sets no bound; this one only keeps a runaway name out of the fingerprint
// and the JSON column.
const maxLabelName = 256

// validLabelName reports whether n is a label name we store: what Prometheus
// 3 accepts (any non-empty valid UTF-8, so "k8s:ns" and "région" too), minus
// NUL, which PostgreSQL text cannot hold, and at most maxLabelName bytes.
func validLabelName(n string) bool {
	return n != "" && len(n) <= maxLabelName && utf8.ValidString(n) && strings.IndexByte(n, 0) < 0
}

// Selector is a set of label matchers compiled once; it selects an alert
// when every matcher holds (an empty Selector selects everything). Silences,
// maintenance windows and notification routes all select through it, so one
// alert is judged the same way by all three.
//
// The one rule for names: a matcher name is first looked up in the alert's
// own labels, so severity="page" matches Alertmanager's raw label. Only when
// the alert has no label of that name does the name stand for a field:
// "source" for Source, "rule" and "alertname" for Rule, "severity" for the
// mapped Severity, "endpoint" and "instance" for Endpoint (each stands for
// the other: Alertmanager's instance is our endpoint). Any other missing
// name reads as "", as in Alertmanager: env="" and env!="prod" both select an
// alert without env.
//
// Regular expressions (=~, !~) are anchored at both ends, as in Alertmanager:
// "web.*" does not select "myweb1".
type Selector struct {
	ms []compiledMatcher
}

type compiledMatcher struct {
	name, op, value string
	re              *regexp.Regexp // for =~ and !~
}

// CompileSelector validates matchers (a valid label name; operator =, !=, =~
// or !~; a regular expression that compiles) and compiles them, or returns
// an ErrInvalid error that says which matcher is wrong.
func CompileSelector(ms []Matcher) (Selector, error) {
	out := Selector{ms: make([]compiledMatcher, 0, len(ms))}
	for _, m := range ms {
		if !validLabelName(m.Name) {
			return Selector{}, invalid("matcher label %q is not valid", m.Name)
		}
		cm := compiledMatcher{name: m.Name, op: m.Op, value: m.Value}
		switch m.Op {
		case "=", "!=":
		case "=~", "!~":
			re, err := anchored(m.Value)
			if err != nil {
				return Selector{}, invalid("matcher %s%s%q: %v", m.Name, m.Op, m.Value, err)
			}
			cm.re = re
		default:
			return Selector{}, invalid("matcher operator must be =, !=, =~ or !~, not %q", m.Op)
		}
		out.ms = append(out.ms, cm)
	}
	return out, nil
}

// EqualSelector selects alerts whose every listed label equals the given
// value (name=value matchers), as maintenance windows and routes write them;
// no labels select everything. It cannot fail: equality needs no compiling.
func EqualSelector(labels map[string]string) Selector {
	out := Selector{ms: make([]compiledMatcher, 0, len(labels))}
	for k, v := range labels {
		out.ms = append(out.ms, compiledMatcher{name: k, op: "=", value: v})
	}
	return out
}

// Matches reports whether the stored alert a is selected.
func (s Selector) Matches(a Alert) bool {
	return s.match(fields{labels: a.Labels, source: a.Source, rule: a.Rule, severity: a.Severity, endpoint: a.Endpoint})
}

// MatchesSignal reports whether the incoming (normalised) signal is selected.
func (s Selector) MatchesSignal(sig Signal) bool {
	return s.match(fields{labels: sig.Labels, source: sig.Source, rule: sig.Rule, severity: sig.Severity, endpoint: sig.Endpoint})
}

// fields is what a matcher can look at, shared by Alert and Signal.
type fields struct {
	labels                           map[string]string
	source, rule, severity, endpoint string
}

// value applies the one rule: the label if the alert has it, else the field
// the name stands for, else "".
func (f fields) value(name string) string {
	if v, ok := f.labels[name]; ok {
		return v
	}
	switch name {
	case "source":
		return f.source
	case "rule", "alertname":
		return f.rule
	case "severity":
		return f.severity
	case "endpoint", "instance":
		return f.endpoint
	}
	return ""
}

func (s Selector) match(f fields) bool {
	for _, m := range s.ms {
		v := f.value(m.name)
		var ok bool
		switch m.op {
		case "=":
			ok = v == m.value
		case "!=":
			ok = v != m.value
		case "=~":
			ok = m.re.MatchString(v)
		case "!~":
			ok = !m.re.MatchString(v)
		}
		if !ok {
			return false
		}
	}
	return true
}

// regexps caches compiled, anchored expressions by their source: silences
// are re-read every few seconds and callers may compile a Selector per
// ingest, but an expression is compiled once. It is bounded: past
// maxCachedRegexps it starts over rather than grow with every silence ever written.
var regexps = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

const maxCachedRegexps = 1024

// anchored compiles expr to match whole values only, as Alertmanager does.
func anchored(expr string) (*regexp.Regexp, error) {
	regexps.Lock()
	re, ok := regexps.m[expr]
	regexps.Unlock()
	if ok {
		return re, nil
	}
	re, err := regexp.Compile("^(?:" + expr + ")$")
	if err != nil {
		return nil, err
	}
	regexps.Lock()
	if len(regexps.m) >= maxCachedRegexps {
		clear(regexps.m)
	}
	regexps.m[expr] = re
	regexps.Unlock()
	return re, nil
}
