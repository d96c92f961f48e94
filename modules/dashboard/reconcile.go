package dashboard

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"

	"switchboard/modules/identity"
	"switchboard/platform/tenancy"
)

// Drift is one rollup counter that did not match its tenant's data.
type Drift struct {
	Tenant  string `json:"tenant"`
	Counter string `json:"counter"`
	Rollup  int    `json:"rollup"`
	Actual  int    `json:"actual"`
}

// CountSources count, per tenant, what the rollups summarise.
type CountSources struct {
	Identity *identity.Service
}

// Reconcile recounts every tenant's rollup counters from its schema (a
// bounded, parallel pass over all tenants: this is the repair tool, not a
// serving path), reports the differences and, when fix is set, corrects them.
func (s *Service) Reconcile(ctx context.Context, src CountSources, fix bool, progress func(done, total int)) ([]Drift, error) {
	list, err := s.tenants.Summaries(ctx, nil)
	if err != nil {
		return nil, err
	}
	var (
		mu     sync.Mutex
		drifts []Drift
		done   int
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for _, t := range list {
		g.Go(func() error {
			scope := s.tenants.Scope(t.Tenant)
			open, err := s.alerts.OpenCounts(gctx, scope)
			if err != nil {
				return fmt.Errorf("counting alerts of %s: %w", t.Slug, err)
			}
			users, err := src.Identity.ActiveUsers(gctx, scope)
			if err != nil {
				return fmt.Errorf("counting users of %s: %w", t.Slug, err)
			}
			actual := map[string]int{"active_users": users, "open_critical": open["critical"], "open_warning": open["warning"], "open_info": open["info"]}
			rollup := map[string]int{"active_users": t.ActiveUsers, "open_critical": t.OpenCritical, "open_warning": t.OpenWarning, "open_info": t.OpenInfo}
			var mine []Drift
			for counter, v := range actual {
				if rollup[counter] != v {
					mine = append(mine, Drift{Tenant: t.Slug, Counter: counter, Rollup: rollup[counter], Actual: v})
				}
			}
			if fix && len(mine) > 0 {
				err := tenancy.Do(gctx, scope, func(tx *gorm.DB) error {
					for _, d := range mine {
						if err := tx.Exec(`SELECT control_api.rollup_set(?, ?)`, d.Counter, d.Actual).Error; err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("fixing rollups of %s: %w", t.Slug, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			drifts = append(drifts, mine...)
			done++
			if progress != nil {
				progress(done, len(list))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sort.Slice(drifts, func(i, j int) bool {
		if drifts[i].Tenant != drifts[j].Tenant {
			return drifts[i].Tenant < drifts[j].Tenant
		}
		return drifts[i].Counter < drifts[j].Counter
	})
	return drifts, nil
}
