package dashboard

import (
	"cmp"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"switchboard/modules/alerts"
	"switchboard/modules/tenants"
)

// The orders of the work queue.
const (
	SortUrgency = "urgency" // unacknowledged critical first, then soonest breach (the default)
	SortAge     = "age"     // longest open first
	SortBreach  = "breach"  // furthest past its SLA target first, then soonest to breach
	SortClient  = "client"  // by client name, then urgency
)

// QueueOptions say which alerts the work queue shows, in which order.
type QueueOptions struct {
	Sort     string // one of the Sort constants; empty is SortUrgency
	Assignee string // only alerts assigned to this address; empty: everyone's
	Limit    int    // how many alerts the queue shows
	// Reach is how many of the most urgent clients are read (0: Limit). A
	// queue of Limit rows needs no more; "my alerts" reads further, as the
	// viewer's alerts may be at quieter clients.
	Reach int
	Now   time.Time // the moment ages and SLA clocks are read at
}

// WorkQueue returns up to opts.Limit open critical and warning alerts across
// the given tenants in opts.Sort order, and how many tenant schemas it read.
// The rollups say which tenants have such alerts; only the opts.Reach most
// urgent of those (most critical, then most warning alerts) are read, at
// most fanOut at a time, each in one transaction, plus each one's SLA
// (cached by the policies service).
func (s *Service) WorkQueue(ctx context.Context, summaries []tenants.Summary, opts QueueOptions) ([]QueueItem, int, error) {
	reach := opts.Reach
	if reach <= 0 {
		reach = opts.Limit
	}
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
	busy = busy[:min(reach, len(busy))]
	var (
		mu  sync.Mutex
		out []QueueItem
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for _, t := range busy {
		g.Go(func() error {
			scope := s.tenants.Scope(t.Tenant)
			list, events, err := s.alerts.OpenForQueue(gctx, scope, alerts.QueueFilter{
				Assignee: opts.Assignee, Oldest: opts.Sort == SortAge, Limit: opts.Limit})
			if err != nil || len(list) == 0 {
				return err
			}
			eff, err := s.policies.Effective(gctx, scope)
			if err != nil {
				return fmt.Errorf("reading the SLA of %s: %w", t.Slug, err)
			}
			sla, _, hasSLA := eff.SLA()
			items := make([]QueueItem, len(list))
			for i, a := range list {
				evs := events[a.ID]
				items[i] = QueueItem{TenantSlug: t.Slug, TenantName: t.Name, Alert: a,
					Age: max(opts.Now.Sub(a.FirstSeenAt), 0), Waiting: alerts.Waiting(evs)}
				items[i].Due = dueOf(evs, a.Severity, sla, hasSLA, opts.Now)
			}
			mu.Lock()
			defer mu.Unlock()
			out = append(out, items...)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, len(busy), err
	}
	sortQueue(out, opts.Sort)
	return out[:min(opts.Limit, len(out))], len(busy), nil
}

// sortQueue orders the queue by key (an unknown key is urgency). Every
// order ends with the alert's client and id, so a page reads the same on
// every load.
func sortQueue(q []QueueItem, key string) {
	urgency := func(a, b QueueItem) int {
		if ra, rb := rank(a.Alert), rank(b.Alert); ra != rb {
			return ra - rb
		}
		if c := a.Due.compare(b.Due); c != 0 {
			return c
		}
		return b.Alert.LastSeenAt.Compare(a.Alert.LastSeenAt)
	}
	stable := func(a, b QueueItem) int {
		if a.TenantSlug != b.TenantSlug {
			return strings.Compare(a.TenantSlug, b.TenantSlug)
		}
		return cmp.Compare(a.Alert.ID, b.Alert.ID)
	}
	var order func(a, b QueueItem) int
	switch key {
	case SortAge:
		order = func(a, b QueueItem) int { return a.Alert.FirstSeenAt.Compare(b.Alert.FirstSeenAt) }
	case SortBreach:
		order = func(a, b QueueItem) int {
			if c := a.Due.compare(b.Due); c != 0 {
				return c
			}
			return urgency(a, b)
		}
	case SortClient:
		order = func(a, b QueueItem) int {
			if c := strings.Compare(strings.ToLower(a.TenantName), strings.ToLower(b.TenantName)); c != 0 {
				return c
			}
			return urgency(a, b)
		}
	default:
		order = urgency
	}
	sort.SliceStable(q, func(i, j int) bool {
		if c := order(q[i], q[j]); c != 0 {
			return c < 0
		}
		return stable(q[i], q[j]) < 0
	})
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
