package tenancy

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"gorm.io/gorm"
)

// The first statement inside Do travels with the entry, in text format and
// read by this package; every later one goes through pgx's own driver. A
// value must scan the same either way.
func TestFirstStatementScansLikeTheRest(t *testing.T) {
	c := openCluster(t, 2)
	a := newTenant(t, c)
	ctx := context.Background()
	at := time.Date(2026, 12, 3, 17, 4, 5, 123456000, time.UTC)
	cases := []struct {
		name  string
		query string
		args  []any
		dest  func() any
	}{
		{"int2", "SELECT CAST($1 AS int2)", []any{7}, func() any { return new(int16) }},
		{"int4", "SELECT CAST($1 AS int4)", []any{-70000}, func() any { return new(int32) }},
		{"int8", "SELECT CAST($1 AS int8)", []any{int64(1) << 40}, func() any { return new(int64) }},
		{"float4", "SELECT CAST($1 AS float4)", []any{1.5}, func() any { return new(float32) }},
		{"float8", "SELECT CAST($1 AS float8)", []any{3.25}, func() any { return new(float64) }},
		{"numeric as text", "SELECT CAST($1 AS numeric(10,3))", []any{"12.5"}, func() any { return new(string) }},
		{"bool", "SELECT CAST($1 AS bool)", []any{true}, func() any { return new(bool) }},
		{"text with quotes", "SELECT CAST($1 AS text)", []any{`it's "quoted" \ and ünïcode`}, func() any { return new(string) }},
		{"jsonb", "SELECT CAST($1 AS jsonb)", []any{`{"a": [1, 2]}`}, func() any { return new([]byte) }},
		{"json as string", "SELECT CAST($1 AS json)", []any{`{"b":true}`}, func() any { return new(string) }},
		{"bytea", "SELECT decode($1, 'hex')", []any{"00ff10"}, func() any { return new([]byte) }},
		{"timestamptz", "SELECT CAST($1 AS timestamptz)", []any{at}, func() any { return new(time.Time) }},
		{"timestamp", "SELECT CAST($1 AS timestamp)", []any{"2026-12-03 17:04:05.5"}, func() any { return new(time.Time) }},
		{"date", "SELECT CAST($1 AS date)", []any{"2026-02-28"}, func() any { return new(time.Time) }},
		{"interval as text", "SELECT CAST($1 AS interval)", []any{"90 minutes"}, func() any { return new(string) }},
		{"uuid as text", "SELECT CAST($1 AS uuid)", []any{"6f9619ff-8b86-d011-b42d-00cf4fc964ff"}, func() any { return new(string) }},
		{"bigint array as text", "SELECT CAST($1 AS bigint[])", []any{[]int64{1, 2, 3}}, func() any { return new(string) }},
		{"null", "SELECT CAST($1 AS text)", []any{nil}, func() any { return new(*string) }},
		{"table row", "SELECT count(*) FROM settings WHERE key <> $1", []any{"x"}, func() any { return new(int64) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			first, later := tc.dest(), tc.dest()
			err := Do(ctx, a, func(tx *gorm.DB) error {
				if err := tx.Raw(tc.query, tc.args...).Row().Scan(first); err != nil {
					return fmt.Errorf("first statement: %w", err)
				}
				if err := tx.Raw(tc.query, tc.args...).Row().Scan(later); err != nil {
					return fmt.Errorf("later statement: %w", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			f, l := reflect.ValueOf(first).Elem().Interface(), reflect.ValueOf(later).Elem().Interface()
			if ft, ok := f.(time.Time); ok {
				if lt := l.(time.Time); !ft.Equal(lt) {
					t.Fatalf("first %v, later %v", ft, lt)
				}
				return
			}
			if !reflect.DeepEqual(f, l) {
				t.Fatalf("first %#v, later %#v", f, l)
			}
		})
	}
}

// A Do whose fn sends nothing begins nothing, returns fn's answer, and
// leaves the connection clean for the next one.
func TestDoThatSendsNothingBeginsNothing(t *testing.T) {
	c := openCluster(t, 1)
	a := newTenant(t, c)
	ctx := context.Background()
	if err := Do(ctx, a, func(*gorm.DB) error { return nil }); err != nil {
		t.Fatalf("empty Do: %v", err)
	}
	boom := errors.New("boom")
	if err := Do(ctx, a, func(*gorm.DB) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("empty Do returning an error: got %v", err)
	}
	assertPoolClean(t, c)
	var schema string
	if err := Do(ctx, a, func(tx *gorm.DB) error {
		return tx.Raw("SELECT current_schema() WHERE $1", true).Scan(&schema).Error
	}); err != nil || schema != a.Schema() {
		t.Fatalf("next Do: schema %q, err %v", schema, err)
	}
}

// A first statement that fails to encode sends nothing, so a second one
// cannot run outside the tenant: it still carries the entry.
func TestFailedFirstStatementKeepsTheEntry(t *testing.T) {
	c := openCluster(t, 1)
	a := newTenant(t, c)
	var role string
	err := Do(context.Background(), a, func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT $1", make(chan int)).Error; err == nil {
			return errors.New("a channel was accepted as an argument")
		}
		return tx.Raw("SELECT current_user WHERE $1", true).Scan(&role).Error
	})
	if err != nil || role != a.Schema() {
		t.Fatalf("second statement ran as %q (err %v), want %q", role, err, a.Schema())
	}
}

// When the cell's login role cannot become the tenant's role, a first
// statement with arguments (the pipelined path) fails with ErrMoved.
func TestRefusedEntryIsErrMoved(t *testing.T) {
	c := openCluster(t, 1)
	a := newTenant(t, c)
	ctx := context.Background()
	cell, err := c.Cell(ctx, a.Cell)
	if err != nil {
		t.Fatal(err)
	}
	revoke := fmt.Sprintf(`REVOKE %s FROM %s`, a.Schema(), cell.Role)
	if err := c.ControlDB().Exec(revoke).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.ControlDB().Exec(fmt.Sprintf(`GRANT %s TO %s`, a.Schema(), cell.Role)).Error })
	err = Do(ctx, a, func(tx *gorm.DB) error {
		var n int64
		return tx.Raw("SELECT count(*) FROM settings WHERE key <> $1", "x").Scan(&n).Error
	})
	if !errors.Is(err, ErrMoved) {
		t.Fatalf("err = %v, want ErrMoved", err)
	}
	assertPoolClean(t, c)
}
