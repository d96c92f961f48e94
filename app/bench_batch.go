package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"switchboard/modules/notify"
	"switchboard/modules/policies"
)

// batchSize is the Alertmanager-outage batch: the most one native request takes.
const batchSize = 500

// benchBatches measures what a 500-alert batch of new critical alerts costs
// the request on clients whose alerts have side effects (each announced to a
// webhook and timed by the SLA: 500 deliveries and 1,000 deadline jobs per
// batch) against clients whose alerts have none (no route, SLA off). With
// side effects recorded in the outbox and worked in the background, the
// ratio stays near 1 whatever the side effects cost.
func benchBatches(ctx context.Context, b *benchEnv, base string, keys []string, t *benchTable, stderr io.Writer) error {
	const tenants, rounds = 10, 3
	if len(keys) < 2*tenants {
		return nil
	}
	fmt.Fprintf(stderr, "bench: %d-alert batches, with and without side effects\n", batchSize)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer hook.Close()
	list, err := b.load.tenants.List(ctx)
	if err != nil {
		return err
	}
	bySlug := map[string]string{}
	for i, tn := range list {
		if i < len(keys) {
			bySlug[tn.Slug] = keys[i]
		}
	}
	var withKeys, withoutKeys []string
	off := false
	for _, tn := range list[tenants : 2*tenants] {
		if err := b.load.policies.Override(ctx, b.load.tenants.Scope(tn), "sla-default", &off, nil); err != nil {
			return err
		}
		withoutKeys = append(withoutKeys, bySlug[tn.Slug])
	}
	for _, tn := range list[:tenants] {
		scope := b.load.tenants.Scope(tn)
		if _, err := b.load.notify.Create(ctx, scope, notify.ChannelInput{Name: "bench-hook", Kind: notify.KindWebhook, URL: hook.URL}); err != nil {
			return err
		}
		if err := b.load.policies.SetTenantItem(ctx, scope, policies.Item{Key: "bench-route", Kind: policies.KindRouting, Enabled: true,
			Routing: &policies.Routing{MinSeverity: "info", Channels: []string{"bench-hook"}}}); err != nil {
			return err
		}
		withKeys = append(withKeys, bySlug[tn.Slug])
	}
	client := &http.Client{Timeout: time.Minute}
	post := func(key string, round int) (time.Duration, error) {
		var body strings.Builder
		body.WriteString(`{"alerts":[`)
		for i := 0; i < batchSize; i++ {
			if i > 0 {
				body.WriteString(",")
			}
			fmt.Fprintf(&body, `{"source":"bench-batch","rule":"outage-%d-%d","severity":"critical","summary":"site down"}`, round, i)
		}
		body.WriteString(`]}`)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/alerts", bytes.NewReader([]byte(body.String())))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+key)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return 0, fmt.Errorf("batch answered %d", resp.StatusCode)
		}
		return time.Since(start), nil
	}
	var with, without []time.Duration
	for round := 0; round < rounds; round++ {
		for i := range withKeys {
			d, err := post(withKeys[i], round) // 500 deliveries and 1,000 SLA jobs to come
			if err != nil {
				return err
			}
			with = append(with, d)
			if d, err = post(withoutKeys[i], round); err != nil { // nothing to come
				return err
			}
			without = append(without, d)
		}
	}
	pw, po := percentile(with, 0.50), percentile(without, 0.50)
	t.info(fmt.Sprintf("%d-alert batch p50, routed + SLA (1,500 side effects)", batchSize), fmtDuration(pw))
	t.info(fmt.Sprintf("%d-alert batch p50, no side effects", batchSize), fmtDuration(po))
	t.rows = append(t.rows, benchRow{"batch latency, side effects / none", fmt.Sprintf("%.2f×", float64(pw)/float64(po)), "≤ 1.2×",
		yesNo(float64(pw) <= 1.2*float64(po))})
	return nil
}
