package main

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/modules/identity"
	"switchboard/platform/web"
)

// textCheckExempt lists the cases of routes that are not driven below, and
// why ("METHOD /path case" → reason; case is query, body or path). The
// test fails on a route of the tables it neither drives nor finds here, and
// on an entry that no longer matches a route or CheckOwnBody.
var textCheckExempt = map[string]string{
	// Routes whose handlers check their body text themselves (web.CheckOwnBody),
	// with the tests that cover them.
	"POST /api/v1/alerts/alertmanager body": "bad members are rejected alone and the rest stored, 202 (modules/alerts TestAlertmanagerWebhook, app TestAlertmanagerWebhookEndToEnd)",
}

// badTexts are the two kinds of text PostgreSQL's text type refuses.
var badTexts = []struct{ name, text, why string }{
	{"NUL", "a\x00b", "NUL"},
	{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
}

// pathParam matches a route template's parameters (:name, or the wildcard).
var pathParam = regexp.MustCompile(`:[a-z]+|\*`)

// TestTextCheckedAtTheBoundary drives every route of the console and portal
// route tables, signed in as an owner (console), with an API key (/api/) or
// as a client admin on a client's portal host, with a NUL byte and with
// invalid UTF-8 in a query parameter, in a form field (a JSON field on the
// API; GET routes take no body, their form is the query) and in a path
// parameter. Each answer must be 400 naming the field, and nothing may be
// written. Multipart text fields are driven on the branding upload.
func TestTextCheckedAtTheBoundary(t *testing.T) {
	ctx := context.Background()
	e, srv, ts := testServer(t)
	p := seedPortalTenant(t, e, "tx")
	const ownerEmail, ownerPassword = "tx-owner@msp.example", "text-check-password"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: ownerEmail, Role: "owner", Password: ownerPassword}); err != nil {
		t.Fatal(err)
	}
	owner := newClient(t, ts.URL)
	if status := owner.login(ownerEmail, ownerPassword); status != http.StatusSeeOther {
		t.Fatalf("owner login: %d", status)
	}
	admin := newHostClient(t, ts.URL, p.host)
	if status := admin.login(p.admin, portalPassword); status != http.StatusSeeOther {
		t.Fatalf("client admin login: %d", status)
	}
	_, apiKey, err := e.tenants.CreateAPIKey(ctx, p.tenant.Slug, "text-check")
	if err != nil {
		t.Fatal(err)
	}
	// Real values for path parameters, so that only the text under test is bad.
	samples := map[string]string{":slug": p.tenant.Slug, ":id": itoa(p.alertID), ":email": p.user, ":key": "cpu-high",
		":name": "seed", ":prefix": "sbk_nope", ":host": p.host, ":file": "logo.svg", "*": "app.css"}

	type surface struct {
		name string
		echo *echo.Echo
		c    *client
	}
	driven, seen := map[string]bool{}, map[string]bool{}
	for _, s := range []surface{{"console", srv.console, owner}, {"portal", srv.portal, admin}} {
		for _, rt := range s.echo.Routes() {
			route := rt.Method + " " + rt.Path
			seen[route] = true
			switch rt.Method {
			case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			default:
				if rt.Method != echo.RouteNotFound && textCheckExempt[route+" all"] == "" {
					t.Errorf("%s: route %s has a method the test does not drive; drive it or list it in textCheckExempt", s.name, route)
				}
				continue
			}
			params := pathParam.FindAllString(rt.Path, -1)
			path := pathParam.ReplaceAllStringFunc(rt.Path, func(name string) string {
				v, ok := samples[name]
				if !ok {
					t.Errorf("%s: route %s has parameter %s with no sample value", s.name, route, name)
				}
				return url.PathEscape(v)
			})
			api := strings.HasPrefix(rt.Path, "/api/")
			ownBody := web.ChecksOwnBody(s.echo, rt.Method, rt.Path)
			if ownBody != (textCheckExempt[route+" body"] != "") {
				t.Errorf("%s: route %s: CheckOwnBody is %v, but textCheckExempt says otherwise", s.name, route, ownBody)
			}

			type textCase struct {
				name, field string
				send        func(bad string) (int, string)
			}
			var cases []textCase
			if textCheckExempt[route+" query"] == "" {
				cases = append(cases, textCase{"query", "query parameter probe", func(bad string) (int, string) {
					target := path + "?probe=" + url.QueryEscape(bad)
					if api {
						return sendJSON(t, ts.URL, rt.Method, target, apiKey, `{"summary":"fine"}`)
					}
					status, body, _ := s.c.do(rt.Method, target, url.Values{"note": {"fine"}})
					return status, body
				}})
			}
			if rt.Method != http.MethodGet && textCheckExempt[route+" body"] == "" {
				if api {
					cases = append(cases, textCase{"JSON field", "field summary", func(bad string) (int, string) {
						return sendJSON(t, ts.URL, rt.Method, path, apiKey, `{"source":"text-check","summary":"`+jsonText(bad)+`"}`)
					}})
				} else {
					cases = append(cases, textCase{"form field", "form field note", func(bad string) (int, string) {
						status, body, _ := s.c.do(rt.Method, path, url.Values{"note": {bad}, "name": {"fine"}})
						return status, body
					}})
				}
			}
			if len(params) > 0 && textCheckExempt[route+" path"] == "" {
				last := params[len(params)-1]
				// The last parameter carries the bad text, escaped as a URL carries it.
				at := strings.LastIndex(rt.Path, last)
				prefix := pathParam.ReplaceAllStringFunc(rt.Path[:at], func(name string) string { return url.PathEscape(samples[name]) })
				rest := rt.Path[at+len(last):]
				cases = append(cases, textCase{"path parameter", "path parameter " + strings.TrimPrefix(last, ":"), func(bad string) (int, string) {
					target := prefix + escapeBytes(bad) + rest
					if api {
						return sendJSON(t, ts.URL, rt.Method, target, apiKey, `{"summary":"fine"}`)
					}
					status, body, _ := s.c.do(rt.Method, target, nil)
					return status, body
				}})
			}
			if len(cases) == 0 {
				continue // every case listed in textCheckExempt
			}
			driven[s.name+" "+route] = true
			t.Run(s.name+" "+route, func(t *testing.T) {
				before := writeCounts(t, p.tenant.Schema())
				for _, c := range cases {
					for _, bad := range badTexts {
						status, body := c.send(bad.text)
						if status != http.StatusBadRequest || !strings.Contains(body, c.field) || !strings.Contains(body, bad.why) {
							t.Errorf("%s with %s: status %d, body %.300q; want 400 naming %q", c.name, bad.name, status, body, c.field)
						}
					}
				}
				if after := writeCounts(t, p.tenant.Schema()); after != before {
					t.Errorf("refused requests wrote something: %v → %v", before, after)
				}
			})
		}
	}
	for key := range textCheckExempt {
		if route := key[:strings.LastIndex(key, " ")]; !seen[route] {
			t.Errorf("textCheckExempt entry %q names no route", key)
		}
	}
	if len(driven) < 60 {
		t.Fatalf("only %d routes driven: the route tables were not read", len(driven))
	}

	// Multipart forms: text fields are checked, file parts are bytes.
	t.Run("multipart branding upload", func(t *testing.T) {
		path := "/t/" + p.tenant.Slug + "/branding"
		for _, bad := range badTexts {
			before := writeCounts(t, p.tenant.Schema())
			status, body := owner.multipart(path, map[string]string{"display_name": bad.text}, "logo", "logo.svg", `<svg xmlns="http://www.w3.org/2000/svg"/>`)
			if status != http.StatusBadRequest || !strings.Contains(body, "form field display_name") {
				t.Errorf("%s in a text field: status %d, body %.300q; want 400 naming display_name", bad.name, status, body)
			}
			if after := writeCounts(t, p.tenant.Schema()); after != before {
				t.Errorf("a refused upload wrote something: %v → %v", before, after)
			}
		}
		// A NUL in a file is the file's business: the branding check refuses
		// it as no image (415), not the text check.
		status, body := owner.multipart(path, map[string]string{"display_name": "Fine"}, "logo", "logo.png", "\x00\xff not an image")
		if status != http.StatusUnsupportedMediaType || strings.Contains(body, "form field") {
			t.Errorf("binary file part: status %d, body %.300q; want 415 from the image check", status, body)
		}
	})
}

// jsonText writes s as the inside of a JSON string the way a careless
// sender does: NUL as \u0000, other bytes raw (invalid UTF-8 stays invalid).
func jsonText(s string) string { return strings.ReplaceAll(s, "\x00", `\u0000`) }

// escapeBytes %-escapes every byte that is not a letter or digit, as a URL
// path carries it (upper-case hex, so the server decodes it into the path).
func escapeBytes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

// sendJSON sends an API request with a JSON body and an API key.
func sendJSON(t *testing.T, base, method, target, key, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, base+target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// multipart posts text fields and one file as a browser's form does.
func (b *client) multipart(path string, fields map[string]string, fileField, filename, content string) (int, string) {
	b.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	f, _ := w.CreateFormFile(fileField, filename)
	_, _ = f.Write([]byte(content))
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.base+path, &buf)
	req.Header.Set("Accept", "text/html")
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("X-CSRF-Token", b.csrf())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
