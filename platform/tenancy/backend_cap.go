package tenancy

import (
	"database/sql"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
)

// DefaultTenantsPerBackend is how many tenants one pooled connection may
// enter before it is closed and replaced. PostgreSQL never trims a
// backend's catalog cache: every schema a backend has touched stays in its
// memory (about 0.38 MB for ours), so a backend that served 500 tenants was
// measured at 188 MB; 150 keeps one under about 64 MB. A new backend costs
// a few milliseconds, and a cold cache for each tenant it meets: with a
// cell's tenants split over its pools (cellPoolShards) a backend's share
// of 1,000 busy clients stays under the limit.
const DefaultTenantsPerBackend = 150

// backendTenants counts the distinct tenants each backend of a pool has
// entered, by backend process id, and says when one has had its share.
type backendTenants struct {
	limit int // 0: no limit

	mu      sync.Mutex
	entered map[uint32]map[int64]struct{}
	maxKept int // backends tracked before the table is forgotten (closed ones leave stale entries)
}

func newBackendTenants(limit, maxOpen int) *backendTenants {
	return &backendTenants{limit: limit, entered: map[uint32]map[int64]struct{}{}, maxKept: 4*maxOpen + 16}
}

// enteredNow records that conn's backend entered tenant id and reports
// whether the backend has now served its share of tenants (limit): the
// caller discards the connection instead of returning it to the pool.
func (b *backendTenants) enteredNow(conn *sql.Conn, id int64) (full bool) {
	if b == nil || b.limit <= 0 {
		return false
	}
	var pid uint32
	_ = conn.Raw(func(dc any) error {
		if c, ok := dc.(*stdlib.Conn); ok {
			pid = c.Conn().PgConn().PID()
		}
		return nil
	})
	if pid == 0 {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := b.entered[pid]
	if seen == nil {
		if len(b.entered) >= b.maxKept {
			// Backends closed by the pool (idle, lifetime) left their
			// entries; forgetting all only lets live ones run a little longer.
			clear(b.entered)
		}
		seen = map[int64]struct{}{}
		b.entered[pid] = seen
	}
	seen[id] = struct{}{}
	if len(seen) < b.limit {
		return false
	}
	delete(b.entered, pid)
	return true
}
