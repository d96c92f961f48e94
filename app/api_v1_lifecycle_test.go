package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/identity"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// throwaway creates a client for a test that changes it for good (deletes
// or moves it), so the fixture's alpha and beta stay as they are, with one
// alert to read back.
func (f *apiFixture) throwaway(t *testing.T, slug string) tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	tn, err := f.e.tenants.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Throwaway " + slug, Cell: tenancy.DefaultCell})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.e.tenants.Delete(ctx, tn.Slug, tn.Slug) })
	if _, err := f.e.alerts.Ingest(ctx, f.e.tenants.Scope(tn), []alerts.Signal{{Source: "api", Rule: "kept", Summary: "kept across moves", Severity: "warning"}}); err != nil {
		t.Fatal(err)
	}
	return tn
}

// TestStaffAPIClientDelete: deleting needs the slug repeated as ?confirm=,
// a write token and a role that may onboard; afterwards the client is gone.
func TestStaffAPIClientDelete(t *testing.T) {
	f := newAPIFixture(t, "apidel")
	ctx := context.Background()
	gone := f.throwaway(t, "apidel-gone")
	a, g := "/api/v1/clients/"+f.alpha.Slug, "/api/v1/clients/"+gone.Slug
	f.run(t, []apiScenario{
		// A wrong confirm too, so that a broken check could not delete alpha.
		{name: "technician may not delete", token: "tech", method: "DELETE", path: a + "?confirm=nope", status: 403},
		{name: "read-only token", token: "owner-read", method: "DELETE", path: g + "?confirm=" + gone.Slug, status: 403, contains: []string{"clients:write"}},
		{name: "outside the token's clients", token: "owner-beta", method: "DELETE", path: g + "?confirm=" + gone.Slug, status: 404},
		{name: "without confirm", token: "owner", method: "DELETE", path: g, status: 400, contains: []string{"irreversible", "?confirm=" + gone.Slug}},
		{name: "wrong confirm", token: "owner", method: "DELETE", path: g + "?confirm=" + f.alpha.Slug, status: 422, contains: []string{"nothing was deleted"}},
		{name: "still there", token: "owner", method: "GET", path: g, status: 200, contains: []string{`"slug":"` + gone.Slug + `"`}},
		{name: "still has its alerts", token: "owner", method: "GET", path: g + "/alerts", status: 200, contains: []string{"kept across moves"}},
		{name: "delete", token: "owner", method: "DELETE", path: g + "?confirm=" + gone.Slug, status: 204},
		{name: "gone", token: "owner", method: "GET", path: g, status: 404},
		{name: "its alerts gone", token: "owner", method: "GET", path: g + "/alerts", status: 404},
		{name: "delete again", token: "owner", method: "DELETE", path: g + "?confirm=" + gone.Slug, status: 404},
		{name: "not listed", token: "owner", method: "GET", path: "/api/v1/clients", status: 200, contains: []string{f.alpha.Slug}, lacks: []string{`"` + gone.Slug + `"`}},
		{name: "alpha untouched", token: "tech", method: "GET", path: a, status: 200},
	})
	if _, err := f.e.tenants.Get(ctx, gone.Slug); !errors.Is(err, tenants.ErrNotFound) {
		t.Errorf("after the delete: %v, want not found", err)
	}
	entries, err := f.e.audit.Platform(ctx, audit.Filter{Action: "tenant.deleted", Text: gone.Slug})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != f.owner.Email {
		t.Errorf("platform audit of the delete: %+v, want one by %s", entries, f.owner.Email)
	}
}

// TestStaffAPIClientMove: a move to a second cell of the same server
// answers with the result at once and the client's data reads from there;
// refusals answer with their reasons and change nothing.
func TestStaffAPIClientMove(t *testing.T) {
	f := newAPIFixture(t, "apimv")
	ctx := context.Background()
	if _, err := f.e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "apimv-near", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	one := f.throwaway(t, "apimv-one")
	m := "/api/v1/clients/" + one.Slug
	status := func(cell string, moving bool) func(*testing.T, string, http.Header) {
		return func(t *testing.T, body string, _ http.Header) {
			var st apiMoveStatus
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatal(err)
			}
			if st.Cell != cell || (st.Move != nil) != moving {
				t.Errorf("move status %+v, want cell %s, a move: %v", st, cell, moving)
			}
		}
	}
	f.run(t, []apiScenario{
		{name: "status before", token: "owner-read", method: "GET", path: m + "/move", status: 200, contains: []string{`"status":"active"`}, after: status(tenancy.DefaultCell, false)},
		{name: "technician may not move", token: "tech", method: "POST", path: "/api/v1/clients/" + f.alpha.Slug + "/move", body: `{"to":"apimv-near"}`, status: 403},
		{name: "read-only token", token: "owner-read", method: "POST", path: m + "/move", body: `{"to":"apimv-near"}`, status: 403},
		{name: "unknown cell", token: "owner", method: "POST", path: m + "/move", body: `{"to":"no-such-cell"}`, status: 422, contains: []string{`No cell named \"no-such-cell\"`}},
		{name: "not a cell name", token: "owner", method: "POST", path: m + "/move", body: `{"to":"Bad Cell!"}`, status: 422, contains: []string{"cell names are"}},
		{name: "NUL in the name", token: "owner", method: "POST", path: m + "/move", body: `{"to":"near\u0000"}`, status: 400},
		{name: "no target", token: "owner", method: "POST", path: m + "/move", body: `{"to":" "}`, status: 400, contains: []string{"To is required"}},
		{name: "unknown field", token: "owner", method: "POST", path: m + "/move", body: `{"cell":"apimv-near"}`, status: 400},
		{name: "the cell it is in", token: "owner", method: "POST", path: m + "/move", body: `{"to":"` + tenancy.DefaultCell + `"}`, status: 409, contains: []string{"already in cell"}},
		{name: "status after refusals", token: "owner", method: "GET", path: m + "/move", status: 200, after: status(tenancy.DefaultCell, false)},
		{name: "move", token: "owner", method: "POST", path: m + "/move", body: `{"to":"apimv-near"}`, status: 200,
			contains: []string{`"from":"` + tenancy.DefaultCell + `"`, `"to":"apimv-near"`, `"same_server":true`, `"fenced_ms":0`, `"slug":"` + one.Slug + `"`}},
		{name: "status after", token: "owner", method: "GET", path: m + "/move", status: 200, after: status("apimv-near", false)},
		{name: "alerts read from the new cell", token: "owner", method: "GET", path: m + "/alerts", status: 200, contains: []string{"kept across moves"}},
		{name: "written in the new cell", token: "owner", method: "PUT", path: m + "/settings", body: `{"display_name":"Moved"}`, headers: map[string]string{"If-Match": "*"}, status: 200},
		{name: "moved again", token: "owner", method: "POST", path: m + "/move", body: `{"to":"apimv-near"}`, status: 409, contains: []string{"already in cell apimv-near"}},
	})
	if got, err := f.e.tenants.Get(ctx, one.Slug); err != nil || got.Cell != "apimv-near" {
		t.Errorf("after the move: %+v, %v", got, err)
	}
}

// TestStaffAPIClientMoveUnderWay: a client with a move under way (here: one
// that was stopped after its write fence) shows it, and is refused another
// move and deletion with 409 until it is finished.
func TestStaffAPIClientMoveUnderWay(t *testing.T) {
	f := newAPIFixture(t, "apibusy")
	ctx := context.Background()
	if _, err := f.e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "apibusy-near", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	busy := f.throwaway(t, "apibusy-one")
	root := f.e.cluster.ControlDB()
	if err := root.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO control.tenant_moves (tenant_id, from_cell, to_cell, step, prior_status, fenced_at)
			VALUES (?, ?, 'apibusy-near', 'fenced', 'active', now())`, busy.ID, tenancy.DefaultCell).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE control.tenants SET status = 'moving' WHERE id = ?`, busy.ID).Error
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs before throwaway's delete
		_ = root.Exec(`DELETE FROM control.tenant_moves WHERE tenant_id = ?`, busy.ID).Error
		_ = root.Exec(`UPDATE control.tenants SET status = 'active' WHERE id = ?`, busy.ID).Error
	})
	m := "/api/v1/clients/" + busy.Slug
	f.run(t, []apiScenario{
		{name: "status shows the move", token: "owner", method: "GET", path: m + "/move", status: 200,
			contains: []string{`"status":"moving"`, `"step":"fenced"`, `"to_cell":"apibusy-near"`, `"fenced_at"`}},
		{name: "another move", token: "owner", method: "POST", path: m + "/move", body: `{"to":"` + tenancy.DefaultCell + `"}`, status: 409, contains: []string{"being moved to cell apibusy-near"}},
		{name: "delete", token: "owner", method: "DELETE", path: m + "?confirm=" + busy.Slug, status: 409, contains: []string{"move under way"}},
		{name: "still readable", token: "owner", method: "GET", path: m + "/alerts", status: 200, contains: []string{"kept across moves"}},
	})
}

// TestStaffAPIClientMoveAcross: a move to a cell on another server answers
// 202 once under way, with Location to its status; it finishes without the
// caller, and the client's data is then read from the new server.
func TestStaffAPIClientMoveAcross(t *testing.T) {
	f := newAPIFixture(t, "apifar")
	ctx := context.Background()
	if _, err := f.e.tenants.AddCell(ctx, tenants.AddCellInput{Name: "far", Capacity: 50}); err != nil && !errors.Is(err, tenants.ErrConflict) {
		t.Fatal(err)
	}
	one := f.throwaway(t, "apifar-one")
	m := "/api/v1/clients/" + one.Slug
	f.run(t, []apiScenario{
		{name: "move across", token: "owner", method: "POST", path: m + "/move", body: `{"to":"far"}`, status: 202,
			contains: []string{`"to_cell":"far"`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Location") != m+"/move" {
					t.Errorf("Location %q", hdr.Get("Location"))
				}
			}},
	})
	if t.Failed() {
		return
	}
	// Wait for the detached move: it holds the tenant's move lock until done.
	sqlDB, err := f.e.cluster.ControlDB().DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	key := "switchboard move " + strconv.FormatInt(one.ID, 10)
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, key); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	f.run(t, []apiScenario{
		{name: "status after", token: "owner", method: "GET", path: m + "/move", status: 200, contains: []string{`"cell":"far"`, `"status":"active"`}, lacks: []string{`"move"`}},
		{name: "alerts read from the new server", token: "owner", method: "GET", path: m + "/alerts", status: 200, contains: []string{"kept across moves"}},
	})
}

// TestStaffAPIAuditExport: the export streams every entry matching the
// listing's filters as CSV or NDJSON, as a download named for the client.
func TestStaffAPIAuditExport(t *testing.T) {
	f := newAPIFixture(t, "apiexp")
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "export-actor@msp.example"})
	targets := []string{"first", "second, with a comma", `third "quoted"`, "=1+1"}
	if err := tenancy.Do(ctx, f.e.tenants.Scope(f.alpha), func(tx *gorm.DB) error {
		for _, target := range targets {
			if err := audit.Record(ctx, tx, "probe.exported", target, "probe "+target); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, "other.thing", "unrelated", "not a probe")
	}); err != nil {
		t.Fatal(err)
	}
	_, plain, err := f.e.identity.CreateToken(context.Background(), f.owner.Email, identity.TokenInput{Name: "alerts-only", Scopes: []string{identity.ScopeAlertsRead}, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	f.tokens["alerts-only"] = plain
	x := "/api/v1/clients/" + f.alpha.Slug + "/audit/export"
	download := func(ctype, ext string) func(*testing.T, http.Header) {
		return func(t *testing.T, hdr http.Header) {
			if got := hdr.Get("Content-Type"); !strings.HasPrefix(got, ctype) {
				t.Errorf("Content-Type %q, want %s", got, ctype)
			}
			cd := hdr.Get("Content-Disposition")
			if !strings.HasPrefix(cd, `attachment; filename="`+f.alpha.Slug+"-audit-") || !strings.HasSuffix(cd, ext+`"`) {
				t.Errorf("Content-Disposition %q", cd)
			}
		}
	}
	csvRows := func(want []string) func(*testing.T, string, http.Header) {
		return func(t *testing.T, body string, hdr http.Header) {
			download("text/csv", ".csv")(t, hdr)
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatalf("not CSV: %v\n%s", err, body)
			}
			if len(rows) == 0 || !slices.Equal(rows[0], []string{"id", "at", "actor", "action", "target", "summary", "client_ip"}) {
				t.Fatalf("header: %v", rows)
			}
			var got []string
			for _, r := range rows[1:] {
				if r[2] != "export-actor@msp.example" || r[3] != "probe.exported" {
					t.Errorf("row %v does not match the filter", r)
				}
				got = append(got, r[4])
			}
			slices.Sort(got)
			want = slices.Sorted(slices.Values(want))
			if !slices.Equal(got, want) {
				t.Errorf("targets %q, want %q", got, want)
			}
		}
	}
	f.run(t, []apiScenario{
		{name: "csv", token: "tech", method: "GET", path: x + "?format=csv&action=probe.", status: 200,
			after: csvRows([]string{"first", "second, with a comma", `third "quoted"`, "'=1+1"})},
		{name: "csv text filter", token: "tech", method: "GET", path: x + "?format=csv&action=probe.&q=COMMA", status: 200, after: csvRows([]string{"second, with a comma"})},
		{name: "csv nothing matches", token: "tech", method: "GET", path: x + "?format=csv&action=nothing.", status: 200, after: csvRows(nil)},
		{name: "ndjson", token: "owner-read", method: "GET", path: x + "?format=ndjson&actor=EXPORT-ACTOR&action=probe.", status: 200,
			after: func(t *testing.T, body string, hdr http.Header) {
				download("application/x-ndjson", ".ndjson")(t, hdr)
				dec := json.NewDecoder(bytes.NewReader([]byte(body)))
				var got []string
				for dec.More() {
					var e audit.Entry
					if err := dec.Decode(&e); err != nil {
						t.Fatalf("line %d: %v\n%s", len(got)+1, err, body)
					}
					got = append(got, e.Target)
				}
				if len(got) != len(targets) || strings.Count(body, "\n") != len(targets) {
					t.Errorf("%d entries on %d lines, want %d\n%s", len(got), strings.Count(body, "\n"), len(targets), body)
				}
			}},
		{name: "ndjson nothing matches", token: "tech", method: "GET", path: x + "?format=ndjson&action=nothing.", status: 200,
			after: func(t *testing.T, body string, _ http.Header) {
				if body != "" {
					t.Errorf("body %q, want empty", body)
				}
			}},
		{name: "bad format", token: "tech", method: "GET", path: x + "?format=xml", status: 400, contains: []string{"csv or ndjson"}},
		{name: "no format", token: "tech", method: "GET", path: x, status: 400, contains: []string{"csv or ndjson"}},
		{name: "bad since", token: "tech", method: "GET", path: x + "?format=csv&since=yesterday", status: 400, contains: []string{"RFC 3339"}},
		{name: "technician, other client", token: "tech", method: "GET", path: "/api/v1/clients/" + f.beta.Slug + "/audit/export?format=csv", status: 404},
		{name: "missing scope", token: "alerts-only", method: "GET", path: x + "?format=csv", status: 403, contains: []string{"clients:read"}},
	})
}
