package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

const bulkRows = 2_600

// formulaEntry is written with cells a spreadsheet would run as formulas.
var formulaEntry = audit.Entry{Actor: "=cmd|' /C calc'!A0", Action: "formula.test", Target: "+1", Summary: "-1", ClientIP: "@x"}

// seedLargeLog writes bulkRows generated entries plus formulaEntry and a
// tab-led one into a new tenant and returns it with all its entries as
// stored (newest first).
func seedLargeLog(t *testing.T, e env) (tenancy.Tenant, []audit.Entry) {
	t.Helper()
	tn, scope := e.newTenant(t, "export")
	ctx := context.Background()
	err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO audit_log (actor, action, target, summary, client_ip)
			SELECT 'gen' || i || '@example.com', 'bulk.row', 'target-' || i, 'summary, "quoted" ' || i, '10.0.' || (i / 250) || '.' || (i % 250)
			FROM generate_series(1, ?) i`, bulkRows).Error; err != nil {
			return err
		}
		octx := audit.WithOrigin(ctx, audit.Origin{Actor: formulaEntry.Actor, ClientIP: formulaEntry.ClientIP})
		if err := audit.Record(octx, tx, formulaEntry.Action, formulaEntry.Target, formulaEntry.Summary); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "formula.tab", "\t=1+1", "line one\nline two")
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := adminEntries(t, tn.SchemaName+".audit_log")
	if len(stored) < bulkRows+2 {
		t.Fatalf("seeded %d entries, want more than %d", len(stored), bulkRows+2)
	}
	return scope, stored
}

// countingLister wraps a list function and counts its calls.
func countingLister(list func(audit.Filter) ([]audit.Entry, error), calls *int) func(audit.Filter) ([]audit.Entry, error) {
	return func(f audit.Filter) ([]audit.Entry, error) {
		*calls++
		return list(f)
	}
}

func TestExportCSV(t *testing.T) {
	e := openEnv(t)
	scope, stored := seedLargeLog(t, e)
	var buf bytes.Buffer
	calls := 0
	if err := audit.Export(&buf, audit.FormatCSV, countingLister(e.tenantLister(scope), &calls), audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	if calls < 2 {
		t.Fatalf("%d entries exported in %d list call(s): the export does not page", len(stored), calls)
	}
	records, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the export is not valid CSV: %v", err)
	}
	if want := []string{"id", "at", "actor", "action", "target", "summary", "client_ip"}; !slices.Equal(records[0], want) {
		t.Fatalf("header %v, want %v", records[0], want)
	}
	rows := records[1:]
	if len(rows) != len(stored) {
		t.Fatalf("exported %d entries, the log has %d", len(rows), len(stored))
	}
	formulaCells := map[string]string{
		formulaEntry.Actor: "'" + formulaEntry.Actor, formulaEntry.Target: "'" + formulaEntry.Target,
		formulaEntry.Summary: "'" + formulaEntry.Summary, formulaEntry.ClientIP: "'" + formulaEntry.ClientIP,
		"\t=1+1": "'\t=1+1",
	}
	for i, r := range rows {
		s := stored[i] // both newest first
		if r[0] != strconv.FormatInt(s.ID, 10) {
			t.Fatalf("row %d has id %s, want %d (order or completeness broken)", i, r[0], s.ID)
		}
		if want := s.At.UTC().Format(time.RFC3339); r[1] != want {
			t.Fatalf("row %d: at %q, want %q", i, r[1], want)
		}
		for j, v := range []string{s.Actor, s.Action, s.Target, s.Summary, s.ClientIP} {
			want := v
			if defused, ok := formulaCells[v]; ok {
				want = defused
			}
			if r[j+2] != want {
				t.Fatalf("row %d (id %d) column %s: %q, want %q", i, s.ID, records[0][j+2], r[j+2], want)
			}
		}
	}
	// The formula entry's cells all came out defused.
	i := slices.IndexFunc(rows, func(r []string) bool { return r[3] == formulaEntry.Action })
	if i < 0 {
		t.Fatal("formula entry not exported")
	}
	for _, cell := range []string{rows[i][2], rows[i][4], rows[i][5], rows[i][6]} {
		if !strings.HasPrefix(cell, "'") {
			t.Fatalf("formula cell %q not prefixed with '", cell)
		}
	}

	// A filter holds across pages: "target-1" is in 1 + 10 + 100 + 1000 targets.
	want := 0
	for n := 1; n <= bulkRows; n++ {
		if strings.Contains(fmt.Sprintf("target-%d", n), "target-1") {
			want++
		}
	}
	buf.Reset()
	if err := audit.Export(&buf, audit.FormatCSV, e.tenantLister(scope), audit.Filter{Text: "target-1"}); err != nil {
		t.Fatal(err)
	}
	filtered, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(filtered)-1 != want {
		t.Fatalf("filtered export has %d entries, want %d", len(filtered)-1, want)
	}
	for _, r := range filtered[1:] {
		if !strings.Contains(r[4], "target-1") {
			t.Fatalf("filtered export includes %v", r)
		}
	}
}

func TestExportNDJSON(t *testing.T) {
	e := openEnv(t)
	scope, stored := seedLargeLog(t, e)
	var buf bytes.Buffer
	if err := audit.Export(&buf, audit.FormatNDJSON, e.tenantLister(scope), audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	fields := []string{"action", "actor", "at", "client_ip", "id", "summary", "target"}
	n := 0
	for ; sc.Scan(); n++ {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v: %s", n+1, err, sc.Text())
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, fields) {
			t.Fatalf("line %d has fields %v, want %v", n+1, keys, fields)
		}
		var got audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if n >= len(stored) {
			t.Fatalf("more lines than the %d entries", len(stored))
		}
		s := stored[n]
		if got.ID != s.ID || !got.At.Equal(s.At) || got.Actor != s.Actor || got.Action != s.Action ||
			got.Target != s.Target || got.Summary != s.Summary || got.ClientIP != s.ClientIP {
			t.Fatalf("line %d: %+v, want %+v", n+1, got, s)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(stored) {
		t.Fatalf("%d lines for %d entries", n, len(stored))
	}
}

func TestExportUnknownFormat(t *testing.T) {
	listed := false
	list := func(audit.Filter) ([]audit.Entry, error) { listed = true; return nil, nil }
	for _, format := range []string{"", "xlsx", "CSV", "json"} {
		var buf bytes.Buffer
		err := audit.Export(&buf, format, list, audit.Filter{})
		if err == nil || !strings.Contains(err.Error(), "csv or ndjson") {
			t.Fatalf("format %q: want an error naming the formats, got %v", format, err)
		}
		if buf.Len() != 0 || listed {
			t.Fatalf("format %q: wrote %d bytes / listed %v before failing", format, buf.Len(), listed)
		}
	}
}

// TestExportStopsOnError: an error listing a later page ends the export with that error.
func TestExportStopsOnError(t *testing.T) {
	for _, format := range []string{audit.FormatCSV, audit.FormatNDJSON} {
		calls := 0
		boom := errors.New("database went away")
		list := func(f audit.Filter) ([]audit.Entry, error) {
			calls++
			if calls > 1 {
				return nil, boom
			}
			page := make([]audit.Entry, f.Limit)
			for i := range page {
				page[i] = audit.Entry{ID: int64(5000 - i), Action: "x"}
			}
			return page, nil
		}
		if err := audit.Export(io.Discard, format, list, audit.Filter{}); !errors.Is(err, boom) {
			t.Fatalf("%s: want the listing error, got %v", format, err)
		}
	}
}
