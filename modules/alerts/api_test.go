package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// apiServer serves the alert API for one tenant, as if its API key had been
// resolved by the tenancy middleware.
func apiServer(t *testing.T, f fixture, tn tenancy.Tenant) *echo.Echo {
	t.Helper()
	e := web.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, err := authz.New()
	if err != nil {
		t.Fatal(err)
	}
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.SetRequest(c.Request().WithContext(tenancy.WithTenant(c.Request().Context(), tn, tenancy.ViaAPIKey)))
			return next(c)
		}
	}, a.Middleware(authz.MiddlewareOptions{}))
	f.alerts.APIRoutes(a, e)
	return e
}

func TestAPI(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	e := apiServer(t, f, tn)
	huge := `{"source":"x","rule":"r","description":"` + strings.Repeat("a", 1100*1024) + `"}`
	cases := []struct {
		name, path, body string
		status           int
		fragment         string
	}{
		{"one alert", "/api/v1/alerts", `{"source":"zabbix","rule":"ping","severity":"critical","labels":{"host":"fw1"}}`, 202, `"action":"created"`},
		{"repeat", "/api/v1/alerts", `{"source":"zabbix","rule":"ping","severity":"critical","labels":{"host":"fw1"}}`, 202, `"action":"repeated"`},
		{"batch", "/api/v1/alerts", `{"alerts":[{"source":"a","rule":"b"},{"source":"a","rule":"c","status":"resolved"}]}`, 202, `"action":"ignored"`},
		{"empty body", "/api/v1/alerts", ``, 400, "empty"},
		{"not json", "/api/v1/alerts", `{"source":`, 400, "malformed JSON"},
		{"trailing data", "/api/v1/alerts", `{"source":"a","rule":"b"} {}`, 400, "after the document"},
		{"unknown field", "/api/v1/alerts", `{"source":"a","rule":"b","sevrity":"critical"}`, 400, "sevrity"},
		{"missing rule", "/api/v1/alerts", `{"source":"a"}`, 400, "source and rule are required"},
		{"bad item in batch", "/api/v1/alerts", `{"alerts":[{"source":"a","rule":"ok-1"},{"source":"a","rule":"b","severity":"urgent"}]}`, 400, "alerts[1]: severity"},
		{"both forms", "/api/v1/alerts", `{"source":"a","rule":"b","alerts":[{"source":"a","rule":"b"}]}`, 400, "either one alert"},
		{"oversized", "/api/v1/alerts", huge, 413, "Too Large"},
		{"alertmanager firing", "/api/v1/alerts/alertmanager", `{"version":"4","status":"firing","receiver":"sb","groupLabels":{},"alerts":[
			{"status":"firing","labels":{"alertname":"HighLoad","instance":"web2:9100","severity":"page"},"annotations":{"summary":"load 12"},"startsAt":"2026-11-27T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://p","fingerprint":"abc"}]}`, 202, `"action":"created"`},
		{"alertmanager resolved", "/api/v1/alerts/alertmanager", `{"version":"4","status":"resolved","alerts":[
			{"status":"resolved","labels":{"alertname":"HighLoad","instance":"web2:9100","severity":"page"},"annotations":{"summary":"load 12"}}]}`, 202, `"action":"resolved"`},
		{"alertmanager without alertname", "/api/v1/alerts/alertmanager", `{"version":"4","alerts":[{"status":"firing","labels":{}}]}`, 202, `"action":"created"`},
		{"NUL in a summary is the sender's to fix", "/api/v1/alerts", `{"source":"a","rule":"nul","summary":"x\u0000y"}`, 400, "NUL"},
		{"NUL in a label value is the sender's to fix", "/api/v1/alerts", `{"alerts":[{"source":"a","rule":"ok-2"},{"source":"a","rule":"nul","labels":{"k":"x\u0000y"}}]}`, 400, "NUL"},
		{"NUL in a label name is the sender's to fix", "/api/v1/alerts", `{"source":"a","rule":"nul","labels":{"k\u0000":"v"}}`, 400, "NUL"},
		{"alertmanager wrong version", "/api/v1/alerts/alertmanager", `{"version":"3","alerts":[]}`, 400, "version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.fragment) {
				t.Fatalf("status %d body %.300s; want %d containing %q", rec.Code, rec.Body.String(), tc.status, tc.fragment)
			}
		})
	}
	list, err := f.alerts.List(context.Background(), tn, Filter{Status: "all"})
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string]Alert{}
	for _, a := range list {
		rules[a.Rule] = a
	}
	if len(list) != 4 || rules["ok-1"].ID != 0 || rules["ok-2"].ID != 0 || rules[AlertmanagerUnnamedRule].ID == 0 {
		t.Fatalf("stored %d alerts %v; refused requests must store nothing", len(list), rules)
	}
	hl := rules["HighLoad"]
	if hl.Severity != SeverityCritical || hl.Endpoint != "web2:9100" || hl.Status != StatusResolved || hl.Summary != "load 12" {
		t.Fatalf("alertmanager mapping: %+v", hl)
	}
}

// amGroup is an Alertmanager webhook body (version 4) around the given
// alert objects, as Alertmanager sends it.
func amGroup(alerts ...string) string {
	return `{"version":"4","groupKey":"{}:{group=\"g\"}","status":"firing","receiver":"sb","groupLabels":{"group":"g"},` +
		`"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093","truncatedAlerts":0,"alerts":[` + strings.Join(alerts, ",") + `]}`
}

// amAlertJSON is one alert of a group with the given labels (a JSON object).
func amAlertJSON(labels string) string {
	return `{"status":"firing","labels":` + labels + `,"annotations":{"summary":"s"},"startsAt":"2026-11-27T10:00:00Z",` +
		`"endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus/graph","fingerprint":"0123456789abcdef"}`
}

// webhookAnswer is the webhook's JSON answer.
type webhookAnswer struct {
	Results []struct {
		Index   int    `json:"index"`
		AlertID int64  `json:"alert_id"`
		Action  string `json:"action"`
	} `json:"results"`
	Stored   int `json:"stored"`
	Rejected []struct {
		Index  int    `json:"index"`
		Reason string `json:"reason"`
	} `json:"rejected"`
}

// stored reads every alert of a tenant (List stops at 500).
func stored(t *testing.T, tn tenancy.Tenant) []Alert {
	t.Helper()
	var out []Alert
	if err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error { return tx.Order("id").Find(&out).Error }); err != nil {
		t.Fatal(err)
	}
	return out
}

// rejectionsAudited reads the tenant's "alert.rejected" audit entries.
func rejectionsAudited(t *testing.T, tn tenancy.Tenant) []string {
	t.Helper()
	var out []string
	err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT summary FROM audit_log WHERE action = 'alert.rejected' ORDER BY id`).Scan(&out).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestAlertmanagerWebhook: a group is never lost for one member. What can be
// stored is stored, what cannot is listed in the answer and in the client's
// audit log, and the answer is 2xx so Alertmanager does not resend forever.
func TestAlertmanagerWebhook(t *testing.T) {
	f := newFixture(t)
	big := make([]string, 600)
	for i := range big {
		big[i] = amAlertJSON(fmt.Sprintf(`{"alertname":"Big","instance":"node%d:9100","severity":"warning"}`, i))
	}
	longValue := strings.Repeat("é", 1024) // 2 KiB, two bytes a character: a cut must not split one

	cases := []struct {
		name     string
		body     string
		stored   int
		rejected map[int]string // index → a fragment of the reason
		check    func(t *testing.T, list []Alert)
	}{
		{name: "600-alert group stored whole", body: amGroup(big...), stored: 600, check: func(t *testing.T, list []Alert) {
			endpoints := map[string]bool{}
			for _, a := range list {
				endpoints[a.Endpoint] = true
			}
			if len(endpoints) != 600 || !endpoints["node0:9100"] || !endpoints["node599:9100"] {
				t.Fatalf("%d distinct endpoints, want node0…node599", len(endpoints))
			}
		}},
		{name: "bad member (NUL byte) rejected, the rest stored", body: amGroup(
			amAlertJSON(`{"alertname":"Disk","instance":"a"}`),
			amAlertJSON(`{"alertname":"Disk","instance":"b","detail":"x\u0000y"}`),
			amAlertJSON(`{"alertname":"Disk","instance":"c"}`)),
			stored: 2, rejected: map[int]string{1: `label "detail": value holds a NUL byte`}, check: func(t *testing.T, list []Alert) {
				if list[0].Endpoint != "a" || list[1].Endpoint != "c" {
					t.Fatalf("stored %+v, want a and c", list)
				}
			}},
		{name: "k8s:ns and région label names accepted", body: amGroup(amAlertJSON(`{"alertname":"PodDown","k8s:ns":"prod","région":"île-de-france"}`)),
			stored: 1, check: func(t *testing.T, list []Alert) {
				if l := list[0].Labels; l["k8s:ns"] != "prod" || l["région"] != "île-de-france" {
					t.Fatalf("labels %v", l)
				}
			}},
		{name: "2 KiB label value truncated with a marker", body: amGroup(amAlertJSON(`{"alertname":"Long","detail":"` + longValue + `"}`)),
			stored: 1, check: func(t *testing.T, list []Alert) {
				v := list[0].Labels["detail"]
				if len(v) > maxLabelValue || !strings.HasSuffix(v, "…[truncated]") || !utf8.ValidString(v) || !strings.HasPrefix(v, "éééé") {
					t.Fatalf("stored value of %d bytes ending %q", len(v), v[max(len(v)-20, 0):])
				}
			}},
		{name: "missing alertname stored under the defined rule", body: amGroup(amAlertJSON(`{"instance":"web1","job":"node"}`)),
			stored: 1, check: func(t *testing.T, list []Alert) {
				if list[0].Rule != AlertmanagerUnnamedRule || list[0].Endpoint != "web1" {
					t.Fatalf("stored %+v", list[0])
				}
			}},
		{name: "invalid UTF-8 member rejected, the rest stored", body: amGroup(
			amAlertJSON(`{"alertname":"Cpu","instance":"a"}`),
			amAlertJSON("{\"alertname\":\"Cpu\",\"instance\":\"b\xff\"}")),
			stored: 1, rejected: map[int]string{1: "not valid UTF-8"}},
		{name: "a member that is not an alert rejected alone", body: amGroup(amAlertJSON(`{"alertname":"Mem"}`), `{"labels":{"n":1}}`, `null`),
			stored: 1, rejected: map[int]string{1: "malformed alert", 2: "null"}},
		{name: "a group with only bad members is still answered 2xx", body: amGroup(amAlertJSON(`{"alertname":"x\u0000"}`)),
			stored: 0, rejected: map[int]string{0: "NUL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn := f.tenant(t)
			e := apiServer(t, f, tn)
			req := httptest.NewRequest(http.MethodPost, "/api/v1/alerts/alertmanager", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			var ans webhookAnswer
			if rec.Code != http.StatusAccepted || json.Unmarshal(rec.Body.Bytes(), &ans) != nil {
				t.Fatalf("status %d body %.300s; want 202 with JSON", rec.Code, rec.Body.String())
			}
			if ans.Stored != tc.stored || len(ans.Results) != tc.stored || len(ans.Rejected) != len(tc.rejected) {
				t.Fatalf("stored %d (%d results), rejected %+v; want %d stored, rejected %v", ans.Stored, len(ans.Results), ans.Rejected, tc.stored, tc.rejected)
			}
			for _, r := range ans.Rejected {
				if frag, ok := tc.rejected[r.Index]; !ok || !strings.Contains(r.Reason, frag) {
					t.Errorf("rejected [%d] %q; want one of %v", r.Index, r.Reason, tc.rejected)
				}
			}
			list := stored(t, tn)
			if len(list) != tc.stored {
				t.Fatalf("%d alerts in the database, want %d", len(list), tc.stored)
			}
			audited := rejectionsAudited(t, tn)
			switch {
			case len(tc.rejected) == 0 && len(audited) != 0:
				t.Fatalf("nothing was rejected, yet the audit log says %q", audited)
			case len(tc.rejected) > 0 && (len(audited) != 1 || !strings.Contains(audited[0], fmt.Sprintf("%d of ", len(tc.rejected)))):
				t.Fatalf("audit log %q; want one entry counting %d rejected", audited, len(tc.rejected))
			}
			if tc.check != nil {
				tc.check(t, list)
			}
		})
	}
}

// TestNormalizeRefusesUnstorableText: text PostgreSQL cannot hold is the
// sender's error (ErrInvalid, so 400), never a failed insert (500), whoever
// calls Ingest.
func TestNormalizeRefusesUnstorableText(t *testing.T) {
	ok := Signal{Source: "s", Rule: "r", Labels: map[string]string{"k": "v"}}
	cases := []struct {
		name   string
		change func(s *Signal)
		want   string
	}{
		{"NUL in the source", func(s *Signal) { s.Source = "s\x00" }, "source holds a NUL byte"},
		{"NUL in the summary", func(s *Signal) { s.Summary = "a\x00b" }, "summary holds a NUL byte"},
		{"invalid UTF-8 in the description", func(s *Signal) { s.Description = "a\xffb" }, "description is not valid UTF-8"},
		{"NUL in the endpoint", func(s *Signal) { s.Endpoint = "web\x001" }, "endpoint holds a NUL byte"},
		{"NUL in a label value", func(s *Signal) { s.Labels = map[string]string{"k": "v\x00"} }, `label "k": value holds a NUL byte`},
		{"invalid UTF-8 in a label value", func(s *Signal) { s.Labels = map[string]string{"k": "\xc3"} }, `label "k": value is not valid UTF-8`},
		{"NUL in a label name", func(s *Signal) { s.Labels = map[string]string{"k\x00": "v"} }, "label name"},
		{"empty label name", func(s *Signal) { s.Labels = map[string]string{"": "v"} }, "label name"},
		{"overlong label name", func(s *Signal) { s.Labels = map[string]string{strings.Repeat("n", maxLabelName+1): "v"} }, "label name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := ok
			tc.change(&s)
			err := s.normalize(-1)
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, fault.Invalid) || !strings.Contains(fault.Message(err), tc.want) {
				t.Fatalf("got %v; want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
	utf8Names := Signal{Source: "s", Rule: "r", Labels: map[string]string{"k8s:ns": "prod", "région": "eu", "with space": "ok"}}
	if err := utf8Names.normalize(-1); err != nil {
		t.Fatalf("Prometheus 3 label names: %v", err)
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		name, in string
		bytes    bool
		n        int
		want     string
	}{
		{"fits in bytes", "abc", true, 3, "abc"},
		{"cut in bytes", strings.Repeat("a", 40), true, 20, "aaaaaa…[truncated]"},
		{"never splits a character", strings.Repeat("é", 20), true, 21, "ééé…[truncated]"},
		{"fits in characters", "ééé", false, 3, "ééé"},
		{"cut in characters", strings.Repeat("é", 30), false, 20, "éééééééé…[truncated]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := truncateRunes(tc.in, tc.n)
			if tc.bytes {
				got = truncateBytes(tc.in, tc.n)
			}
			if got != tc.want || !utf8.ValidString(got) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
