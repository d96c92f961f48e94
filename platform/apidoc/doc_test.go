package apidoc

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"switchboard/platform/fault"
)

func TestProblemOf(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		detail string
	}{
		{fault.New(fault.Invalid, "bad slug"), 400, "Bad slug"},
		{fmt.Errorf("creating: %w", fault.New(fault.Conflict, "slug taken")), 409, "Slug taken"},
		{fault.New(fault.NotFound, "no alert"), 404, "No alert"},
		{Fail(http.StatusPreconditionFailed, "changed"), 412, "Changed"},
		{echo.ErrMethodNotAllowed, 405, ""},
		{errors.New("pq: secret internals"), 500, "Something went wrong on our side. Please try again."},
		{fault.New(fault.Unavailable, "db down"), 503, "Something went wrong on our side. Please try again."},
	} {
		p := ProblemOf(tc.err)
		if p.Status != tc.status || (tc.detail != "" && p.Detail != tc.detail) || p.Title != http.StatusText(tc.status) || p.Type == "" {
			t.Errorf("%v: %+v, want %d %q", tc.err, p, tc.status, tc.detail)
		}
	}
}

func TestDocumentPaths(t *testing.T) {
	d := New("t", "1", "")
	d.Add(Op{Method: "GET", Path: "/api/v1/clients/:slug/alerts/:id", ID: "getAlert", Summary: "s",
		Responses: map[int]Response{200: {Description: "ok", Schema: Schema{"type": "object"}}}})
	raw, err := d.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct{ Name, In string }
			Responses  map[string]any
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	op := doc.Paths["/api/v1/clients/{slug}/alerts/{id}"]["get"]
	if len(op.Parameters) != 2 || op.Parameters[0].Name != "slug" || op.Parameters[1].In != "path" || op.Responses["default"] == nil || op.Responses["200"] == nil {
		t.Fatalf("operation: %+v\n%s", op, raw)
	}
	if !d.Has("GET", "/api/v1/clients/:slug/alerts/:id") || d.Has("POST", "/api/v1/clients/:slug/alerts/:id") {
		t.Fatal("Has")
	}
}
