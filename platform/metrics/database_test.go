package metrics

import (
	"testing"
	"time"

	"switchboard/db"
	"switchboard/db/dbtest"
)

// The scrape-time gauges read the job queue, the tenant directory and the
// pools; a query past its timeout leaves its gauges out and is counted.
func TestDatabaseGauges(t *testing.T) {
	c := dbtest.Open(t, 8)
	tn := dbtest.NewTenant(t, c) // recorded at schema version 0: behind
	kind := "metrics_test_" + tn.Slug
	if err := c.ControlDB().Exec(`INSERT INTO control.river_job (kind, queue, max_attempts, args, state, scheduled_at)
		VALUES (?, 'metrics_test', 1, '{}', 'available', now() - interval '2 minutes'),
		       (?, 'metrics_test', 1, '{}', 'available', now()),
		       (?, 'metrics_test', 1, '{}', 'scheduled', now() + interval '1 hour')`, kind, kind, kind).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.ControlDB().Exec(`DELETE FROM control.river_job WHERE kind = ?`, kind) })

	m := New(Options{Cluster: c, TargetVersion: db.Tenant().Latest(), Logger: quiet})
	fams := gather(t, m)
	for _, tc := range []struct {
		family string
		labels map[string]string
		min    float64 // at least: other tests' rows may share the tables
		max    float64 // 0: no bound
	}{
		{"switchboard_job_queue_depth", map[string]string{"kind": kind, "state": "available"}, 2, 2},
		{"switchboard_job_queue_depth", map[string]string{"kind": kind, "state": "scheduled"}, 1, 1},
		{"switchboard_job_oldest_age_seconds", map[string]string{"kind": kind}, 119, 600},
		{"switchboard_tenants", map[string]string{"status": "active"}, 1, 0},
		{"switchboard_tenants", map[string]string{"status": "suspended"}, 0, 0},
		{"switchboard_tenants_behind_migrations", map[string]string{}, 1, 0},
		{"switchboard_tenants_migration_failed", map[string]string{}, 0, 0},
		{"switchboard_db_pool_max_connections", map[string]string{"cell": ControlPool}, 8, 8},
		{"switchboard_db_pool_total_connections", map[string]string{"cell": ControlPool}, 1, 0},
		{"switchboard_db_pool_max_connections", map[string]string{"cell": "main"}, 1, 0}, // NewTenant opened the cell
		{"switchboard_db_pool_acquired_connections", map[string]string{"cell": "main"}, 0, 0},
		{"switchboard_db_pool_idle_connections", map[string]string{"cell": "main"}, 0, 0},
		{"switchboard_db_pool_waits_total", map[string]string{"cell": ControlPool}, 0, 0},
		{"switchboard_db_pool_wait_seconds_total", map[string]string{"cell": ControlPool}, 0, 0},
	} {
		got, ok := value(fams[tc.family], tc.labels)
		if !ok || got < tc.min || (tc.max > 0 && got > tc.max) {
			t.Errorf("%s%v = %v (present %v), want %v..%v", tc.family, tc.labels, got, ok, tc.min, tc.max)
		}
	}
	for _, q := range []string{queryJobs, queryTenants} {
		if got, ok := value(fams["switchboard_metrics_query_failures_total"], map[string]string{"query": q}); !ok || got != 0 {
			t.Errorf("failures{query=%s} = %v (present %v), want 0", q, got, ok)
		}
	}
	if _, ok := value(fams["switchboard_job_oldest_age_seconds"], map[string]string{"kind": "never-inserted"}); ok {
		t.Error("a kind without jobs has an age")
	}

	t.Run("a query past its timeout", func(t *testing.T) {
		slow := New(Options{Cluster: c, TargetVersion: db.Tenant().Latest(), Logger: quiet, QueryTimeout: time.Nanosecond})
		fams := gather(t, slow)
		for _, f := range []string{"switchboard_job_queue_depth", "switchboard_tenants", "switchboard_tenants_behind_migrations"} {
			if fams[f] != nil {
				t.Errorf("%s exported from a query that timed out", f)
			}
		}
		for _, q := range []string{queryJobs, queryTenants} {
			if got, _ := value(fams["switchboard_metrics_query_failures_total"], map[string]string{"query": q}); got != 1 {
				t.Errorf("failures{query=%s} = %v, want 1", q, got)
			}
		}
		if fams["switchboard_db_pool_total_connections"] == nil {
			t.Error("the pool gauges (no query) went missing with the queries")
		}
	})
}
