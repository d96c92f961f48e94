package main

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"switchboard/modules/audit"
	"switchboard/modules/policies"
)

// policyItemOf finds key in a ClientPolicy body.
func policyItemOf(t *testing.T, body, key string) map[string]any {
	t.Helper()
	var p struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatal(err)
	}
	for _, it := range p.Items {
		if it["key"] == key {
			return it
		}
	}
	t.Fatalf("policy has no item %s\n%s", key, body)
	return nil
}

// TestStaffAPIPolicies: baselines and a client's policy over the API, with
// ETag/If-Match, the console's permissions and the policy rules' reasons.
func TestStaffAPIPolicies(t *testing.T) {
	f := newAPIFixture(t, "apipol")
	ctx := context.Background()
	t.Cleanup(func() {
		_ = f.e.policies.ClearOverride(ctx, f.e.tenants.Scope(f.alpha), "apipol-cpu")
		for _, k := range []string{"apipol-cpu", "apipol-locked"} {
			_ = f.e.policies.DeleteGlobal(ctx, k)
		}
	})
	a, b := "/api/v1/clients/"+f.alpha.Slug+"/policy", "/api/v1/clients/"+f.beta.Slug+"/policy"
	const cpu = "/api/v1/policies/apipol-cpu"
	const body = `{"kind":"threshold","enabled":false,"threshold":{"metric":"cpu_percent","operator":">","value":85,"for":"10m","severity":"warning"}}`
	create := map[string]string{"If-None-Match": "*"}
	// etagOf reads path with the owner's token and returns its ETag.
	etagOf := func(path string) string {
		t.Helper()
		status, body, hdr := f.api.call(f.tokens["owner"], "GET", path, "", nil)
		if status != http.StatusOK || hdr.Get("ETag") == "" {
			t.Fatalf("GET %s: %d, ETag %q\n%s", path, status, hdr.Get("ETag"), body)
		}
		return hdr.Get("ETag")
	}
	match := func(tag string) map[string]string { return map[string]string{"If-Match": tag} }
	f.run(t, []apiScenario{
		{name: "list baselines", token: "owner", method: "GET", path: "/api/v1/policies", status: 200,
			contains: []string{`"key":"cpu-high"`, `"key":"sla-default"`, `"for":"5m0s"`, `"overridden_by":`, `"summary":"`}},
		{name: "list paged", token: "owner", method: "GET", path: "/api/v1/policies?limit=1", status: 200, contains: []string{`"next"`}, lacks: []string{"sla-default"}},
		{name: "list bad limit", token: "owner", method: "GET", path: "/api/v1/policies?limit=0", status: 400},
		{name: "list bad cursor", token: "owner", method: "GET", path: "/api/v1/policies?cursor=xyz", status: 400},
		{name: "read baseline", token: "owner", method: "GET", path: "/api/v1/policies/disk-full", status: 200, contains: []string{`"operator":"\u003e="`, `"locked":false`}},
		{name: "unknown baseline", token: "owner", method: "GET", path: "/api/v1/policies/no-such", status: 404},
		{name: "token without policies scope", token: "owner-read", method: "GET", path: "/api/v1/policies", status: 403, contains: []string{"policies:read"}},
		{name: "technician may not read baselines", token: "tech", method: "GET", path: "/api/v1/policies", status: 403},
		{name: "technician may not change baselines", token: "tech", method: "PUT", path: cpu, body: body, headers: create, status: 403},
		{name: "create without precondition", token: "owner", method: "PUT", path: cpu, body: body, status: 428, contains: []string{"If-None-Match: *"}},
		{name: "negative for", token: "owner", method: "PUT", path: cpu, headers: create, status: 422, contains: []string{"For must be between 0 and 7 days"},
			body: `{"kind":"threshold","enabled":true,"threshold":{"metric":"cpu_percent","operator":">","value":85,"for":"-5m","severity":"warning"}}`},
		{name: "unknown metric", token: "owner", method: "PUT", path: cpu, headers: create, status: 422, contains: []string{"Metric must be"},
			body: `{"kind":"threshold","enabled":true,"threshold":{"metric":"fan_rpm","operator":">","value":85,"severity":"warning"}}`},
		{name: "bad duration", token: "owner", method: "PUT", path: cpu, headers: create, status: 422, contains: []string{"The threshold's for must be a duration"},
			body: `{"kind":"threshold","enabled":true,"threshold":{"metric":"cpu_percent","operator":">","value":85,"for":"soon","severity":"warning"}}`},
		{name: "two bodies", token: "owner", method: "PUT", path: cpu, headers: create, status: 422, contains: []string{"exactly one body"},
			body: `{"kind":"threshold","enabled":true,"threshold":{"metric":"cpu_percent","operator":">","value":85,"severity":"warning"},"agent":{"check_in_interval":"1m","offline_after_missed":3}}`},
		{name: "wrong type", token: "owner", method: "PUT", path: cpu, headers: create, status: 400,
			body: `{"kind":"threshold","enabled":true,"threshold":{"metric":"cpu_percent","operator":">","value":"high","severity":"warning"}}`},
		{name: "unknown field", token: "owner", method: "PUT", path: cpu, headers: create, status: 400, body: `{"kind":"threshold","enabled":true,"treshold":{}}`},
		{name: "enabled missing", token: "owner", method: "PUT", path: cpu, headers: create, status: 422, body: `{"kind":"threshold"}`},
		{name: "bad key", token: "owner", method: "PUT", path: "/api/v1/policies/Bad_Key", headers: create, status: 422, body: body, contains: []string{"must be 1-63 characters"}},
		{name: "create", token: "owner", method: "PUT", path: cpu, body: body, headers: create, status: 201, contains: []string{`"for":"10m0s"`, `"enabled":false`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Location") != cpu || hdr.Get("ETag") == "" {
					t.Errorf("create headers: %v", hdr)
				}
			}},
		{name: "create again", token: "owner", method: "PUT", path: cpu, body: body, headers: create, status: 412, contains: []string{"exists already"}},
		{name: "create locked", token: "owner", method: "PUT", path: "/api/v1/policies/apipol-locked", headers: create, status: 201, contains: []string{`"locked":true`},
			body: `{"kind":"threshold","enabled":false,"locked":true,"threshold":{"metric":"disk_percent","operator":">","value":99,"severity":"critical"}}`},
		{name: "technician cannot see beta's policy", token: "tech", method: "GET", path: b, status: 404},
		{name: "technician sees alpha's policy", token: "tech", method: "GET", path: a, status: 200,
			contains: []string{`"key":"apipol-cpu"`, `"origin":"locked"`, `"origin":"global"`}},
		{name: "technician may not override", token: "tech", method: "PUT", path: a + "/apipol-cpu/override", body: `{}`, headers: match("*"), status: 403},
	})
	if t.Failed() {
		return
	}

	// Replace with If-Match: 428 without, 412 when stale, a new ETag after.
	tag1 := etagOf(cpu)
	if again := etagOf(cpu); again != tag1 {
		t.Fatalf("ETag not stable across reads: %s, %s", tag1, again)
	}
	policy1 := etagOf(a)
	replaced := `{"kind":"threshold","enabled":false,"threshold":{"metric":"cpu_percent","operator":">","value":80,"for":"10m","severity":"warning"}}`
	var tag2 string
	f.run(t, []apiScenario{
		{name: "replace without If-Match", token: "owner", method: "PUT", path: cpu, body: replaced, status: 428},
		{name: "replace stale", token: "owner", method: "PUT", path: cpu, body: replaced, headers: match(`"stale"`), status: 412},
		{name: "kind cannot change", token: "owner", method: "PUT", path: cpu, headers: match(tag1), status: 409,
			body: `{"kind":"routing","enabled":true,"routing":{"min_severity":"warning","channels":["x"]}}`},
		{name: "replace", token: "owner", method: "PUT", path: cpu, body: replaced, headers: match(tag1), status: 200, contains: []string{`"value":80`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if tag2 = hdr.Get("ETag"); tag2 == "" || tag2 == tag1 {
					t.Errorf("ETag after replace %q, before %q", tag2, tag1)
				}
			}},
		{name: "old ETag is stale", token: "owner", method: "PUT", path: cpu, body: replaced, headers: match(tag1), status: 412},
	})
	if t.Failed() {
		return
	}
	if got := etagOf(cpu); got != tag2 {
		t.Errorf("GET after replace: ETag %s, the PUT said %s", got, tag2)
	}

	// Overrides: a baseline change made the client's policy stale too.
	policy2 := etagOf(a)
	if policy2 == policy1 {
		t.Error("the client's policy ETag did not change with its baseline")
	}
	var policy3 string
	f.run(t, []apiScenario{
		{name: "override without If-Match", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"enabled":true}`, status: 428},
		{name: "override stale", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"enabled":true}`, headers: match(policy1), status: 412},
		{name: "override locked", token: "owner", method: "PUT", path: a + "/apipol-locked/override", body: `{"enabled":true}`, headers: match(policy2), status: 409, contains: []string{"locked baseline"}},
		{name: "override negative for", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"threshold":{"for":"-1m"}}`, headers: match(policy2), status: 422, contains: []string{"For must be between 0 and 7 days"}},
		{name: "override wrong type", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"enabled":"yes"}`, headers: match(policy2), status: 400},
		{name: "override metric", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"threshold":{"metric":"memory_percent"}}`, headers: match(policy2), status: 400},
		{name: "threshold of a routing item", token: "owner", method: "PUT", path: a + "/route-oncall/override", body: `{"threshold":{"value":1}}`, headers: match(policy2), status: 422},
		{name: "override unknown", token: "owner", method: "PUT", path: a + "/no-such/override", body: `{}`, headers: match(policy2), status: 404},
		{name: "override", token: "owner", method: "PUT", path: a + "/apipol-cpu/override", body: `{"enabled":true,"threshold":{"value":70,"severity":"critical"}}`, headers: match(policy2), status: 200,
			after: func(t *testing.T, body string, hdr http.Header) {
				if policy3 = hdr.Get("ETag"); policy3 == policy2 {
					t.Error("the client's policy ETag did not change with the override")
				}
				it := policyItemOf(t, body, "apipol-cpu")
				th, _ := it["threshold"].(map[string]any)
				base, _ := it["overrides"].(map[string]any)
				baseTh, _ := base["threshold"].(map[string]any)
				if it["origin"] != policies.OriginOverridden || it["enabled"] != true || th["value"] != 70.0 || th["severity"] != "critical" || th["for"] != "10m0s" ||
					base["enabled"] != false || baseTh["value"] != 80.0 {
					t.Errorf("overridden item: %v", it)
				}
			}},
	})
	if t.Failed() {
		return
	}
	// The effective policy shows it at once, to others too; beta is untouched.
	f.run(t, []apiScenario{
		{name: "technician sees the override", token: "tech", method: "GET", path: a, status: 200,
			after: func(t *testing.T, body string, hdr http.Header) {
				if it := policyItemOf(t, body, "apipol-cpu"); it["origin"] != policies.OriginOverridden || hdr.Get("ETag") != policy3 {
					t.Errorf("after the override: %v, ETag %s want %s", it, hdr.Get("ETag"), policy3)
				}
			}},
		{name: "beta follows the baseline", token: "owner", method: "GET", path: b, status: 200,
			after: func(t *testing.T, body string, _ http.Header) {
				if it := policyItemOf(t, body, "apipol-cpu"); it["origin"] != policies.OriginGlobal || it["overrides"] != nil {
					t.Errorf("beta: %v", it)
				}
			}},
		{name: "baseline counts the override", token: "owner", method: "GET", path: cpu, status: 200, contains: []string{`"overridden_by":1`}},
		{name: "exclude on a locked baseline", token: "owner", method: "PUT", path: a + "/apipol-locked/exclusions/web1", headers: match(policy3), status: 409},
		{name: "exclude", token: "owner", method: "PUT", path: a + "/apipol-cpu/exclusions/web1", headers: match(policy3), status: 200,
			after: func(t *testing.T, body string, _ http.Header) {
				if x, _ := policyItemOf(t, body, "apipol-cpu")["excluded"].([]any); len(x) != 1 || x[0] != "web1" {
					t.Errorf("excluded: %v", x)
				}
			}},
	})
	if t.Failed() {
		return
	}
	own := `{"kind":"routing","routing":{"min_severity":"critical","channels":["pager"]}}`
	f.run(t, []apiScenario{
		{name: "own item with a baseline's key", token: "owner", method: "PUT", path: a + "/apipol-cpu", body: own, headers: match(etagOf(a)), status: 422, contains: []string{"override it instead"}},
		{name: "own threshold", token: "owner", method: "PUT", path: a + "/apipol-own", body: `{"kind":"threshold"}`, headers: match(etagOf(a)), status: 422},
		{name: "own item", token: "owner", method: "PUT", path: a + "/apipol-own", body: own, headers: match(etagOf(a)), status: 200,
			after: func(t *testing.T, body string, _ http.Header) {
				if it := policyItemOf(t, body, "apipol-own"); it["origin"] != policies.OriginTenant {
					t.Errorf("own item: %v", it)
				}
			}},
	})
	// Each write below reads the policy's ETag after the one before it.
	f.run(t, []apiScenario{{name: "include again", token: "owner", method: "DELETE", path: a + "/apipol-cpu/exclusions/web1", headers: match(etagOf(a)), status: 200}})
	f.run(t, []apiScenario{
		{name: "clear override", token: "owner", method: "DELETE", path: a + "/apipol-cpu/override", headers: match(etagOf(a)), status: 200,
			after: func(t *testing.T, body string, _ http.Header) {
				if it := policyItemOf(t, body, "apipol-cpu"); it["origin"] != policies.OriginGlobal || it["enabled"] != false {
					t.Errorf("after clearing: %v", it)
				}
			}},
	})
	f.run(t, []apiScenario{
		{name: "clear again", token: "owner", method: "DELETE", path: a + "/apipol-cpu/override", headers: match(etagOf(a)), status: 404},
		{name: "delete without If-Match", token: "owner", method: "DELETE", path: cpu, status: 428},
		{name: "delete stale", token: "owner", method: "DELETE", path: cpu, headers: match(tag1), status: 412},
		{name: "delete", token: "owner", method: "DELETE", path: cpu, headers: match(etagOf(cpu)), status: 204},
		{name: "deleted", token: "owner", method: "GET", path: cpu, status: 404},
	})

	// Audited as the console's changes are, with the token's user; the
	// refused overrides left nothing behind.
	entries, err := f.e.audit.Tenant(ctx, f.e.tenants.Scope(f.alpha), audit.Filter{Action: "policy.overridden"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != f.owner.Email || entries[0].Target != "apipol-cpu" {
		t.Errorf("override audit entries: %+v", entries)
	}
	set, err := f.e.audit.Platform(ctx, audit.Filter{Action: "policy.global_set", Text: "apipol-cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != 2 || set[0].Actor != f.owner.Email {
		t.Errorf("baseline audit entries (create, replace): %+v", set)
	}
}
