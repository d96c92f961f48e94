package audit_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

func TestRecordWritesTheTenantsLog(t *testing.T) {
	e := openEnv(t)
	a, scopeA := e.newTenant(t, "rec-a")
	b, scopeB := e.newTenant(t, "rec-b")
	origin := audit.Origin{Actor: "tech@msp.example", ClientIP: "192.0.2.44"}
	ctx := audit.WithOrigin(context.Background(), origin)
	target := uniqueSlug("policy")
	start := time.Now()
	err := tenancy.Do(ctx, scopeA, func(tx *gorm.DB) error {
		return audit.Record(ctx, tx, "policy.changed", target, audit.Changed("threshold", 80, 90))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Tenant(ctx, scopeA, audit.Filter{Text: target})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("want one entry in %s's log, got %+v", a.Slug, got)
	}
	en := got[0]
	if en.Actor != origin.Actor || en.ClientIP != origin.ClientIP || en.Action != "policy.changed" || en.Target != target || en.Summary != "threshold: 80 → 90" {
		t.Fatalf("entry %+v", en)
	}
	if en.At.Before(start.Add(-time.Minute)) || en.At.After(time.Now().Add(time.Minute)) {
		t.Fatalf("entry time %v, want about now", en.At)
	}
	// Only there: not in the other tenant's log, not in the platform log.
	for _, table := range []string{b.SchemaName + ".audit_log", "control.audit_log"} {
		for _, other := range adminEntries(t, table) {
			if other.Target == target {
				t.Fatalf("the entry also landed in %s", table)
			}
		}
	}
	if inB, err := e.svc.Tenant(ctx, scopeB, audit.Filter{Text: target}); err != nil || len(inB) != 0 {
		t.Fatalf("tenant B's listing shows A's entry: %+v %v", inB, err)
	}
}

func TestRecordRollsBackWithTheChange(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "rollback")
	ctx := context.Background()
	target := uniqueSlug("rolled-back")
	boom := errors.New("the change failed")
	err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		if err := audit.Record(ctx, tx, "setting.changed", target, ""); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want the function's error, got %v", err)
	}
	if got, err := e.svc.Tenant(ctx, scope, audit.Filter{Text: target}); err != nil || len(got) != 0 {
		t.Fatalf("the entry of a rolled-back change was kept: %+v %v", got, err)
	}
}

func TestRecordPlatform(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "plat")
	cases := []struct {
		name      string
		ctx       context.Context
		wantActor string
		wantIP    string
	}{
		{"with origin", audit.WithOrigin(context.Background(), audit.Origin{Actor: "owner@msp.example", ClientIP: "2001:db8::1"}), "owner@msp.example", "2001:db8::1"},
		{"CLI origin", audit.WithOrigin(context.Background(), audit.Origin{Actor: "cli:root"}), "cli:root", ""},
		{"no origin", context.Background(), "system", ""},
		{"origin without actor", audit.WithOrigin(context.Background(), audit.Origin{ClientIP: "192.0.2.1"}), "system", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			target := uniqueSlug("plat-target")
			err := e.cluster.ControlDB().WithContext(tc.ctx).Transaction(func(tx *gorm.DB) error {
				return audit.RecordPlatform(tc.ctx, tx, "tenant.status_changed", target, "status: active → suspended")
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.svc.Platform(context.Background(), audit.Filter{Text: target})
			if err != nil || len(got) != 1 {
				t.Fatalf("platform log for %s: %+v %v", target, got, err)
			}
			if got[0].Actor != tc.wantActor || got[0].ClientIP != tc.wantIP || got[0].Action != "tenant.status_changed" {
				t.Fatalf("entry %+v, want actor %q ip %q", got[0], tc.wantActor, tc.wantIP)
			}
			// The same origin rules apply to tenant entries.
			if err := tenancy.Do(tc.ctx, scope, func(tx *gorm.DB) error { return audit.Record(tc.ctx, tx, "x.y", target, "") }); err != nil {
				t.Fatal(err)
			}
			got, err = e.svc.Tenant(context.Background(), scope, audit.Filter{Text: target})
			if err != nil || len(got) != 1 || got[0].Actor != tc.wantActor || got[0].ClientIP != tc.wantIP {
				t.Fatalf("tenant entry %+v %v, want actor %q ip %q", got, err, tc.wantActor, tc.wantIP)
			}
		})
	}
}

// TestTenantCannotWritePlatformLog: code inside tenancy.Do runs as the
// tenant's role, which cannot forge platform entries.
func TestTenantCannotWritePlatformLog(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "forge")
	ctx := context.Background()
	target := uniqueSlug("forged")
	err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return audit.RecordPlatform(ctx, tx, "staff.created", target, "")
	})
	if err == nil {
		t.Fatal("a tenant transaction wrote to control.audit_log")
	}
	if got, _ := e.svc.Platform(ctx, audit.Filter{Text: target}); len(got) != 0 {
		t.Fatalf("forged platform entry: %+v", got)
	}
}

func TestRecordTruncatesLongSummaries(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "long")
	ctx := context.Background()
	target := uniqueSlug("long")
	summary := strings.Repeat("é", 2500)
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error { return audit.Record(ctx, tx, "x.long", target, summary) }); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Tenant(ctx, scope, audit.Filter{Text: target})
	if err != nil || len(got) != 1 {
		t.Fatalf("%+v %v", got, err)
	}
	s := got[0].Summary
	if n := utf8.RuneCountInString(s); n != 2001 || !strings.HasSuffix(s, "…") || !strings.HasPrefix(summary, strings.TrimSuffix(s, "…")) || !utf8.ValidString(s) {
		t.Fatalf("summary of %d runes stored as %d runes (valid UTF-8 %v)", utf8.RuneCountInString(summary), n, utf8.ValidString(s))
	}
}

func isInsufficientPrivilege(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

var tamper = []struct{ name, sql string }{
	{"update", `UPDATE %s SET actor = 'someone else', summary = 'nothing happened'`},
	{"update one row", `UPDATE %s SET action = 'x' WHERE id = (SELECT max(id) FROM %[1]s)`},
	{"delete", `DELETE FROM %s`},
	{"delete one row", `DELETE FROM %s WHERE id = (SELECT max(id) FROM %[1]s)`},
	{"truncate", `TRUNCATE %s`},
}

func TestTenantLogIsAppendOnly(t *testing.T) {
	e := openEnv(t)
	tn, scope := e.newTenant(t, "append")
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return audit.Record(ctx, tx, "endpoint.enrolled", "laptop-7", "")
	}); err != nil {
		t.Fatal(err)
	}
	table := tn.SchemaName + ".audit_log"
	before := adminEntries(t, table)
	if len(before) < 2 {
		t.Fatalf("want at least two entries to tamper with, have %d", len(before))
	}
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
				return tx.Exec(fmt.Sprintf(tc.sql, "audit_log")).Error
			})
			if !isInsufficientPrivilege(err) {
				t.Fatalf("want SQLSTATE 42501, got %v", err)
			}
			if after := adminEntries(t, table); !reflect.DeepEqual(after, before) {
				t.Fatalf("the log changed:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
}

func TestPlatformLogIsAppendOnly(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	for range 2 {
		if err := e.cluster.ControlDB().Transaction(func(tx *gorm.DB) error {
			return audit.RecordPlatform(ctx, tx, "staff.created", uniqueSlug("append"), "")
		}); err != nil {
			t.Fatal(err)
		}
	}
	before := adminEntries(t, "control.audit_log")
	for _, tc := range tamper {
		t.Run(tc.name, func(t *testing.T) {
			err := e.cluster.ControlDB().WithContext(ctx).Exec(fmt.Sprintf(tc.sql, "control.audit_log")).Error
			if !isInsufficientPrivilege(err) {
				t.Fatalf("want SQLSTATE 42501, got %v", err)
			}
			if after := adminEntries(t, "control.audit_log"); !reflect.DeepEqual(after, before) {
				t.Fatalf("the platform log changed (%d → %d entries)", len(before), len(after))
			}
		})
	}
}
