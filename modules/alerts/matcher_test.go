package alerts

import (
	"errors"
	"testing"
)

// TestSelector is the one table for how silences, maintenance windows and
// routes read a matcher; every case is checked on a Signal (ingest) and on
// the Alert stored from it (routing), which must agree.
func TestSelector(t *testing.T) {
	// An Alertmanager alert as the webhook maps it: raw labels kept,
	// severity mapped from "page", endpoint from instance.
	am := Signal{Source: "alertmanager", Rule: "HighLoad", Severity: SeverityCritical, Endpoint: "web1",
		Labels: map[string]string{"alertname": "HighLoad", "severity": "page", "instance": "web1", "job": "node"}}
	// A native alert: no labels for its fields.
	native := Signal{Source: "nagios", Rule: "disk_full", Severity: SeverityCritical, Endpoint: "web1",
		Labels: map[string]string{"host": "web1", "mount": "/"}}
	utf8Names := Signal{Source: "alertmanager", Rule: "PodDown", Severity: SeverityWarning,
		Labels: map[string]string{"k8s:ns": "prod", "région": "île-de-france"}}

	m := func(name, op, value string) Matcher { return Matcher{Name: name, Op: op, Value: value} }
	cases := []struct {
		name string
		sig  Signal
		ms   []Matcher
		want bool
	}{
		{"AM severity=page matches the raw label", am, []Matcher{m("severity", "=", "page")}, true},
		{"AM severity=critical does not: the raw label wins over the mapped one", am, []Matcher{m("severity", "=", "critical")}, false},
		{"native severity=critical matches the mapped field", native, []Matcher{m("severity", "=", "critical")}, true},
		{"AM endpoint=web1 stands for the endpoint (from instance)", am, []Matcher{m("endpoint", "=", "web1")}, true},
		{"AM instance=web1 matches the raw label", am, []Matcher{m("instance", "=", "web1")}, true},
		{"native endpoint=web1 matches the field", native, []Matcher{m("endpoint", "=", "web1")}, true},
		{"native instance=web1 stands for the endpoint", native, []Matcher{m("instance", "=", "web1")}, true},
		{"instance=web2 does not", native, []Matcher{m("instance", "=", "web2")}, false},
		{"alertname is the rule without the label", native, []Matcher{m("alertname", "=", "disk_full")}, true},
		{"rule is the rule", am, []Matcher{m("rule", "=", "HighLoad")}, true},
		{"source is the source", native, []Matcher{m("source", "=", "nagios")}, true},
		{"regexp is anchored: a substring does not match", native, []Matcher{m("host", "=~", "eb")}, false},
		{"regexp is anchored: a prefix does not match", native, []Matcher{m("host", "=~", "web")}, false},
		{"regexp matching the whole value", native, []Matcher{m("host", "=~", "web[0-9]+")}, true},
		{"regexp alternation is anchored as a whole", native, []Matcher{m("host", "=~", "db1|web")}, false},
		{"negative regexp", native, []Matcher{m("host", "!~", "db.*")}, true},
		{"negative regexp that matches", native, []Matcher{m("host", "!~", "web.*")}, false},
		{"!= a different value", native, []Matcher{m("host", "!=", "db1")}, true},
		{"!= the same value", native, []Matcher{m("host", "!=", "web1")}, false},
		{"missing label = a value", native, []Matcher{m("env", "=", "prod")}, false},
		{"missing label != a value", native, []Matcher{m("env", "!=", "prod")}, true},
		{"missing label = empty", native, []Matcher{m("env", "=", "")}, true},
		{"missing label =~ .+", native, []Matcher{m("env", "=~", ".+")}, false},
		{"UTF-8 label names", utf8Names, []Matcher{m("k8s:ns", "=", "prod"), m("région", "=~", "île-.*")}, true},
		{"every matcher must hold", am, []Matcher{m("severity", "=", "page"), m("job", "=", "mysql")}, false},
		{"no matchers select everything", native, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sel, err := CompileSelector(tc.ms)
			if err != nil {
				t.Fatal(err)
			}
			if got := sel.MatchesSignal(tc.sig); got != tc.want {
				t.Errorf("MatchesSignal = %v, want %v", got, tc.want)
			}
			a := Alert{Source: tc.sig.Source, Rule: tc.sig.Rule, Severity: tc.sig.Severity, Endpoint: tc.sig.Endpoint, Labels: tc.sig.Labels}
			if got := sel.Matches(a); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestEqualSelector(t *testing.T) {
	am := Alert{Source: "alertmanager", Rule: "HighLoad", Severity: SeverityCritical, Endpoint: "web1",
		Labels: map[string]string{"severity": "page", "instance": "web1"}}
	cases := []struct {
		name   string
		labels map[string]string
		want   bool
	}{
		{"no labels cover everything", nil, true},
		{"raw severity label", map[string]string{"severity": "page"}, true},
		{"mapped severity is shadowed by the label", map[string]string{"severity": "critical"}, false},
		{"endpoint stands for instance", map[string]string{"endpoint": "web1"}, true},
		{"all must hold", map[string]string{"endpoint": "web1", "team": "ops"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := EqualSelector(tc.labels).Matches(am); got != tc.want {
				t.Fatalf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCompileSelectorRefuses(t *testing.T) {
	cases := []struct {
		name string
		m    Matcher
	}{
		{"unknown operator", Matcher{Name: "host", Op: "~", Value: "x"}},
		{"regexp that does not compile", Matcher{Name: "host", Op: "=~", Value: "("}},
		{"empty name", Matcher{Name: "", Op: "=", Value: "x"}},
		{"NUL in the name", Matcher{Name: "ho\x00st", Op: "=", Value: "x"}},
		{"name not UTF-8", Matcher{Name: "h\xffst", Op: "=", Value: "x"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := CompileSelector([]Matcher{tc.m}); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

// TestRegexpCompiledOnce: a silence's expression is compiled on its first
// use, not on every ingest.
func TestRegexpCompiledOnce(t *testing.T) {
	a, err := anchored("web[0-9]+-once")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := anchored("web[0-9]+-once")
	if a != b {
		t.Fatal("the same expression was compiled twice")
	}
	sel, _ := CompileSelector([]Matcher{{Name: "host", Op: "=~", Value: "web[0-9]+-once"}})
	sig := Signal{Labels: map[string]string{"host": "web1-once"}}
	if n := testing.AllocsPerRun(100, func() { sel.MatchesSignal(sig) }); n != 0 {
		t.Fatalf("matching a compiled selector allocates %v times", n)
	}
}
