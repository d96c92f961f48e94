package audit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// fixture is one entry written with an explicit time.
type fixture struct {
	key                            string
	at                             time.Time
	actor, action, target, summary string
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

var fixtures = []fixture{
	{"invite", day("2030-01-10T10:00:00Z"), "Alice@Example.com", "users.invited", "bob@client.example", "invited as client_user"},
	{"underscore", day("2030-02-15T12:00:00Z"), "bob@client.example", "user_x.made", "x-1", "action with a literal underscore"},
	{"alert", day("2030-03-01T00:00:00Z"), "system", "alert.raised", "srv-01", "Disk FULL on srv-01"},
	{"percent", day("2030-03-01T23:59:59Z"), "carol@msp.example", "a%b.c", "disk-array-2", "action with a literal percent"},
	{"policy", day("2030-03-02T00:00:00Z"), "ALICE@example.com", "policy.changed", "password policy", "min length: 12 → 14"},
	// Written last, dated earlier: a transaction that began before others
	// committed after them. Lists go by time, not by id.
	{"late", day("2030-02-20T08:00:00Z"), "system", "alert.raised", "srv-09", "committed late"},
}

// seedFixtures writes the fixtures into a new tenant, in order, and returns
// the tenant and the cursor of each fixture by key; "created" is the entry
// provisioning wrote (the oldest: the fixtures are dated in 2030).
func seedFixtures(t *testing.T, e env) (tenancy.Tenant, map[string]audit.Cursor) {
	t.Helper()
	_, scope := e.newTenant(t, "filter")
	ids := map[string]audit.Cursor{}
	err := tenancy.Do(context.Background(), scope, func(tx *gorm.DB) error {
		var created audit.Cursor
		if err := tx.Raw(`SELECT at, id FROM audit_log WHERE action = 'tenant.created'`).Scan(&created).Error; err != nil {
			return err
		}
		ids["created"] = created
		for _, f := range fixtures {
			var id int64
			if err := tx.Raw(`INSERT INTO audit_log (at, actor, action, target, summary) VALUES (?, ?, ?, ?, ?) RETURNING id`,
				f.at, f.actor, f.action, f.target, f.summary).Scan(&id).Error; err != nil {
				return err
			}
			ids[f.key] = audit.Cursor{At: f.at, ID: id}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(fixtures)+1 || ids["created"].ID == 0 {
		t.Fatalf("seeding: ids %v", ids)
	}
	return scope, ids
}

func keysOf(entries []audit.Entry, ids map[string]audit.Cursor) []string {
	byID := map[int64]string{}
	for k, c := range ids {
		byID[c.ID] = k
	}
	var out []string
	for _, e := range entries {
		k, ok := byID[e.ID]
		if !ok {
			k = "?" + e.Action
		}
		out = append(out, k)
	}
	return out
}

func TestFilter(t *testing.T) {
	e := openEnv(t)
	scope, ids := seedFixtures(t, e)
	ctx := context.Background()
	all := []string{"policy", "percent", "alert", "late", "underscore", "invite", "created"} // newest first
	cases := []struct {
		name string
		f    audit.Filter
		want []string
	}{
		{"everything", audit.Filter{}, all},
		{"action prefix", audit.Filter{Action: "users."}, []string{"invite"}},
		{"action prefix covers both", audit.Filter{Action: "user"}, []string{"underscore", "invite"}},
		{"underscore is literal", audit.Filter{Action: "user_"}, []string{"underscore"}},
		{"percent is literal", audit.Filter{Action: "a%"}, []string{"percent"}},
		{"lone percent matches nothing", audit.Filter{Action: "%"}, nil},
		{"action is a prefix, not a substring", audit.Filter{Action: "raised"}, nil},
		{"whole action", audit.Filter{Action: "tenant.created"}, []string{"created"}},
		{"actor substring, any case", audit.Filter{Actor: "alice@EXAMPLE"}, []string{"policy", "invite"}},
		{"actor exact", audit.Filter{Actor: "system"}, []string{"alert", "late", "created"}},
		{"actor underscore is literal", audit.Filter{Actor: "_"}, nil},
		{"actor percent is literal", audit.Filter{Actor: "%"}, nil},
		{"text in target or summary", audit.Filter{Text: "DISK"}, []string{"percent", "alert"}},
		{"text in both", audit.Filter{Text: "srv-01"}, []string{"alert"}},
		{"text with underscore", audit.Filter{Text: "client_user"}, []string{"invite"}},
		{"text underscore is literal", audit.Filter{Text: "x_1"}, nil},
		{"text percent is literal", audit.Filter{Text: "disk%full"}, nil},
		{"text nowhere", audit.Filter{Text: "no such words"}, nil},
		{"since (inclusive)", audit.Filter{Since: day("2030-03-01T00:00:00Z")}, []string{"policy", "percent", "alert"}},
		{"until (exclusive)", audit.Filter{Until: day("2030-03-01T00:00:00Z")}, []string{"late", "underscore", "invite", "created"}},
		{"between", audit.Filter{Since: day("2030-02-01T00:00:00Z"), Until: day("2030-03-02T00:00:00Z")}, []string{"percent", "alert", "late", "underscore"}},
		{"empty range", audit.Filter{Since: day("2030-03-02T00:00:00Z"), Until: day("2030-03-01T00:00:00Z")}, nil},
		{"actor and action", audit.Filter{Actor: "alice", Action: "policy."}, []string{"policy"}},
		{"before", audit.Filter{Before: ids["alert"]}, []string{"late", "underscore", "invite", "created"}},
		{"limit", audit.Filter{Limit: 2}, []string{"policy", "percent"}},
		{"limit and before: the next page", audit.Filter{Limit: 2, Before: ids["percent"]}, []string{"alert", "late"}},
		{"a page after an entry committed late", audit.Filter{Limit: 2, Before: ids["late"]}, []string{"underscore", "invite"}},
		{"before the first", audit.Filter{Before: ids["created"]}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.svc.Tenant(ctx, scope, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if keys := keysOf(got, ids); !slices.Equal(keys, tc.want) {
				t.Fatalf("got %v, want %v", keys, tc.want)
			}
		})
	}
}

func TestFilterLimits(t *testing.T) {
	e := openEnv(t)
	_, scope := e.newTenant(t, "limits")
	ctx := context.Background()
	const rows = 10_050
	if err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO audit_log (actor, action, target) SELECT 'gen', 'bulk.row', 'row-' || i FROM generate_series(1, ?) i`, rows).Error
	}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		limit, want int
	}{
		{0, 200}, {-5, 200}, {7, 7}, {200, 200}, {9_999, 9_999}, {10_000, 10_000}, {10_001, 10_000}, {1 << 30, 10_000},
	}
	for _, tc := range cases {
		got, err := e.svc.Tenant(ctx, scope, audit.Filter{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.want {
			t.Fatalf("Limit %d: %d entries, want %d", tc.limit, len(got), tc.want)
		}
		if !slices.IsSortedFunc(got, func(a, b audit.Entry) int { return int(b.ID - a.ID) }) {
			t.Fatalf("Limit %d: not newest first", tc.limit)
		}
	}
	// Each pages through all of them, whatever the per-call limit.
	var n int
	if err := audit.Each(e.tenantLister(scope), audit.Filter{Action: "bulk."}, func(audit.Entry) error { n++; return nil }); err != nil || n != rows {
		t.Fatalf("Each saw %d entries (want %d): %v", n, rows, err)
	}
}
