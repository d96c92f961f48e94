package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"switchboard/modules/policies"
)

// TestStaffAPISilencesAndSLA: a client's silences (list, create, expire,
// delete) and its monthly SLA report (JSON and CSV) on the staff API.
func TestStaffAPISilencesAndSLA(t *testing.T) {
	f := newAPIFixture(t, "apimore")
	ctx := context.Background()
	alpha := f.e.tenants.Scope(f.alpha)
	if err := f.e.policies.SetTenantItem(ctx, alpha, policies.Item{Key: "sla-api", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}); err != nil {
		t.Fatal(err)
	}
	a, b := "/api/v1/clients/"+f.alpha.Slug, "/api/v1/clients/"+f.beta.Slug
	silences := func() int {
		t.Helper()
		list, err := f.e.alerts.Silences(ctx, alpha, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	idOf := func(dst *string) func(*testing.T, string, http.Header) {
		return func(t *testing.T, body string, _ http.Header) {
			var s struct{ ID int64 }
			if err := json.Unmarshal([]byte(body), &s); err != nil || s.ID == 0 {
				t.Fatalf("no silence id in %s", body)
			}
			*dst = strconv.FormatInt(s.ID, 10)
		}
	}
	later := time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)
	var active, upcoming string
	f.run(t, []apiScenario{
		{name: "no silences yet", token: "tech", method: "GET", path: a + "/silences", status: 200, contains: []string{`"items":[]`}},
		{name: "bad matcher op", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"~~","value":"x"}],"duration":"1h"}`, status: 400, contains: []string{"operator"}},
		{name: "bad regex", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=~","value":"("}],"duration":"1h"}`, status: 400},
		{name: "no matchers", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[],"duration":"1h"}`, status: 400, contains: []string{"matchers"}},
		{name: "no end", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}]}`, status: 400, contains: []string{"needs ends_at or duration"}},
		{name: "end and duration", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"duration":"1h","ends_at":"` + later + `"}`, status: 400},
		{name: "bad duration", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"duration":"forever"}`, status: 400},
		{name: "ended in the past", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"ends_at":"2020-01-01T00:00:00Z"}`, status: 400},
		{name: "matchers as text", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":"host=web1","duration":"1h"}`, status: 400},
		{name: "silence without write scope", token: "owner-read", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"duration":"1h"}`, status: 403},
		{name: "other client's silences", token: "tech", method: "GET", path: b + "/silences", status: 404},
		{name: "silence other client", token: "tech", method: "POST", path: b + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"duration":"1h"}`, status: 404},
	})
	if n := silences(); n != 0 {
		t.Fatalf("refused requests wrote %d silences", n)
	}
	f.run(t, []apiScenario{
		{name: "create active", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"rule","op":"=~","value":"disk.*"}],"duration":"2h","comment":"disk swap"}`,
			status: 201, contains: []string{`"state":"active"`, `"comment":"disk swap"`, f.tech.Email}, after: idOf(&active)},
		{name: "create upcoming", token: "tech", method: "POST", path: a + "/silences", body: `{"matchers":[{"name":"host","op":"=","value":"web1"}],"starts_at":"` + later + `","duration":"1h"}`,
			status: 201, contains: []string{`"state":"upcoming"`}, after: idOf(&upcoming)},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "list", token: "tech", method: "GET", path: a + "/silences", status: 200, contains: []string{`"state":"active"`, `"state":"upcoming"`, `"op":"=~"`}},
		{name: "read-only token lists", token: "owner-read", method: "GET", path: a + "/silences", status: 200, contains: []string{"disk swap"}},
		{name: "expire without scope", token: "owner-read", method: "POST", path: a + "/silences/" + active + "/expire", status: 403},
		{name: "expire upcoming conflicts", token: "tech", method: "POST", path: a + "/silences/" + upcoming + "/expire", status: 409},
		{name: "expire", token: "tech", method: "POST", path: a + "/silences/" + active + "/expire", status: 200, contains: []string{`"state":"expired"`}},
		{name: "expire twice is harmless", token: "tech", method: "POST", path: a + "/silences/" + active + "/expire", status: 200, contains: []string{`"state":"expired"`}},
		{name: "expire missing", token: "tech", method: "POST", path: a + "/silences/999999/expire", status: 404},
		{name: "expire non-numeric", token: "tech", method: "POST", path: a + "/silences/abc/expire", status: 404},
		{name: "delete other client's", token: "tech", method: "DELETE", path: b + "/silences/" + upcoming, status: 404},
		{name: "delete", token: "tech", method: "DELETE", path: a + "/silences/" + upcoming, status: 204},
		{name: "delete again", token: "tech", method: "DELETE", path: a + "/silences/" + upcoming, status: 404, contains: []string{"No such silence"}},
		{name: "list after", token: "tech", method: "GET", path: a + "/silences", status: 200, contains: []string{`"state":"expired"`}, lacks: []string{`"state":"upcoming"`}},
	})

	month := time.Now().UTC().Format("2006-01")
	f.run(t, []apiScenario{
		{name: "sla json", token: "tech", method: "GET", path: a + "/sla", status: 200,
			contains: []string{`"month":"` + month + `"`, `"current":true`, `"alerts":3`, "disk full", `"outcome":"open"`}},
		{name: "sla json of a month", token: "owner-read", method: "GET", path: a + "/sla?month=2020-02", status: 200, contains: []string{`"month":"2020-02"`, `"alerts":0`, `"rows":[]`}},
		{name: "sla csv by format", token: "tech", method: "GET", path: a + "/sla?format=csv&month=" + month, status: 200, contains: []string{"alert_id,opened_at", "cpu hot"},
			after: func(t *testing.T, body string, hdr http.Header) {
				if !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || strings.Count(body, "\n") != 4 {
					t.Errorf("csv: %q\n%s", hdr.Get("Content-Type"), body)
				}
			}},
		{name: "sla csv by Accept", token: "tech", method: "GET", path: a + "/sla", headers: map[string]string{"Accept": "text/csv"}, status: 200, contains: []string{"backup failed"}},
		{name: "sla bad month", token: "tech", method: "GET", path: a + "/sla?month=2026-13", status: 400, contains: []string{"look like 2026-11"}},
		{name: "sla bad format", token: "tech", method: "GET", path: a + "/sla?format=pdf", status: 400},
		{name: "sla other client", token: "tech", method: "GET", path: b + "/sla", status: 404},
		{name: "sla outside the token's clients", token: "owner-beta", method: "GET", path: a + "/sla", status: 404},
	})
}
