// Package metrics exports Switchboard's own Prometheus metrics: request
// latency by route template, what ingestion, check-ins and deliveries did,
// and, read at scrape time, background job queues, connection pools and the
// tenant fleet. Each Metrics has its own registry (no global state), built
// once by the wiring and handed to the services that count.
//
// No metric carries a tenant label by default: series per tenant would
// grow with the fleet. Options.TopClients opts in to ingestion counts for
// the N noisiest clients only, the rest summed as "_other".
package metrics

import (
	"cmp"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"switchboard/platform/tenancy"
)

// Path is where the metrics are served, on the main listener and on
// metrics.addr.
const Path = "/metrics"

// Surfaces label request metrics: the staff console, the client portals and
// the JSON API (paths under /api/, which the console serves).
const (
	Console = "console"
	Portal  = "portal"
	API     = "api"
)

// ControlPool is the cell label of the control plane's own pool; a cell's
// name never holds "_", so it cannot clash with a cell.
const ControlPool = "_control"

// OtherClients is the client label of everyone outside the top N; a slug
// never holds "_", so it cannot clash with a client.
const OtherClients = "_other"

// Ingestion outcomes (alerts.Outcome's actions, and rejected signals).
var ingestOutcomes = []string{"created", "repeated", "resolved", "suppressed", "ignored", "rejected"}

// Options configures Metrics.
type Options struct {
	// Cluster gives the connection pools and the control plane, which the
	// job and tenant gauges are read from at scrape time.
	Cluster *tenancy.Cluster
	// TargetVersion is the tenant schema version this binary serves; tenants
	// at another one are behind.
	TargetVersion int
	// Token, when set, must be presented as "Authorization: Bearer <token>"
	// wherever /metrics is served. Empty: the main listener answers 404 (a
	// separate Listen address still serves it).
	Token string
	// TopClients > 0 exports ingestion counts for that many noisiest clients.
	TopClients int
	// QueryTimeout bounds the scrape-time queries (default 2 s); a slow
	// database costs a scrape its database gauges, never the scrape.
	QueryTimeout time.Duration
	Logger       *slog.Logger
	Now          func() time.Time // the clock of latency measurements; tests inject one
}

// Metrics is one process's registry and the instruments the services use.
type Metrics struct {
	reg        *prometheus.Registry
	opts       Options
	requests   *prometheus.HistogramVec
	ingested   *prometheus.CounterVec
	checkIns   *prometheus.CounterVec
	deliveries *prometheus.CounterVec
	failures   *prometheus.CounterVec // scrape-time queries that failed
	top        *topClients            // nil unless Options.TopClients > 0
	exposition http.Handler           // writes the registry's metrics
}

// New builds the registry with every collector registered.
func New(opts Options) *Metrics {
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	m := &Metrics{reg: prometheus.NewRegistry(), opts: opts}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "switchboard_http_request_duration_seconds",
		Help:    "Time to answer HTTP requests, by surface (console, portal, api), route template, method and status class.",
		Buckets: prometheus.DefBuckets,
	}, []string{"surface", "route", "method", "status"})
	m.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_alerts_ingested_total",
		Help: "Alert signals ingested, by outcome (created, repeated, resolved, suppressed, ignored, rejected).",
	}, []string{"outcome"})
	m.checkIns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_agent_checkins_total",
		Help: "Agent check-ins, by result (ok, or the kind of refusal or error).",
	}, []string{"result"})
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_notification_deliveries_total",
		Help: "Notification delivery attempts, by channel kind and outcome (delivered, retrying, failed).",
	}, []string{"kind", "outcome"})
	m.failures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "switchboard_metrics_query_failures_total",
		Help: "Scrape-time database queries that failed or timed out (their gauges were left out of that scrape).",
	}, []string{"query"})
	// Known label values start at zero, so rate() sees the first increase.
	for _, o := range ingestOutcomes {
		m.ingested.WithLabelValues(o)
	}
	for _, r := range checkInResults {
		m.checkIns.WithLabelValues(r)
	}
	for _, q := range []string{queryJobs, queryTenants} {
		m.failures.WithLabelValues(q)
	}
	m.reg.MustRegister(m.requests, m.ingested, m.checkIns, m.deliveries,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if opts.Cluster != nil {
		// The control collector reports the failures, after its queries,
		// so that a scrape counts its own.
		m.reg.MustRegister(&poolCollector{cluster: opts.Cluster}, &controlCollector{m: m})
	} else {
		m.reg.MustRegister(m.failures)
	}
	if opts.TopClients > 0 {
		m.top = &topClients{n: opts.TopClients, counts: map[string]float64{}}
		m.reg.MustRegister(m.top)
	}
	m.exposition = m.newExposition()
	return m
}

// Registry is the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// topClients counts ingestion per client in memory and exports only the N
// largest at each scrape, plus one series for all the others: a bounded
// label set however many clients there are. A client entering or leaving
// the top N moves its count between its series and "_other", which rate()
// reads as a counter reset; the series are for ranking, not for billing.
type topClients struct {
	n      int
	mu     sync.Mutex
	counts map[string]float64
}

var topDesc = prometheus.NewDesc("switchboard_alerts_ingested_by_client_total",
	"Alert signals ingested by the noisiest clients (metrics.top_tenants), the rest as client=\"_other\".", []string{"client"}, nil)

func (t *topClients) add(client string, n int) {
	t.mu.Lock()
	t.counts[client] += float64(n)
	t.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (t *topClients) Describe(ch chan<- *prometheus.Desc) { ch <- topDesc }

// Collect implements prometheus.Collector.
func (t *topClients) Collect(ch chan<- prometheus.Metric) {
	type entry struct {
		client string
		n      float64
	}
	t.mu.Lock()
	all := make([]entry, 0, len(t.counts))
	for c, n := range t.counts {
		all = append(all, entry{c, n})
	}
	t.mu.Unlock()
	slices.SortFunc(all, func(a, b entry) int { // largest first; ties by name, so the cut is stable
		if c := cmp.Compare(b.n, a.n); c != 0 {
			return c
		}
		return strings.Compare(a.client, b.client)
	})
	var other float64
	for i, e := range all {
		if i < t.n {
			ch <- prometheus.MustNewConstMetric(topDesc, prometheus.CounterValue, e.n, e.client)
		} else {
			other += e.n
		}
	}
	ch <- prometheus.MustNewConstMetric(topDesc, prometheus.CounterValue, other, OtherClients)
}
