package web

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// echoServer is web.New with routes that echo what the handler received.
func echoServer(t *testing.T) *echo.Echo {
	t.Helper()
	e := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.POST("/api/json", func(c echo.Context) error {
		var v any
		if err := DecodeJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	})
	e.POST("/form", func(c echo.Context) error { return c.String(http.StatusOK, c.FormValue("note")) })
	e.GET("/t/:slug/alerts/:id", func(c echo.Context) error { return c.String(http.StatusOK, c.Param("slug")+c.QueryParam("q")) })
	e.GET("/static/*", func(c echo.Context) error { return c.String(http.StatusOK, c.Param("*")) })
	return e
}

func serve(e *echo.Echo, req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func TestCheckTextJSON(t *testing.T) {
	e := echoServer(t)
	cases := []struct {
		name, body string
		status     int
		want       string // in the answer
	}{
		{"clean", `{"summary":"disk \u00e9 full \ud83d\ude00","labels":{"a":"b"}}`, 200, `"summary":"disk é full 😀"`},
		{"escaped backslash before u0000 is text", `{"s":"C:\\u0000"}`, 200, `C:\\u0000`},
		{"NUL escape", `{"summary":"a\u0000b"}`, 400, `field summary: contains a NUL character`},
		{"raw NUL", "{\"summary\":\"a\x00b\"}", 400, `field summary: contains a NUL byte`},
		{"invalid UTF-8", "{\"summary\":\"caf\xe9\"}", 400, `field summary: is not valid UTF-8`},
		{"UTF-8 encoded surrogate", "{\"summary\":\"\xed\xa0\x80\"}", 400, `field summary: is not valid UTF-8`},
		{"lone high surrogate", `{"summary":"\ud800x"}`, 400, `field summary: contains an unpaired UTF-16 surrogate`},
		{"high surrogate at the end", `{"summary":"\uD800"}`, 400, `field summary: contains an unpaired`},
		{"lone low surrogate", `{"summary":"\udc00"}`, 400, `field summary: contains an unpaired`},
		{"two high surrogates", `{"summary":"\ud800\ud800"}`, 400, `field summary: contains an unpaired`},
		{"nested path", `{"alerts":[{"rule":"r"},{"labels":{"host":"h\u0000"}}]}`, 400, `field alerts[1].labels.host: contains a NUL`},
		{"array of strings", `{"to":["a","b","\u0000"]}`, 400, `field to[2]: contains a NUL`},
		{"after nested containers", `{"a":{"b":[1,{"c":2}]},"d":"\u0000"}`, 400, `field d: contains a NUL`},
		{"bad field name", `{"labels":{"ho\u0000st":"h"}}`, 400, `field name in labels: contains a NUL`},
		{"bad top-level name", `{"a\u0000":1}`, 400, `field name at the top level: contains a NUL`},
		{"bare string", `"\u0000"`, 400, `body: contains a NUL`},
		{"not JSON at all", "hello\x00", 400, `body: contains a NUL byte`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/api/json", strings.NewReader(c.body))
			req.Header.Set("Content-Type", "application/json")
			status, body := serve(e, req)
			if status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("status %d, body %s; want %d with %s", status, body, c.status, c.want)
			}
		})
	}
}

// TestCheckTextAnyContentType: a JSON handler decodes whatever the
// Content-Type says, so the check does not trust it; declared binary
// bodies are left alone.
func TestCheckTextAnyContentType(t *testing.T) {
	e := echoServer(t)
	e.POST("/raw", func(c echo.Context) error {
		b, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return err
		}
		return c.String(http.StatusOK, strings.ToUpper(string(b[:1])))
	})
	cases := []struct {
		name, path, ctype string
		status            int
	}{
		{"no content type", "/api/json", "", 400},
		{"text/plain", "/api/json", "text/plain", 400},
		{"JSON suffix type", "/api/json", "application/merge-patch+json", 400},
		{"octet-stream is bytes", "/raw", "application/octet-stream", 200},
		{"image is bytes", "/raw", "image/png", 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(`{"s":"\u0000"}`))
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			if status, body := serve(e, req); status != c.status {
				t.Fatalf("status %d (%s), want %d", status, body, c.status)
			}
		})
	}
}

func TestCheckTextFormsQueriesAndPaths(t *testing.T) {
	e := echoServer(t)
	multipartBody := func(fields map[string]string, file string) (io.Reader, string) {
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for k, v := range fields {
			_ = w.WriteField(k, v)
		}
		if file != "" {
			f, _ := w.CreateFormFile("logo", "logo.png")
			_, _ = f.Write([]byte(file))
		}
		_ = w.Close()
		return &buf, w.FormDataContentType()
	}
	form := func(v url.Values) (io.Reader, string) {
		return strings.NewReader(v.Encode()), "application/x-www-form-urlencoded"
	}
	cases := []struct {
		name, method, target string
		body                 func() (io.Reader, string)
		status               int
		want                 string
	}{
		{"clean form", "POST", "/form", func() (io.Reader, string) { return form(url.Values{"note": {"fine é"}}) }, 200, "fine é"},
		{"form NUL", "POST", "/form", func() (io.Reader, string) { return form(url.Values{"note": {"a\x00"}}) }, 400, "form field note: contains a NUL byte"},
		{"form invalid UTF-8", "POST", "/form", func() (io.Reader, string) { return form(url.Values{"note": {"\xff"}}) }, 400, "form field note: is not valid UTF-8"},
		{"form bad name", "POST", "/form", func() (io.Reader, string) { return form(url.Values{"n\x00": {"x"}}) }, 400, "a form field name: contains a NUL"},
		{"first bad field by name", "POST", "/form", func() (io.Reader, string) { return form(url.Values{"z": {"\xff"}, "b": {"\x00"}, "a": {"ok"}}) }, 400, "form field b:"},
		{"multipart text field", "POST", "/form", func() (io.Reader, string) { return multipartBody(map[string]string{"note": "a\x00"}, "") }, 400, "form field note: contains a NUL"},
		{"multipart file part is bytes", "POST", "/form", func() (io.Reader, string) { return multipartBody(map[string]string{"note": "ok"}, "\x89PNG\x00\xff") }, 200, "ok"},
		{"query NUL", "GET", "/t/acme/alerts/1?q=a%00", nil, 400, "query parameter q: contains a NUL byte"},
		{"query invalid UTF-8", "GET", "/t/acme/alerts/1?q=%FF", nil, 400, "query parameter q: is not valid UTF-8"},
		{"query on a form post", "POST", "/form?q=%00", func() (io.Reader, string) { return form(url.Values{"note": {"ok"}}) }, 400, "query parameter q"},
		{"clean query", "GET", "/t/acme/alerts/1?q=%C3%A9", nil, 200, "acmeé"},
		{"path parameter NUL", "GET", "/t/ac%00me/alerts/1", nil, 400, "path parameter slug: contains a NUL byte"},
		{"path parameter invalid UTF-8", "GET", "/t/acme/alerts/%FF", nil, 400, "path parameter id: is not valid UTF-8"},
		{"path with a lower-case escape Echo keeps raw", "GET", "/t/acme/alerts/%ff", nil, 400, "path: is not valid UTF-8"},
		{"wildcard", "GET", "/static/a%00.css", nil, 400, "path parameter *: contains a NUL"},
		{"unrouted path", "GET", "/nowhere%00", nil, 400, "path: contains a NUL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body io.Reader
			ctype := ""
			if c.body != nil {
				body, ctype = c.body()
			}
			req := httptest.NewRequest(c.method, c.target, body)
			if ctype != "" {
				req.Header.Set("Content-Type", ctype)
			}
			req.Header.Set("Accept", "text/html")
			status, got := serve(e, req)
			if status != c.status || !strings.Contains(got, c.want) {
				t.Fatalf("status %d, body %.300s; want %d with %q", status, got, c.status, c.want)
			}
		})
	}
}

// TestCheckTextBodyLimit: the check buffers no more than the body limit.
func TestCheckTextBodyLimit(t *testing.T) {
	e := echoServer(t)
	big := `{"s":"` + strings.Repeat("a", 2<<20) + `"}`
	for _, declared := range []bool{true, false} {
		req := httptest.NewRequest(http.MethodPost, "/api/json", io.MultiReader(strings.NewReader(big)))
		req.Header.Set("Content-Type", "application/json")
		if declared {
			req.ContentLength = int64(len(big))
		} else {
			req.ContentLength = -1 // chunked: only the limited reader stops it
		}
		if status, body := serve(e, req); status != http.StatusRequestEntityTooLarge {
			t.Fatalf("length declared %v: status %d (%.200s), want 413", declared, status, body)
		}
	}
}

// TestScanJSONTextAllocatesNothing: the check of a clean body on the
// ingest path costs one pass and no allocation.
func TestScanJSONTextAllocatesNothing(t *testing.T) {
	body := cleanIngestBody()
	if at, why := scanJSONText(body); at >= 0 {
		t.Fatalf("clean body refused at %d: %s", at, why)
	}
	if n := testing.AllocsPerRun(100, func() { scanJSONText(body) }); n != 0 {
		t.Fatalf("scanJSONText allocates %v times per call", n)
	}
}

func cleanIngestBody() []byte {
	type signal struct {
		Source, Rule, Summary string
		Labels                map[string]string
	}
	var alerts []signal
	for i := range 100 {
		alerts = append(alerts, signal{"prometheus", "disk_full", "Disk 97 % full on höst-" + string(rune('a'+i%26)) + " \U0001F600",
			map[string]string{"instance": "db-1:9100", "path": `C:\data`}})
	}
	b, _ := json.Marshal(map[string]any{"alerts": alerts})
	return b
}

func BenchmarkScanJSONText(b *testing.B) {
	body := cleanIngestBody()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		scanJSONText(body)
	}
}

// TestCheckOwnBody: an exempted route's handler gets the body as sent and
// checks it itself; its query is still checked, and other routes are not
// exempted with it.
func TestCheckOwnBody(t *testing.T) {
	e := echoServer(t)
	e.POST("/api/webhook", func(c echo.Context) error {
		b, _ := io.ReadAll(c.Request().Body)
		return c.String(http.StatusAccepted, string(b))
	})
	CheckOwnBody(e, http.MethodPost, "/api/webhook")
	if !ChecksOwnBody(e, http.MethodPost, "/api/webhook") || ChecksOwnBody(e, http.MethodPost, "/api/json") || ChecksOwnBody(echoServer(t), http.MethodPost, "/api/webhook") {
		t.Fatal("ChecksOwnBody does not report exactly the exempted route of this instance")
	}
	cases := []struct {
		name, target string
		status       int
		want         string
	}{
		{"exempt body reaches the handler", "/api/webhook", 202, `{"s":"\u0000"}`},
		{"exempt route's query is checked", "/api/webhook?x=%00", 400, "query parameter x"},
		{"other routes are checked", "/api/json", 400, "field s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, c.target, strings.NewReader(`{"s":"\u0000"}`))
			req.Header.Set("Content-Type", "application/json")
			if status, body := serve(e, req); status != c.status || !strings.Contains(body, c.want) {
				t.Fatalf("status %d, body %s; want %d with %s", status, body, c.status, c.want)
			}
		})
	}
}
