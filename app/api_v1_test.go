package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
)

// apiClientT calls the staff API and validates every response against the
// OpenAPI document the server serves.
type apiClientT struct {
	t   *testing.T
	ts  *httptest.Server
	doc *openapi3.T
	ops []docOp
}

type docOp struct {
	re     *regexp.Regexp
	path   string
	method string
	item   *openapi3.PathItem
	op     *openapi3.Operation
}

func newAPIClient(t *testing.T, ts *httptest.Server) *apiClientT {
	t.Helper()
	resp, err := http.Get(ts.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d %s", resp.StatusCode, raw)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the served document is not valid OpenAPI: %v", err)
	}
	a := &apiClientT{t: t, ts: ts, doc: doc}
	for path, item := range doc.Paths.Map() {
		re := regexp.MustCompile("^" + regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(path, `[^/]+`) + "$")
		for method, op := range item.Operations() {
			a.ops = append(a.ops, docOp{re: re, path: path, method: method, item: item, op: op})
		}
	}
	return a
}

// call sends a request with token (none if "") and returns status, body and headers.
func (a *apiClientT) call(token, method, path, body string, hdr map[string]string) (int, string, http.Header) {
	a.t.Helper()
	req, _ := http.NewRequest(method, a.ts.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a.validate(req, resp, raw)
	return resp.StatusCode, string(raw), resp.Header
}

// validate checks one response against the document: its status, content
// type and body schema (problem+json for every error).
func (a *apiClientT) validate(req *http.Request, resp *http.Response, raw []byte) {
	a.t.Helper()
	p := req.URL.Path
	i := slices.IndexFunc(a.ops, func(o docOp) bool { return o.method == req.Method && o.re.MatchString(p) })
	if i < 0 {
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			a.t.Errorf("%s %s answered %d but is not in the document", req.Method, p, resp.StatusCode)
		}
		return
	}
	o := a.ops[i]
	if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
		a.t.Errorf("%s %s: error %d as %q, want application/problem+json", req.Method, p, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req,
			Route: &routers.Route{Spec: a.doc, Path: o.path, PathItem: o.item, Method: o.method, Operation: o.op}},
		Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(strings.NewReader(string(raw))),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		a.t.Errorf("%s %s: response %d does not match the document: %v\n%s", req.Method, p, resp.StatusCode, err, raw)
	}
}

// apiFixture is two clients, an owner and a technician of alpha only, and tokens.
type apiFixture struct {
	e           *env
	srv         *server
	api         *apiClientT
	alpha, beta tenants.Tenant
	owner, tech identity.StaffUser
	tokens      map[string]string // name -> secret
	alertIDs    []int64           // alpha's alerts, oldest first
}

func newAPIFixture(t *testing.T, prefix string) *apiFixture {
	t.Helper()
	ctx := context.Background()
	e, srv, ts := testServer(t)
	f := &apiFixture{e: e, srv: srv, api: newAPIClient(t, ts), tokens: map[string]string{}}
	var err error
	if f.alpha, err = e.tenants.Create(ctx, tenants.CreateInput{Slug: prefix + "-alpha", Name: "API Alpha"}); err != nil {
		t.Fatal(err)
	}
	if f.beta, err = e.tenants.Create(ctx, tenants.CreateInput{Slug: prefix + "-beta", Name: "API Beta"}); err != nil {
		t.Fatal(err)
	}
	if f.owner, _, err = e.identity.CreateStaff(ctx, identity.StaffInput{Email: prefix + "-owner@msp.example", Role: "owner"}); err != nil {
		t.Fatal(err)
	}
	if f.tech, _, err = e.identity.CreateStaff(ctx, identity.StaffInput{Email: prefix + "-tech@msp.example", Role: "technician", Scope: "list", Tenants: []string{f.alpha.Slug}}); err != nil {
		t.Fatal(err)
	}
	f.syncGrants(t)
	for _, s := range []string{"disk full", "cpu hot", "backup failed"} {
		out, err := e.alerts.Ingest(ctx, e.tenants.Scope(f.alpha), []alerts.Signal{{Source: "api", Rule: s, Summary: s, Severity: "warning"}})
		if err != nil {
			t.Fatal(err)
		}
		f.alertIDs = append(f.alertIDs, out[0].AlertID)
	}
	all := identity.TokenScopes
	for name, spec := range map[string]struct {
		user    string
		scopes  []string
		clients []string
	}{
		"owner":      {f.owner.Email, all, nil},
		"owner-read": {f.owner.Email, []string{identity.ScopeClientsRead, identity.ScopeAlertsRead}, nil},
		"owner-beta": {f.owner.Email, all, []string{f.beta.Slug}},
		"tech":       {f.tech.Email, all, nil},
	} {
		_, plain, err := e.identity.CreateToken(ctx, spec.user, identity.TokenInput{Name: name, Scopes: spec.scopes, Clients: spec.clients, Lifetime: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[name] = plain
	}
	return f
}

// syncGrants loads the staff grants into the authorizer now, as the change
// notification does a moment later: tests need not wait for it.
func (f *apiFixture) syncGrants(t *testing.T) {
	t.Helper()
	grants, err := f.e.identity.Grants(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.srv.consoleAuthz.SetGrants(grants); err != nil {
		t.Fatal(err)
	}
}

// apiScenario is one request of the API test suite and what must come back.
type apiScenario struct {
	name, token, method, path, body string
	headers                         map[string]string
	status                          int
	contains, lacks                 []string
	after                           func(t *testing.T, body string, hdr http.Header)
}

func (f *apiFixture) run(t *testing.T, scenarios []apiScenario) {
	t.Helper()
	for _, sc := range scenarios {
		status, body, hdr := f.api.call(f.tokens[sc.token], sc.method, sc.path, sc.body, sc.headers)
		if status != sc.status {
			t.Errorf("%s: %s %s = %d, want %d\n%s", sc.name, sc.method, sc.path, status, sc.status, body)
			continue
		}
		for _, s := range sc.contains {
			if !strings.Contains(body, s) {
				t.Errorf("%s: body lacks %q\n%s", sc.name, s, body)
			}
		}
		for _, s := range sc.lacks {
			if strings.Contains(body, s) {
				t.Errorf("%s: body has %q\n%s", sc.name, s, body)
			}
		}
		if sc.after != nil {
			sc.after(t, body, hdr)
		}
	}
}

func TestStaffAPI(t *testing.T) {
	f := newAPIFixture(t, "api")
	ctx := context.Background()
	a, b := "/api/v1/clients/"+f.alpha.Slug, "/api/v1/clients/"+f.beta.Slug
	alert := a + "/alerts/" + strconv.FormatInt(f.alertIDs[0], 10)
	var next string
	var etag string
	f.run(t, []apiScenario{
		{name: "document is public", method: "GET", path: "/api/v1/openapi.json", status: 200, contains: []string{`"openapi": "3.0.3"`, "/api/v1/clients/{slug}/alerts"}},
		{name: "no token", method: "GET", path: "/api/v1/clients", status: 401, contains: []string{`"status":401`, "API token is required"}},
		{name: "tenant API key is not a staff token", method: "GET", path: "/api/v1/clients", token: "none", headers: map[string]string{"Authorization": "Bearer sbk_abcdef"}, status: 401},
		{name: "owner lists all", token: "owner", method: "GET", path: "/api/v1/clients", status: 200, contains: []string{f.alpha.Slug, f.beta.Slug}},
		{name: "token client subset", token: "owner-beta", method: "GET", path: "/api/v1/clients", status: 200, contains: []string{f.beta.Slug}, lacks: []string{f.alpha.Slug}},
		{name: "tech sees only alpha", token: "tech", method: "GET", path: "/api/v1/clients", status: 200, contains: []string{f.alpha.Slug}, lacks: []string{f.beta.Slug}},
		{name: "client pagination", token: "owner", method: "GET", path: "/api/v1/clients?limit=1", status: 200, contains: []string{`"next"`}},
		{name: "bad cursor", token: "owner", method: "GET", path: "/api/v1/clients?cursor=xyz", status: 400},
		{name: "show client", token: "tech", method: "GET", path: a, status: 200, contains: []string{`"name":"API Alpha"`}, lacks: []string{"schema", "role"}},
		{name: "other client is not found", token: "tech", method: "GET", path: b, status: 404},
		{name: "unknown client", token: "owner", method: "GET", path: "/api/v1/clients/no-such-client", status: 404},
		{name: "alerts list", token: "tech", method: "GET", path: a + "/alerts", status: 200, contains: []string{"disk full", "cpu hot", "backup failed"}},
		{name: "alerts filter", token: "tech", method: "GET", path: a + "/alerts?q=cpu", status: 200, contains: []string{"cpu hot"}, lacks: []string{"disk full"}},
		{name: "alerts bad status", token: "tech", method: "GET", path: a + "/alerts?status=bogus", status: 400, contains: []string{"Unknown status"}},
		{name: "alerts bad limit", token: "tech", method: "GET", path: a + "/alerts?limit=0", status: 400},
		{name: "alerts page 1", token: "tech", method: "GET", path: a + "/alerts?limit=2", status: 200, contains: []string{"backup failed", "cpu hot", `"next"`}, lacks: []string{"disk full"},
			after: func(t *testing.T, body string, _ http.Header) {
				var p struct{ Next string }
				_ = json.Unmarshal([]byte(body), &p)
				next = p.Next
			}},
		{name: "alert outside the token's clients", token: "owner-beta", method: "GET", path: a + "/alerts", status: 404},
		{name: "alert detail", token: "tech", method: "GET", path: alert, status: 200, contains: []string{"disk full", `"events"`}},
		{name: "unknown alert", token: "tech", method: "GET", path: a + "/alerts/999999", status: 404},
		{name: "non-numeric alert", token: "tech", method: "GET", path: a + "/alerts/abc", status: 404},
		{name: "acknowledge without scope", token: "owner-read", method: "POST", path: alert + "/acknowledge", status: 403, contains: []string{"alerts:write"}},
		{name: "acknowledge", token: "tech", method: "POST", path: alert + "/acknowledge", status: 200, contains: []string{`"status":"acknowledged"`}},
		{name: "acknowledge twice", token: "tech", method: "POST", path: alert + "/acknowledge", status: 200, contains: []string{`"status":"acknowledged"`}},
		{name: "note", token: "tech", method: "POST", path: alert + "/notes", body: `{"note":"looking into it"}`, status: 201, contains: []string{"looking into it", f.tech.Email}},
		{name: "empty note", token: "tech", method: "POST", path: alert + "/notes", body: `{"note":" "}`, status: 400},
		{name: "note with NUL", token: "tech", method: "POST", path: alert + "/notes", body: `{"note":"a\u0000b"}`, status: 400},
		{name: "note not JSON", token: "tech", method: "POST", path: alert + "/notes", body: `note=x`, status: 400},
		{name: "assign to staff who see the client", token: "owner", method: "POST", path: alert + "/assign", body: `{"assignee":"` + f.tech.Email + `"}`, status: 200, contains: []string{f.tech.Email}},
		{name: "assign to someone else", token: "owner", method: "POST", path: alert + "/assign", body: `{"assignee":"stranger@example.com"}`, status: 400},
		{name: "resolve", token: "tech", method: "POST", path: alert + "/resolve", status: 200, contains: []string{`"status":"resolved"`}},
		{name: "tech may not onboard", token: "tech", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","name":"New"}`, status: 403},
		{name: "create without scope", token: "owner-read", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","name":"New"}`, status: 403},
		{name: "create bad slug", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"Bad Slug!","name":"New"}`, status: 400},
		{name: "create unknown field", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","nmae":"New"}`, status: 400},
		{name: "create", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","name":"New"}`, headers: map[string]string{"Idempotency-Key": "k1"}, status: 201, contains: []string{`"slug":"api-new"`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Location") != "/api/v1/clients/api-new" || hdr.Get("Idempotent-Replayed") != "" {
					t.Errorf("create headers: %v", hdr)
				}
			}},
		{name: "create replayed", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","name":"New"}`, headers: map[string]string{"Idempotency-Key": "k1"}, status: 201, contains: []string{`"slug":"api-new"`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Idempotent-Replayed") != "true" {
					t.Errorf("not marked as replayed: %v", hdr)
				}
			}},
		{name: "same key, other body", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-other","name":"Other"}`, headers: map[string]string{"Idempotency-Key": "k1"}, status: 422},
		{name: "create again without key conflicts", token: "owner", method: "POST", path: "/api/v1/clients", body: `{"slug":"api-new","name":"New"}`, status: 409},
		{name: "tech may not suspend", token: "tech", method: "POST", path: a + "/suspend", status: 403},
		{name: "suspend", token: "owner", method: "POST", path: b + "/suspend", status: 200, contains: []string{`"status":"suspended"`}},
		{name: "suspended client still shown", token: "owner", method: "GET", path: b, status: 200, contains: []string{`"status":"suspended"`}},
		{name: "suspend twice is harmless", token: "owner", method: "POST", path: b + "/suspend", status: 200},
		{name: "resume", token: "owner", method: "POST", path: b + "/resume", status: 200, contains: []string{`"status":"active"`}},
		{name: "settings", token: "tech", method: "GET", path: a + "/settings", status: 200, contains: []string{`"timezone"`},
			after: func(t *testing.T, _ string, hdr http.Header) { etag = hdr.Get("ETag") }},
		{name: "settings without If-Match", token: "tech", method: "PUT", path: a + "/settings", body: `{"display_name":"Alpha Co"}`, status: 428},
		{name: "settings stale If-Match", token: "tech", method: "PUT", path: a + "/settings", body: `{"display_name":"Alpha Co"}`, headers: map[string]string{"If-Match": `"stale"`}, status: 412},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "alerts page 2", token: "tech", method: "GET", path: a + "/alerts?status=all&limit=2&cursor=" + next, status: 200, contains: []string{"disk full"}, lacks: []string{"cpu hot", `"next"`}},
		{name: "settings bad zone", token: "tech", method: "PUT", path: a + "/settings", body: `{"timezone":"Mars/Olympus"}`, headers: map[string]string{"If-Match": etag}, status: 400},
		{name: "settings saved", token: "tech", method: "PUT", path: a + "/settings", body: `{"display_name":"Alpha Co"}`, headers: map[string]string{"If-Match": etag}, status: 200, contains: []string{"Alpha Co"},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("ETag") == etag || hdr.Get("ETag") == "" {
					t.Errorf("ETag not changed by the save: %q", hdr.Get("ETag"))
				}
			}},
		{name: "old ETag now stale", token: "tech", method: "PUT", path: a + "/settings", body: `{"display_name":"Alpha Again"}`, headers: map[string]string{"If-Match": etag}, status: 412},
	})
	// Side effects: one client created under the key; the note and the
	// changes are on the alert's timeline with the token's user as actor.
	if _, err := f.e.tenants.Get(ctx, "api-other"); err == nil {
		t.Error("the refused idempotent request created a client")
	}
	_, events, err := f.e.alerts.Get(ctx, f.e.tenants.Scope(f.alpha), f.alertIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range events {
		kinds = append(kinds, ev.Kind+":"+ev.Actor)
	}
	for _, want := range []string{"acknowledged:", "note:" + f.tech.Email, "assigned:" + f.owner.Email, "resolved:"} {
		if !slices.ContainsFunc(kinds, func(k string) bool { return strings.HasPrefix(k, want) }) {
			t.Errorf("timeline %v lacks %s", kinds, want)
		}
	}
}

// TestStaffAPITokenLimits: a token never grants more than its user has now.
func TestStaffAPITokenLimits(t *testing.T) {
	f := newAPIFixture(t, "apilim")
	ctx := context.Background()
	a := "/api/v1/clients/" + f.alpha.Slug + "/alerts"
	ok := func(name, token string, want int) {
		t.Helper()
		if status, body, _ := f.api.call(f.tokens[token], "GET", a, "", nil); status != want {
			t.Errorf("%s: %d, want %d\n%s", name, status, want, body)
		}
	}
	ok("before", "tech", 200)

	// The technician loses alpha: the token loses it at once.
	if _, err := f.e.identity.SetStaffGrant(ctx, identity.StaffInput{Email: f.tech.Email, Role: "technician", Scope: "list", Tenants: []string{f.beta.Slug}}); err != nil {
		t.Fatal(err)
	}
	f.syncGrants(t)
	ok("grant shrunk", "tech", 404)
	if status, body, _ := f.api.call(f.tokens["tech"], "GET", "/api/v1/clients", "", nil); status != 200 || strings.Contains(body, f.alpha.Slug) {
		t.Errorf("list after the grant shrank: %d %s", status, body)
	}

	// Disabled user: 401 for every token of theirs. Another owner first:
	// the last active owner cannot be disabled.
	if _, _, err := f.e.identity.CreateStaff(ctx, identity.StaffInput{Email: "apilim-owner2@msp.example", Role: "owner"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.e.identity.SetStaffDisabled(ctx, f.owner.Email, true); err == nil {
		ok("owner disabled", "owner", 401)
	} else {
		t.Fatal(err)
	}
	if _, err := f.e.identity.SetStaffDisabled(ctx, f.owner.Email, false); err != nil {
		t.Fatal(err)
	}
	// The change notices reload the grants in the background, and a reload
	// of the disabled state may land after ours: the last notice's reload
	// restores them, so wait for that (bounded), not for a fixed time.
	f.syncGrants(t)
	waitUntil(t, time.Now().Add(10*time.Second), "owner enabled again", func() (bool, string) {
		status, body, _ := f.api.call(f.tokens["owner"], "GET", a, "", nil)
		return status == 200, strconv.Itoa(status) + " " + body
	})

	// Expired and revoked: 401.
	list, err := f.e.identity.ListTokens(ctx, f.owner.Email)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for _, tk := range list {
		ids[tk.Name] = tk.ID
	}
	if err := f.e.cluster.ControlDB().Exec(`UPDATE control.staff_api_tokens SET expires_at = now() - interval '1 second' WHERE id = ?`, ids["owner-read"]).Error; err != nil {
		t.Fatal(err)
	}
	ok("expired", "owner-read", 401)
	if err := f.e.identity.RevokeToken(ctx, f.owner.Email, ids["owner"]); err != nil {
		t.Fatal(err)
	}
	ok("revoked", "owner", 401)
}

// apiScopeRow is one request per staff API route and the scope it needs.
type apiScopeRow struct{ method, route, path, body, scope string }

// TestStaffAPIScopeMatrix: every API route has a row; a token without the
// row's scope is refused with 403, a token with only that scope is not.
// A route without a row, or a row without a route, fails the test.
func TestStaffAPIScopeMatrix(t *testing.T) {
	f := newAPIFixture(t, "apimx")
	ctx := context.Background()
	a := "/api/v1/clients/" + f.alpha.Slug
	al := a + "/alerts/" + strconv.FormatInt(f.alertIDs[1], 10)
	rows := []apiScopeRow{
		{"GET", "/api/v1/clients", "/api/v1/clients", "", identity.ScopeClientsRead},
		{"POST", "/api/v1/clients", "/api/v1/clients", `{"slug":"apimx-x","name":"X"}`, identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug", a, "", identity.ScopeClientsRead},
		{"POST", "/api/v1/clients/:slug/suspend", a + "/suspend", "", identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/resume", a + "/resume", "", identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug/settings", a + "/settings", "", identity.ScopeClientsRead},
		{"PUT", "/api/v1/clients/:slug/settings", a + "/settings", `{}`, identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug/alerts", a + "/alerts", "", identity.ScopeAlertsRead},
		{"GET", "/api/v1/clients/:slug/alerts/:id", al, "", identity.ScopeAlertsRead},
		{"POST", "/api/v1/clients/:slug/alerts/:id/acknowledge", al + "/acknowledge", "", identity.ScopeAlertsWrite},
		{"POST", "/api/v1/clients/:slug/alerts/:id/resolve", al + "/resolve", "", identity.ScopeAlertsWrite},
		{"POST", "/api/v1/clients/:slug/alerts/:id/assign", al + "/assign", `{"assignee":""}`, identity.ScopeAlertsWrite},
		{"POST", "/api/v1/clients/:slug/alerts/:id/notes", al + "/notes", `{"note":"n"}`, identity.ScopeAlertsWrite},
		{"GET", "/api/v1/clients/:slug/silences", a + "/silences", "", identity.ScopeAlertsRead},
		{"POST", "/api/v1/clients/:slug/silences", a + "/silences", `{"matchers":[{"name":"host","op":"=","value":"x"}],"duration":"1h"}`, identity.ScopeAlertsWrite},
		{"POST", "/api/v1/clients/:slug/silences/:id/expire", a + "/silences/999999/expire", "", identity.ScopeAlertsWrite},
		{"DELETE", "/api/v1/clients/:slug/silences/:id", a + "/silences/999999", "", identity.ScopeAlertsWrite},
		{"GET", "/api/v1/clients/:slug/sla", a + "/sla", "", identity.ScopeClientsRead},
		{"GET", "/api/v1/clients/:slug/api-keys", a + "/api-keys", "", identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/api-keys", a + "/api-keys", `{"name":"mx"}`, identity.ScopeClientsWrite},
		{"DELETE", "/api/v1/clients/:slug/api-keys/:prefix", a + "/api-keys/sbk_nokey", "", identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug/enrollment-tokens", a + "/enrollment-tokens", "", identity.ScopeClientsRead},
		{"POST", "/api/v1/clients/:slug/enrollment-tokens", a + "/enrollment-tokens", `{"name":"mx","ttl":"1h","max_uses":1}`, identity.ScopeClientsWrite},
		{"DELETE", "/api/v1/clients/:slug/enrollment-tokens/:id", a + "/enrollment-tokens/999999", "", identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug/audit", a + "/audit", "", identity.ScopeClientsRead},
		{"GET", "/api/v1/clients/:slug/domains", a + "/domains", "", identity.ScopeClientsRead},
		{"POST", "/api/v1/clients/:slug/domains", a + "/domains", `{"host":"portal.apimx.example"}`, identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/domains/:host/verify", a + "/domains/none.apimx.example/verify", "", identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/domains/:host/primary", a + "/domains/none.apimx.example/primary", "", identity.ScopeClientsWrite},
		{"DELETE", "/api/v1/clients/:slug/domains/:host", a + "/domains/none.apimx.example", "", identity.ScopeClientsWrite},
		{"GET", "/api/v1/policies", "/api/v1/policies", "", identity.ScopePoliciesRead},
		{"GET", "/api/v1/policies/:key", "/api/v1/policies/cpu-high", "", identity.ScopePoliciesRead},
		{"PUT", "/api/v1/policies/:key", "/api/v1/policies/apimx-none", `{"kind":"threshold","enabled":true}`, identity.ScopePoliciesWrite},
		{"DELETE", "/api/v1/policies/:key", "/api/v1/policies/apimx-none", "", identity.ScopePoliciesWrite},
		{"GET", "/api/v1/clients/:slug/policy", a + "/policy", "", identity.ScopePoliciesRead},
		{"PUT", "/api/v1/clients/:slug/policy/:key", a + "/policy/apimx-own", `{"kind":"threshold"}`, identity.ScopePoliciesWrite},
		{"PUT", "/api/v1/clients/:slug/policy/:key/override", a + "/policy/apimx-none/override", `{}`, identity.ScopePoliciesWrite},
		{"DELETE", "/api/v1/clients/:slug/policy/:key/override", a + "/policy/apimx-none/override", "", identity.ScopePoliciesWrite},
		{"PUT", "/api/v1/clients/:slug/policy/:key/exclusions/:hostname", a + "/policy/apimx-none/exclusions/web1", "", identity.ScopePoliciesWrite},
		{"DELETE", "/api/v1/clients/:slug/policy/:key/exclusions/:hostname", a + "/policy/apimx-none/exclusions/web1", "", identity.ScopePoliciesWrite},
		{"DELETE", "/api/v1/clients/:slug", a, "", identity.ScopeClientsWrite}, // no ?confirm: refused
		{"POST", "/api/v1/clients/:slug/move", a + "/move", `{"to":"no-such-cell"}`, identity.ScopeClientsWrite},
		{"GET", "/api/v1/clients/:slug/move", a + "/move", "", identity.ScopeClientsRead},
		{"GET", "/api/v1/clients/:slug/audit/export", a + "/audit/export?format=csv", "", identity.ScopeClientsRead},
		{"GET", "/api/v1/staff", "/api/v1/staff", "", identity.ScopeStaffRead},
		{"GET", "/api/v1/staff/:email", "/api/v1/staff/" + f.owner.Email, "", identity.ScopeStaffRead},
		{"POST", "/api/v1/staff", "/api/v1/staff", `{"email":"not-an-address","role":"technician"}`, identity.ScopeStaffWrite},
		{"PUT", "/api/v1/staff/:email/grant", "/api/v1/staff/" + f.owner.Email + "/grant", `{"role":"bogus"}`, identity.ScopeStaffWrite},
		{"POST", "/api/v1/staff/:email/disable", "/api/v1/staff/nobody@apimx.example/disable", "", identity.ScopeStaffWrite},
		{"POST", "/api/v1/staff/:email/enable", "/api/v1/staff/nobody@apimx.example/enable", "", identity.ScopeStaffWrite},
		{"GET", "/api/v1/clients/:slug/users", a + "/users", "", identity.ScopeClientsRead},
		{"POST", "/api/v1/clients/:slug/users", a + "/users", `{"email":"not-an-address"}`, identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/users/:email/disable", a + "/users/nobody@apimx.example/disable", "", identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/users/:email/enable", a + "/users/nobody@apimx.example/enable", "", identity.ScopeClientsWrite},
		{"POST", "/api/v1/clients/:slug/users/:email/reset-password", a + "/users/nobody@apimx.example/reset-password", "", identity.ScopeClientsWrite},
	}
	declared := f.srv.api.Routes()
	for key, scope := range declared {
		if scope == "" {
			continue // public: the document
		}
		i := slices.IndexFunc(rows, func(r apiScopeRow) bool { return r.method+" "+r.route == key })
		if i < 0 {
			t.Errorf("API route %s (scope %s) has no row in the scope matrix", key, scope)
		} else if rows[i].scope != scope {
			t.Errorf("%s declares scope %s, the matrix says %s", key, scope, rows[i].scope)
		}
	}
	for _, r := range rows {
		if _, ok := declared[r.method+" "+r.route]; !ok {
			t.Errorf("matrix row %s %s names no API route", r.method, r.route)
		}
	}
	tokens := map[string]string{}
	for _, scope := range identity.TokenScopes {
		others := slices.DeleteFunc(slices.Clone(identity.TokenScopes), func(s string) bool { return s == scope })
		for name, sc := range map[string][]string{"only-" + scope: {scope}, "but-" + scope: others} {
			_, plain, err := f.e.identity.CreateToken(ctx, f.owner.Email, identity.TokenInput{Name: name, Scopes: sc, Lifetime: time.Hour})
			if err != nil {
				t.Fatal(err)
			}
			tokens[name] = plain
		}
	}
	for _, r := range rows {
		if status, body, _ := f.api.call(tokens["but-"+r.scope], r.method, r.path, r.body, nil); status != http.StatusForbidden {
			t.Errorf("%s %s without %s: %d, want 403\n%s", r.method, r.path, r.scope, status, body)
		}
		hdr := map[string]string{"If-Match": "*"}
		if status, body, _ := f.api.call(tokens["only-"+r.scope], r.method, r.path, r.body, hdr); status == http.StatusForbidden || status == http.StatusUnauthorized || status >= 500 {
			t.Errorf("%s %s with only %s: %d\n%s", r.method, r.path, r.scope, status, body)
		}
	}
}

// TestStaffAPIDocumentCoversRoutes: the document describes exactly the
// routes of the staff API surface, and every scope is a known token scope.
func TestStaffAPIDocumentCoversRoutes(t *testing.T) {
	_, srv, _ := testServer(t)
	api := srv.api
	for _, rt := range api.Echo.Routes() {
		if strings.HasPrefix(rt.Path, "/api/v1") && !api.Doc.Has(rt.Method, rt.Path) {
			t.Errorf("route %s %s is not in the OpenAPI document", rt.Method, rt.Path)
		}
	}
	for _, op := range api.Doc.Ops() {
		if !slices.ContainsFunc(api.Echo.Routes(), func(rt *echo.Route) bool { return rt.Method == op.Method && rt.Path == op.Path }) {
			t.Errorf("the document describes %s %s, which is no route", op.Method, op.Path)
		}
		if !isStaffAPI(strings.ReplaceAll(op.Path, ":", "")) {
			t.Errorf("%s is served by the staff API but isStaffAPI does not send it there", op.Path)
		}
	}
	for key, scope := range api.Routes() {
		if scope != "" && !slices.Contains(identity.TokenScopes, scope) {
			t.Errorf("%s declares unknown scope %q", key, scope)
		}
	}
	if u := srv.consoleAuthz.Undeclared(api.Echo); len(u) > 0 {
		t.Errorf("API routes without a declared permission: %v", u)
	}
}
