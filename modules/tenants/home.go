package tenants

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// Home is what the console's cross-client home shows: counts over every
// visible client, one page of them (most urgent first, then by name) and
// the most urgent ones for the alert queue.
type Home struct {
	Total    int
	ByStatus map[string]int
	Critical int // open critical alerts over all visible clients
	Warning  int
	Page     []Summary
	Urgent   []Summary // clients with open critical or warning alerts, most urgent first, at most the asked number
}

// urgency is a client's open critical and warning counts, from its server.
type urgency struct {
	ID                        int64
	OpenCritical, OpenWarning int
}

// Home reads the home for the visible clients ids (nil: all): one count on
// the control plane, one read per cell server of the clients that have
// open alerts, one page of names, and full summaries for the page only, so
// its cost follows the page and the busy clients, not the fleet.
func (s *Service) Home(ctx context.Context, ids []int64, from, size, urgent int) (Home, error) {
	visible := idArray(ids)
	h := Home{ByStatus: map[string]int{}}
	var counts []struct {
		Status string
		N      int
	}
	if err := s.root(ctx).Raw(`SELECT status, count(*) AS n FROM control.tenants
		WHERE status NOT IN ('deleting', 'provisioning') AND (CAST(@ids AS bigint[]) IS NULL OR id IN (SELECT unnest(CAST(@ids AS bigint[]))))
		GROUP BY status`, sql.Named("ids", visible)).Scan(&counts).Error; err != nil {
		return Home{}, fmt.Errorf("counting clients: %w", err)
	}
	for _, c := range counts {
		h.ByStatus[c.Status] = c.N
		h.Total += c.N
	}

	busy, err := s.busy(ctx, visible)
	if err != nil {
		return Home{}, err
	}
	busyIDs := make([]int64, len(busy))
	for i, b := range busy {
		busyIDs[i] = b.ID
		h.Critical += b.OpenCritical
		h.Warning += b.OpenWarning
	}

	// The page: the busy clients first, then the others by name.
	var pageIDs []int64
	if from < len(busy) {
		pageIDs = append(pageIDs, busyIDs[from:min(from+size, len(busy))]...)
	}
	if rest := size - len(pageIDs); rest > 0 {
		var quiet []int64
		if err := s.root(ctx).Raw(`SELECT id FROM control.tenants
			WHERE status NOT IN ('deleting', 'provisioning') AND (CAST(@ids AS bigint[]) IS NULL OR id IN (SELECT unnest(CAST(@ids AS bigint[]))))
			  AND NOT (id IN (SELECT unnest(CAST(@busy AS bigint[]))))
			ORDER BY lower(name), slug OFFSET @offset LIMIT @limit`,
			sql.Named("ids", visible), sql.Named("busy", idArray(append(busyIDs, 0))),
			sql.Named("offset", max(0, from-len(busy))), sql.Named("limit", rest)).Scan(&quiet).Error; err != nil {
			return Home{}, fmt.Errorf("reading a page of clients: %w", err)
		}
		pageIDs = append(pageIDs, quiet...)
	}
	// One read of summaries for the page and the most urgent clients: each
	// read scans every server's rollups.
	urgentIDs := busyIDs[:min(urgent, len(busyIDs))]
	both, err := s.summariesInOrder(ctx, append(slices.Clone(pageIDs), urgentIDs...))
	if err != nil {
		return Home{}, err
	}
	byID := make(map[int64]Summary, len(both))
	for _, sum := range both {
		byID[sum.ID] = sum
	}
	pick := func(ids []int64) []Summary {
		out := make([]Summary, 0, len(ids))
		for _, id := range ids {
			if sum, ok := byID[id]; ok {
				out = append(out, sum)
			}
		}
		return out
	}
	h.Page, h.Urgent = pick(pageIDs), pick(urgentIDs)
	return h, nil
}

// busy returns the visible active clients with open critical or warning
// alerts, most critical first, then most warnings, reading every cell
// server's rollups of such clients only.
func (s *Service) busy(ctx context.Context, visible any) ([]urgency, error) {
	var mu sync.Mutex
	var found []urgency
	err := s.eachServer(ctx, func(_ *tenancy.Server, server *gorm.DB) error {
		var rows []urgency
		if err := server.Raw(`SELECT tenant_id AS id, open_critical, open_warning FROM control.tenant_rollups
			WHERE open_critical + open_warning > 0`).Scan(&rows).Error; err != nil {
			return fmt.Errorf("reading open alert counts: %w", err)
		}
		mu.Lock()
		found = append(found, rows...)
		mu.Unlock()
		return nil
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	candidates := make([]int64, len(found))
	for i, f := range found {
		candidates[i] = f.ID
	}
	// The directory decides who counts: visible, active, and in a cell on
	// the server whose row was read (a moved client's old row is ignored).
	var keep []int64
	if err := s.root(ctx).Raw(`SELECT id FROM control.tenants
		WHERE id IN (SELECT unnest(CAST(@c AS bigint[]))) AND status = 'active' AND (CAST(@ids AS bigint[]) IS NULL OR id IN (SELECT unnest(CAST(@ids AS bigint[]))))`,
		sql.Named("c", idArray(candidates)), sql.Named("ids", visible)).Scan(&keep).Error; err != nil {
		return nil, fmt.Errorf("keeping visible active clients: %w", err)
	}
	ok := make(map[int64]bool, len(keep))
	for _, id := range keep {
		ok[id] = true
	}
	out := found[:0]
	for _, f := range found {
		if ok[f.ID] {
			out = append(out, f)
			delete(ok, f.ID) // one row per client
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].OpenCritical != out[j].OpenCritical {
			return out[i].OpenCritical > out[j].OpenCritical
		}
		if out[i].OpenWarning != out[j].OpenWarning {
			return out[i].OpenWarning > out[j].OpenWarning
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// summariesInOrder is Summaries for ids, in the order of ids.
func (s *Service) summariesInOrder(ctx context.Context, ids []int64) ([]Summary, error) {
	if len(ids) == 0 {
		return []Summary{}, nil
	}
	list, err := s.Summaries(ctx, ids)
	if err != nil {
		return nil, err
	}
	pos := make(map[int64]int, len(ids))
	for i, id := range ids {
		pos[id] = i
	}
	sort.SliceStable(list, func(i, j int) bool { return pos[list[i].ID] < pos[list[j].ID] })
	return list, nil
}

// idArray is ids as one PostgreSQL array literal (one parameter, however
// many ids), or nil for "no filter".
func idArray(ids []int64) any {
	if ids == nil {
		return nil
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte('}')
	return b.String()
}
