package metrics

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// rulesFile is the example alert-rules file shipped for operators.
const rulesFile = "../../config/prometheus-rules.example.yml"

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// promQLWords are the functions, aggregations and keywords the rules may use.
var promQLWords = map[string]bool{
	"sum": true, "max": true, "min": true, "avg": true, "count": true, "by": true, "without": true,
	"rate": true, "increase": true, "irate": true, "histogram_quantile": true, "le": true,
	"and": true, "or": true, "unless": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

var (
	strLiteral = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	selector   = regexp.MustCompile(`\{[^}]*\}`)
	rangeSel   = regexp.MustCompile(`\[[^\]]*\]`)
	grouping   = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	identifier = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

// exprNames are the metric names an expression reads (what is left once
// strings, label matchers, ranges, groupings and PromQL's own words are
// taken out).
func exprNames(expr string) []string {
	e := strLiteral.ReplaceAllString(expr, `""`)
	e = selector.ReplaceAllString(e, " ")
	e = rangeSel.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	var out []string
	for _, id := range identifier.FindAllString(e, -1) {
		if !promQLWords[id] {
			out = append(out, id)
		}
	}
	return out
}

// exported scrapes a Metrics that has seen one of everything and returns
// the series names its exposition holds (a histogram's _bucket, _sum and
// _count).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	c := dbtest.Open(t, 4)
	dbtest.NewTenant(t, c)
	kind := "metrics_rules_test"
	if err := c.ControlDB().Exec(`INSERT INTO control.river_job (kind, queue, max_attempts, args) VALUES (?, 'metrics_test', 1, '{}')`, kind).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ControlDB().Exec(`DELETE FROM control.river_job WHERE kind = ?`, kind) })
	m := New(Options{Cluster: c, TargetVersion: db.Tenant().Latest(), TopClients: 1, Logger: quiet})
	m.Ingested("acme", "created", 1)
	m.CheckedIn(nil)
	m.Delivery("email", Delivered)
	e := echo.New()
	e.Use(m.Middleware(Console))
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(context.Background()))

	names := map[string]bool{}
	for name, f := range gather(t, m) {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[name+s] = true
			}
			continue
		}
		names[name] = true
	}
	return names
}

// The example rules file is well formed, and every rule reads only
// families this package exports (a renamed metric fails here, not silently
// in someone's Prometheus).
func TestRulesFile(t *testing.T) {
	raw, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(raw)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	names := exported(t)
	seen := map[string]bool{}
	var read []string
	for _, g := range rf.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a group needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			if r.Alert == "" || seen[r.Alert] {
				t.Errorf("rule %q: a missing or repeated alert name", r.Alert)
			}
			seen[r.Alert] = true
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for %q: %v", r.Alert, r.For, err)
				}
			}
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				t.Errorf("%s: severity %q, want critical, warning or info", r.Alert, r.Labels["severity"])
			}
			if r.Annotations["summary"] == "" {
				t.Errorf("%s: no summary", r.Alert)
			}
			if strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") || strings.Count(r.Expr, "{") != strings.Count(r.Expr, "}") {
				t.Errorf("%s: unbalanced brackets in %q", r.Alert, r.Expr)
			}
			got := exprNames(r.Expr)
			if len(got) == 0 {
				t.Errorf("%s: reads no metric: %q", r.Alert, r.Expr)
			}
			for _, n := range got {
				if !names[n] {
					t.Errorf("%s: %q is not a metric Switchboard exports", r.Alert, n)
				}
				read = append(read, n)
			}
		}
	}
	// The operating concerns the file exists for each have a rule.
	for _, want := range []string{"switchboard_job_queue_depth", "switchboard_job_oldest_age_seconds",
		"switchboard_notification_deliveries_total", "switchboard_http_request_duration_seconds_count",
		"switchboard_http_request_duration_seconds_bucket", "switchboard_db_pool_acquired_connections",
		"switchboard_tenants_behind_migrations"} {
		found := false
		for _, n := range read {
			found = found || n == want
		}
		if !found {
			t.Errorf("no rule reads %s", want)
		}
	}
	// And the check itself sees what it must.
	if got := exprNames(`sum by (kind) (rate(switchboard_x{state="a b"}[5m])) / on(kind) switchboard_y > 0.2`); strings.Join(got, ",") != "switchboard_x,switchboard_y" {
		t.Errorf("exprNames: %v", got)
	}
}
