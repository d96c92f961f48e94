package slas

import (
	"context"
	"sync"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// pipeline is the SLA machinery as serve wires it: a working jobs client,
// the outbox drained on every commit, Breaches and Reports subscribed, and
// a stand-in for notify that records the escalations it is asked for.
type pipeline struct {
	breaches *Breaches
	reports  *Reports
	esc      *escalations
}

// escalations records, per tenant and alert, the escalation reasons published.
type escalations struct {
	mu      sync.Mutex
	reasons map[int64][]string
}

func (e *escalations) of(t tenancy.Tenant, id int64) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.reasons[t.ID*1_000_000+id]...)
}

func startPipeline(t *testing.T, c *tenancy.Cluster, ts *tenants.Service, pol *policies.Service, al *alerts.Service) *pipeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	jc, err := jobs.New(ctx, pgtest.URL(), jobs.Options{Queues: map[string]int{Queue: 4, outbox.Queue: 2},
		PollInterval: 50 * time.Millisecond, MaxConns: 6, Logger: tenantstest.Quiet, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	events := outbox.NewSubscribers()
	p := &pipeline{esc: &escalations{reasons: map[int64][]string{}}}
	p.breaches = NewBreaches(al, pol, ts, jc, events, tenantstest.Quiet)
	p.reports = NewReports(al, pol, ts, jc, events)
	p.reports.debounce = 200 * time.Millisecond
	outbox.Subscribe(events, "test escalations", func(_ context.Context, tn tenancy.Tenant, evs []Reached) error {
		p.esc.mu.Lock()
		defer p.esc.mu.Unlock()
		for _, e := range evs {
			p.esc.reasons[tn.ID*1_000_000+e.AlertID] = append(p.esc.reasons[tn.ID*1_000_000+e.AlertID], e.Reason())
		}
		return nil
	})
	drains := outbox.NewDrainer(c, ts, events, jc, tenantstest.Quiet)
	if err := jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	ready := make(chan struct{})
	go drains.Listen(ctx, ready)
	<-ready
	return p
}
