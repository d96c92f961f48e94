// Package dashboard builds the cross-client views of the staff console from
// control-plane rollups, reading tenant schemas only where detail is needed
// and only for the tenants that the rollups say have something to show.
package dashboard

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
)

// Service assembles the console home.
type Service struct {
	tenants *tenants.Service
	alerts  *alerts.Service
}

// NewService returns the dashboard service.
func NewService(t *tenants.Service, a *alerts.Service) *Service {
	return &Service{tenants: t, alerts: a}
}

// fanOut bounds how many tenant schemas the queue reads at once.
const fanOut = 8

// QueueItem is one alert in the all-clients queue.
type QueueItem struct {
	TenantSlug string
	TenantName string
	Alert      alerts.Alert
}

// Queue returns up to limit of the most urgent open alerts across the given
// tenants: the rollups say which tenants have open critical or warning
// alerts, and only the limit most urgent of those schemas are read (the
// ones with the most critical, then warning alerts: a queue of limit rows
// needs no more), at most fanOut at a time.
func (s *Service) Queue(ctx context.Context, summaries []tenants.Summary, limit int) ([]QueueItem, int, error) {
	var busy []tenants.Summary
	for _, t := range summaries {
		if t.Status == "active" && t.OpenCritical+t.OpenWarning > 0 {
			busy = append(busy, t)
		}
	}
	sort.SliceStable(busy, func(i, j int) bool {
		if busy[i].OpenCritical != busy[j].OpenCritical {
			return busy[i].OpenCritical > busy[j].OpenCritical
		}
		return busy[i].OpenWarning > busy[j].OpenWarning
	})
	busy = busy[:min(limit, len(busy))]
	var (
		mu  sync.Mutex
		out []QueueItem
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for _, t := range busy {
		g.Go(func() error {
			list, err := s.alerts.List(gctx, s.tenants.Scope(t.Tenant), alerts.Filter{Status: "open", Limit: limit})
			if err != nil {
				return fmt.Errorf("reading alerts of %s: %w", t.Slug, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, a := range list {
				if a.Severity != alerts.SeverityInfo {
					out = append(out, QueueItem{TenantSlug: t.Slug, TenantName: t.Name, Alert: a})
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, len(busy), err
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].Alert, out[j].Alert
		if rank(a) != rank(b) {
			return rank(a) < rank(b)
		}
		return a.LastSeenAt.After(b.LastSeenAt)
	})
	return out[:min(limit, len(out))], len(busy), nil
}

// rank orders unacknowledged critical alerts first.
func rank(a alerts.Alert) int {
	r := 0
	if a.Severity != alerts.SeverityCritical {
		r += 2
	}
	if a.Status == alerts.StatusAcknowledged {
		r++
	}
	return r
}
