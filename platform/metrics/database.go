package metrics

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// poolCollector reads the connection pools' statistics at scrape time: the
// control plane's pool and each cell's this process has opened (a cell no
// request has reached yet has no pool to report).
type poolCollector struct{ cluster *tenancy.Cluster }

var (
	poolAcquired = prometheus.NewDesc("switchboard_db_pool_acquired_connections",
		"Connections in use, by pool (the cell's name, or _control).", []string{"cell"}, nil)
	poolIdle = prometheus.NewDesc("switchboard_db_pool_idle_connections",
		"Open connections waiting to be used, by pool.", []string{"cell"}, nil)
	poolTotal = prometheus.NewDesc("switchboard_db_pool_total_connections",
		"Open connections, in use or idle, by pool.", []string{"cell"}, nil)
	poolMax = prometheus.NewDesc("switchboard_db_pool_max_connections",
		"The most connections the pool may open.", []string{"cell"}, nil)
	poolWaits = prometheus.NewDesc("switchboard_db_pool_waits_total",
		"Times a request waited for a connection because the pool was full.", []string{"cell"}, nil)
	poolWaited = prometheus.NewDesc("switchboard_db_pool_wait_seconds_total",
		"Time spent waiting for a connection.", []string{"cell"}, nil)
)

// Describe implements prometheus.Collector.
func (p *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolWaits, poolWaited} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (p *poolCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(cell string, st tenancy.CellStats) {
		ch <- prometheus.MustNewConstMetric(poolAcquired, prometheus.GaugeValue, float64(st.InUse), cell)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(st.Idle), cell)
		ch <- prometheus.MustNewConstMetric(poolTotal, prometheus.GaugeValue, float64(st.OpenConnections), cell)
		ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(st.MaxOpenConnections), cell)
		ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(st.WaitCount), cell)
		ch <- prometheus.MustNewConstMetric(poolWaited, prometheus.CounterValue, st.WaitDuration.Seconds(), cell)
	}
	emit(ControlPool, p.cluster.Stats())
	for _, c := range p.cluster.Cells() {
		emit(c.Name, c.Stats())
	}
}

// The scrape-time queries, as labels of switchboard_metrics_query_failures_total.
const (
	queryJobs    = "jobs"
	queryTenants = "tenants"
)

// controlCollector reads River's job table and the tenant directory in the
// control plane at scrape time. Both queries group a few indexed rows
// (River's fetch index leads with state; finished jobs are left out) and
// run under Options.QueryTimeout; a failure leaves that query's families
// out of the scrape and counts in switchboard_metrics_query_failures_total,
// which this collector reports (after the queries, so in the same scrape).
type controlCollector struct{ m *Metrics }

var (
	jobsQueued = prometheus.NewDesc("switchboard_job_queue_depth",
		"Background jobs not yet finished, by kind and state (available, pending, scheduled, retryable, running).", []string{"kind", "state"}, nil)
	jobsOldest = prometheus.NewDesc("switchboard_job_oldest_age_seconds",
		"How long the oldest job that is due (available) has waited to be picked up, by kind.", []string{"kind"}, nil)
	tenantsByStatus = prometheus.NewDesc("switchboard_tenants",
		"Tenants (clients), by status.", []string{"status"}, nil)
	tenantsBehind = prometheus.NewDesc("switchboard_tenants_behind_migrations",
		"Tenants (not being deleted) whose schema is not at the version this binary serves; they are refused until migrated.", nil, nil)
	tenantsFailed = prometheus.NewDesc("switchboard_tenants_migration_failed",
		"Tenants whose last migration attempt failed.", nil, nil)
)

// knownStatuses are reported even at zero, so that a rule can compare them.
var knownStatuses = []string{tenancy.StatusActive, tenancy.StatusSuspended, tenancy.StatusDeleting, tenancy.StatusProvisioning}

// Describe implements prometheus.Collector.
func (cc *controlCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{jobsQueued, jobsOldest, tenantsByStatus, tenantsBehind, tenantsFailed} {
		ch <- d
	}
	cc.m.failures.Describe(ch)
}

// Collect implements prometheus.Collector.
func (cc *controlCollector) Collect(ch chan<- prometheus.Metric) {
	m := cc.m
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.QueryTimeout)
	defer cancel()
	if err := cc.collectJobs(ctx, ch); err != nil {
		m.failures.WithLabelValues(queryJobs).Inc()
		m.opts.Logger.Warn("metrics: reading the job queue", "err", err)
	}
	if err := cc.collectTenants(ctx, ch); err != nil {
		m.failures.WithLabelValues(queryTenants).Inc()
		m.opts.Logger.Warn("metrics: reading the tenant directory", "err", err)
	}
	m.failures.Collect(ch)
}

func (cc *controlCollector) collectJobs(ctx context.Context, ch chan<- prometheus.Metric) error {
	var rows []struct {
		Kind   string
		State  string
		N      int64
		Oldest float64 // seconds the oldest available job has waited; 0 for other states
	}
	err := cc.m.opts.Cluster.ControlDB().WithContext(ctx).Raw(`SELECT kind, state::text AS state, count(*) AS n,
		COALESCE(EXTRACT(EPOCH FROM now() - min(scheduled_at) FILTER (WHERE state = 'available')), 0)::float8 AS oldest
		FROM ` + jobs.Schema + `.river_job
		WHERE state IN ('available', 'pending', 'scheduled', 'retryable', 'running')
		GROUP BY kind, state`).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("counting jobs: %w", err)
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(jobsQueued, prometheus.GaugeValue, float64(r.N), r.Kind, r.State)
		if r.State == "available" {
			ch <- prometheus.MustNewConstMetric(jobsOldest, prometheus.GaugeValue, max(r.Oldest, 0), r.Kind)
		}
	}
	return nil
}

func (cc *controlCollector) collectTenants(ctx context.Context, ch chan<- prometheus.Metric) error {
	var rows []struct {
		Status string
		N      int64
		Behind int64
		Failed int64
	}
	err := cc.m.opts.Cluster.ControlDB().WithContext(ctx).Raw(`SELECT status, count(*) AS n,
		count(*) FILTER (WHERE schema_version <> ?) AS behind,
		count(*) FILTER (WHERE migration_error IS NOT NULL) AS failed
		FROM control.tenants GROUP BY status`, cc.m.opts.TargetVersion).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("counting tenants: %w", err)
	}
	byStatus := map[string]int64{}
	for _, s := range knownStatuses {
		byStatus[s] = 0
	}
	var behind, failed int64
	for _, r := range rows {
		byStatus[r.Status] = r.N
		failed += r.Failed
		if r.Status != tenancy.StatusDeleting { // as `switchboard migrate` sees the fleet
			behind += r.Behind
		}
	}
	for s, n := range byStatus {
		ch <- prometheus.MustNewConstMetric(tenantsByStatus, prometheus.GaugeValue, float64(n), s)
	}
	ch <- prometheus.MustNewConstMetric(tenantsBehind, prometheus.GaugeValue, float64(behind))
	ch <- prometheus.MustNewConstMetric(tenantsFailed, prometheus.GaugeValue, float64(failed))
	return nil
}
