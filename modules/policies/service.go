package policies

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/outbox"
	"switchboard/platform/tenancy"
)

// Service reads and changes policies. It owns control.global_policies (the
// baselines) and each tenant's policy tables.
type Service struct {
	cluster *tenancy.Cluster

	mu       sync.Mutex
	globals  []Global
	loadedAt time.Time
	// effective caches each tenant's merged policy briefly: every agent
	// check-in reads it. Writes through this process drop the entry at once.
	effective map[int64]cachedEffective
}

type cachedEffective struct {
	eff Effective
	at  time.Time
}

// NewService returns the policies service.
func NewService(cluster *tenancy.Cluster) *Service { return &Service{cluster: cluster} }

// globalTTL bounds how stale another replica's view of the baselines can be;
// changes made through this process invalidate at once.
const globalTTL = 5 * time.Second

// Global is a baseline item with its flags and how many tenants override it.
type Global struct {
	Item
	Locked     bool      `json:"locked"`
	UpdatedAt  time.Time `json:"updated_at"`
	Overridden int       `json:"overridden_by"`
}

type globalRow struct {
	Key        string
	Kind       string
	Body       []byte
	Enabled    bool
	Locked     bool
	UpdatedAt  time.Time
	Overridden int
}

// overrideCounts counts, per baseline key, the tenants that override it:
// one grouped read per cell server, where the tenants' own writes keep the
// index of overrides.
func (s *Service) overrideCounts(ctx context.Context) (map[string]int, error) {
	servers, err := s.cluster.CellServers(ctx)
	if err != nil {
		// Counted on the servers that answer; the page must not fail for one.
		slog.WarnContext(ctx, "override counts without a cell server", "err", err)
	}
	counts := map[string]int{}
	for _, srv := range servers {
		var rows []struct {
			PolicyKey string
			N         int
		}
		if err := srv.Admin().WithContext(ctx).Raw(`SELECT policy_key, count(*) AS n FROM control.policy_overrides GROUP BY policy_key`).
			Scan(&rows).Error; err != nil {
			return nil, fmt.Errorf("counting policy overrides on %s: %w", srv.Location(), err)
		}
		for _, r := range rows {
			counts[r.PolicyKey] += r.N
		}
	}
	return counts, nil
}

// Globals returns every baseline with its override count, ordered by key.
func (s *Service) Globals(ctx context.Context) ([]Global, error) {
	var rows []globalRow
	err := s.cluster.ControlDB().WithContext(ctx).Raw(`SELECT g.key, g.kind, g.body, g.enabled, g.locked, g.updated_at
		FROM control.global_policies g ORDER BY g.key`).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("reading global policies: %w", err)
	}
	overrides, err := s.overrideCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Global, 0, len(rows))
	for _, r := range rows {
		r.Overridden = overrides[r.Key]
		it, err := decodeItem(r.Key, r.Kind, r.Body, r.Enabled)
		if err != nil {
			return nil, err
		}
		out = append(out, Global{Item: it, Locked: r.Locked, UpdatedAt: r.UpdatedAt, Overridden: r.Overridden})
	}
	return out, nil
}

// cachedGlobals serves the hot path (every check-in) from memory.
func (s *Service) cachedGlobals(ctx context.Context) ([]Global, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.globals != nil && time.Since(s.loadedAt) < globalTTL {
		return s.globals, nil
	}
	g, err := s.Globals(ctx)
	if err != nil {
		return nil, err
	}
	s.globals, s.loadedAt = g, time.Now()
	return g, nil
}

// Invalidate drops the cached baselines and merged policies (on a change notification).
func (s *Service) Invalidate() {
	s.mu.Lock()
	s.globals, s.effective = nil, nil
	s.mu.Unlock()
}

// lockedWord prefixes the summary of a locked baseline.
func lockedWord(locked bool) string {
	if locked {
		return "locked: "
	}
	return ""
}

// forget drops one tenant's cached merged policy after a change to it.
func (s *Service) forget(t tenancy.Tenant) {
	s.mu.Lock()
	delete(s.effective, t.ID)
	s.mu.Unlock()
}

// SetGlobal creates or replaces a baseline. It takes effect for every tenant
// at once: tenants store only their differences.
func (s *Service) SetGlobal(ctx context.Context, it Item, locked bool) error {
	return s.SetGlobalIf(ctx, it, locked, nil)
}

// GlobalPrecondition sees a baseline as stored (nil: there is none), its
// row locked, inside the transaction that changes it; an error from it
// changes nothing and is returned. It is how an API's If-Match is checked
// with no window between the check and the write.
type GlobalPrecondition func(current *Global) error

// ErrChangedMeanwhile: a baseline the precondition saw absent was created
// by someone else before this write.
var ErrChangedMeanwhile = fault.Kind(fault.Conflict, "the baseline was created by someone else meanwhile")

// SetGlobalIf is SetGlobal with a precondition (nil: none).
func (s *Service) SetGlobalIf(ctx context.Context, it Item, locked bool, pre GlobalPrecondition) error {
	if err := it.Check(); err != nil {
		return err
	}
	body, err := encodeBody(it)
	if err != nil {
		return err
	}
	err = s.cluster.ControlDB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		upsert := ` ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, body = EXCLUDED.body, enabled = EXCLUDED.enabled,
			locked = EXCLUDED.locked, updated_at = now()`
		if pre != nil {
			cur, err := lockGlobal(tx, it.Key)
			if err != nil {
				return err
			}
			if err := pre(cur); err != nil {
				return err
			}
			if cur == nil {
				upsert = ` ON CONFLICT (key) DO NOTHING` // a concurrent create must not be overwritten unseen
			}
		}
		res := tx.Exec(`INSERT INTO control.global_policies (key, kind, body, enabled, locked) VALUES (?, ?, ?, ?, ?)`+upsert,
			it.Key, it.Kind, body, it.Enabled, locked)
		if res.Error != nil {
			return fmt.Errorf("saving global policy %s: %w", it.Key, res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrChangedMeanwhile
		}
		if err := audit.RecordPlatform(ctx, tx, "policy.global_set", it.Key, lockedWord(locked)+it.Describe()); err != nil {
			return err
		}
		return outbox.RecordControl(tx, Changed{Key: it.Key, Kind: it.Kind, Baseline: true})
	})
	s.Invalidate()
	return err
}

// lockGlobal reads one baseline FOR UPDATE (nil when there is none),
// without its override count.
func lockGlobal(tx *gorm.DB, key string) (*Global, error) {
	var rows []globalRow
	if err := tx.Raw(`SELECT key, kind, body, enabled, locked, updated_at FROM control.global_policies WHERE key = ? FOR UPDATE`, key).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("reading global policy %s: %w", key, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	it, err := decodeItem(rows[0].Key, rows[0].Kind, rows[0].Body, rows[0].Enabled)
	if err != nil {
		return nil, err
	}
	return &Global{Item: it, Locked: rows[0].Locked, UpdatedAt: rows[0].UpdatedAt}, nil
}

// DeleteGlobal removes a baseline; tenants' overrides of it stop mattering.
func (s *Service) DeleteGlobal(ctx context.Context, key string) error {
	return s.DeleteGlobalIf(ctx, key, nil)
}

// DeleteGlobalIf is DeleteGlobal with a precondition (nil: none).
func (s *Service) DeleteGlobalIf(ctx context.Context, key string, pre GlobalPrecondition) error {
	err := s.cluster.ControlDB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if pre != nil {
			cur, err := lockGlobal(tx, key)
			if err != nil {
				return err
			}
			if cur == nil {
				return fault.Newf(ErrNotFound, "%s", key)
			}
			if err := pre(cur); err != nil {
				return err
			}
		}
		var kinds []string
		res := tx.Raw(`DELETE FROM control.global_policies WHERE key = ? RETURNING kind`, key).Scan(&kinds)
		if res.Error != nil {
			return res.Error
		}
		if len(kinds) == 0 {
			return fault.Newf(ErrNotFound, "%s", key)
		}
		if err := audit.RecordPlatform(ctx, tx, "policy.global_deleted", key, ""); err != nil {
			return err
		}
		return outbox.RecordControl(tx, Changed{Key: key, Kind: kinds[0], Baseline: true})
	})
	s.Invalidate()
	return err
}

type overrideRow struct {
	Key     string
	Enabled *bool
	Body    []byte
}

type tenantItemRow struct {
	Key     string
	Kind    string
	Body    []byte
	Enabled bool
}

type exclusionRow struct {
	Key      string
	Hostname string
}

// Effective merges the baselines with the tenant's overrides, own items and
// exclusions. Locked baselines ignore overrides and exclusions.
func (s *Service) Effective(ctx context.Context, t tenancy.Tenant) (Effective, error) {
	s.mu.Lock()
	c, ok := s.effective[t.ID]
	s.mu.Unlock()
	if ok && time.Since(c.at) < globalTTL {
		return c.eff, nil
	}
	eff, err := s.loadEffective(ctx, t)
	if err != nil {
		return Effective{}, err
	}
	s.mu.Lock()
	if s.effective == nil {
		s.effective = map[int64]cachedEffective{}
	}
	s.effective[t.ID] = cachedEffective{eff: eff, at: time.Now()}
	s.mu.Unlock()
	return eff, nil
}

// EffectiveNow is Effective read from the database, never from the cache:
// for decisions that must see a change made a moment ago by another
// process (an SLA deadline deciding whether a clock ran out).
func (s *Service) EffectiveNow(ctx context.Context, t tenancy.Tenant) (Effective, error) {
	globals, err := s.Globals(ctx)
	if err != nil {
		return Effective{}, err
	}
	return s.mergeFor(ctx, t, globals)
}

func (s *Service) loadEffective(ctx context.Context, t tenancy.Tenant) (Effective, error) {
	globals, err := s.cachedGlobals(ctx)
	if err != nil {
		return Effective{}, err
	}
	return s.mergeFor(ctx, t, globals)
}

// mergeFor reads the tenant's overrides, own items and exclusions and merges them with globals.
func (s *Service) mergeFor(ctx context.Context, t tenancy.Tenant, globals []Global) (Effective, error) {
	var overrides []overrideRow
	var own []tenantItemRow
	var exclusions []exclusionRow
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT key, enabled, body FROM policy_overrides`).Scan(&overrides).Error; err != nil {
			return err
		}
		if err := tx.Raw(`SELECT key, kind, body, enabled FROM policy_items`).Scan(&own).Error; err != nil {
			return err
		}
		return tx.Raw(`SELECT key, hostname FROM policy_exclusions ORDER BY hostname`).Scan(&exclusions).Error
	})
	if err != nil {
		return Effective{}, fmt.Errorf("reading policies of %s: %w", t.Slug, err)
	}
	return merge(globals, overrides, own, exclusions)
}

func merge(globals []Global, overrides []overrideRow, own []tenantItemRow, exclusions []exclusionRow) (Effective, error) {
	byKey := map[string]overrideRow{}
	for _, o := range overrides {
		byKey[o.Key] = o
	}
	excluded := map[string][]string{}
	for _, x := range exclusions {
		excluded[x.Key] = append(excluded[x.Key], x.Hostname)
	}
	var eff Effective
	seen := map[string]bool{}
	for _, g := range globals {
		seen[g.Key] = true
		item := EffectiveItem{Item: g.Item, Origin: OriginGlobal, Excluded: []string{}}
		if g.Locked {
			item.Origin = OriginLocked
			eff.Items = append(eff.Items, item)
			continue
		}
		if o, ok := byKey[g.Key]; ok {
			item.Origin = OriginOverridden
			if o.Enabled != nil {
				item.Enabled = *o.Enabled
			}
			if o.Body != nil {
				it, err := decodeItem(g.Key, g.Kind, o.Body, item.Enabled)
				if err != nil {
					return Effective{}, err
				}
				// "The MSP's calendar runs the clock": a client's targets,
				// the baseline's calendar.
				if it.SLA != nil && g.SLA != nil && it.SLA.ClockOwner == "msp" {
					it.SLA.Calendar = g.SLA.Calendar
				}
				item.Item = it
			}
		}
		if x := excluded[g.Key]; x != nil {
			item.Excluded = x
		}
		eff.Items = append(eff.Items, item)
	}
	for _, r := range own {
		if seen[r.Key] {
			continue // a baseline with the same key appeared later; the baseline wins
		}
		it, err := decodeItem(r.Key, r.Kind, r.Body, r.Enabled)
		if err != nil {
			return Effective{}, err
		}
		item := EffectiveItem{Item: it, Origin: OriginTenant, Excluded: []string{}}
		if x := excluded[r.Key]; x != nil {
			item.Excluded = x
		}
		eff.Items = append(eff.Items, item)
	}
	sort.SliceStable(eff.Items, func(i, j int) bool { return eff.Items[i].Key < eff.Items[j].Key })
	return eff, nil
}

// global returns the baseline with key, if any.
func (s *Service) global(ctx context.Context, key string) (Global, bool, error) {
	globals, err := s.Globals(ctx)
	if err != nil {
		return Global{}, false, err
	}
	for _, g := range globals {
		if g.Key == key {
			return g, true, nil
		}
	}
	return Global{}, false, nil
}

// Override changes a baseline for one tenant: enabled and/or a replacement
// body (nil leaves that part as the baseline). Locked baselines refuse.
func (s *Service) Override(ctx context.Context, t tenancy.Tenant, key string, enabled *bool, body *Item) error {
	g, ok, err := s.global(ctx, key)
	if err != nil {
		return err
	}
	if !ok {
		return fault.Newf(ErrNotFound, "%s", key)
	}
	if g.Locked {
		return fmt.Errorf("%w (%s)", ErrLocked, key)
	}
	var raw []byte
	if body != nil {
		body.Key, body.Kind = key, g.Kind
		if err := body.Check(); err != nil {
			return err
		}
		if raw, err = encodeBody(*body); err != nil {
			return err
		}
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO policy_overrides (key, enabled, body) VALUES (?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, body = EXCLUDED.body, updated_at = now()`, key, enabled, raw).Error; err != nil {
			return fmt.Errorf("saving override: %w", err)
		}
		summary := "setting as the baseline"
		if body != nil {
			shown := *body
			shown.Enabled = true // whether it is on is said below, or is the baseline's
			summary = shown.Describe()
		}
		switch {
		case enabled != nil && *enabled:
			summary = "enabled, " + summary
		case enabled != nil:
			summary = "disabled, " + summary
		}
		if err := audit.Record(ctx, tx, "policy.overridden", key, summary); err != nil {
			return err
		}
		return outbox.Record(tx, Changed{Key: key, Kind: g.Kind})
	})
	s.forget(t)
	return err
}

// ClearOverride returns a tenant to the baseline for key.
func (s *Service) ClearOverride(ctx context.Context, t tenancy.Tenant, key string) error {
	g, _, err := s.global(ctx, key)
	if err != nil {
		return err
	}
	defer s.forget(t)
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		res := tx.Exec(`DELETE FROM policy_overrides WHERE key = ?`, key)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrNotFound, "no override of %s", key)
		}
		if err := audit.Record(ctx, tx, "policy.override_cleared", key, "back to the baseline"); err != nil {
			return err
		}
		return outbox.Record(tx, Changed{Key: key, Kind: g.Kind})
	})
}

// SetExclusion excludes (or re-includes) one endpoint from an item: a
// global one or one of the tenant's own; any other key is ErrNotFound.
func (s *Service) SetExclusion(ctx context.Context, t tenancy.Tenant, key, hostname string, exclude bool) error {
	g, global, err := s.global(ctx, key)
	if err != nil {
		return err
	} else if global && g.Locked {
		return fmt.Errorf("%w (%s)", ErrLocked, key)
	}
	if hostname == "" || len(hostname) > 253 {
		return invalid("an endpoint hostname is required")
	}
	defer s.forget(t)
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if !global {
			var own int64
			if err := tx.Raw(`SELECT count(*) FROM policy_items WHERE key = ?`, key).Scan(&own).Error; err != nil {
				return fmt.Errorf("finding policy item %s: %w", key, err)
			}
			if own == 0 {
				return fault.Newf(ErrNotFound, "%s", key)
			}
		}
		q := `INSERT INTO policy_exclusions (key, hostname) VALUES (?, ?) ON CONFLICT DO NOTHING`
		action := "policy.endpoint_excluded"
		if !exclude {
			q, action = `DELETE FROM policy_exclusions WHERE key = ? AND hostname = ?`, "policy.endpoint_included"
		}
		if err := tx.Exec(q, key, hostname).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, action, key, hostname)
	})
}

// SetTenantItem adds or replaces an item of the tenant's own.
func (s *Service) SetTenantItem(ctx context.Context, t tenancy.Tenant, it Item) error {
	if err := it.Check(); err != nil {
		return err
	}
	if _, ok, err := s.global(ctx, it.Key); err != nil {
		return err
	} else if ok {
		return invalid("%s is a global item: override it instead", it.Key)
	}
	raw, err := encodeBody(it)
	if err != nil {
		return err
	}
	defer s.forget(t)
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO policy_items (key, kind, body, enabled) VALUES (?, ?, ?, ?)
			ON CONFLICT (key) DO UPDATE SET kind = EXCLUDED.kind, body = EXCLUDED.body, enabled = EXCLUDED.enabled, updated_at = now()`,
			it.Key, it.Kind, raw, it.Enabled).Error; err != nil {
			return err
		}
		return audit.Record(ctx, tx, "policy.item_set", it.Key, it.Describe())
	})
}

// encodeBody stores the kind-specific part of an item.
func encodeBody(it Item) ([]byte, error) {
	var v any
	switch it.Kind {
	case KindThreshold:
		v = it.Threshold
	case KindRouting:
		v = it.Routing
	case KindMaintenance:
		v = it.Maintenance
	case KindAgent:
		v = it.Agent
	case KindSLA:
		v = it.SLA
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding policy %s: %w", it.Key, err)
	}
	return b, nil
}

func decodeItem(key, kind string, body []byte, enabled bool) (Item, error) {
	it := Item{Key: key, Kind: kind, Enabled: enabled}
	var target any
	switch kind {
	case KindThreshold:
		it.Threshold = &Threshold{}
		target = it.Threshold
	case KindRouting:
		it.Routing = &Routing{}
		target = it.Routing
	case KindMaintenance:
		it.Maintenance = &Maintenance{}
		target = it.Maintenance
	case KindAgent:
		it.Agent = &AgentSettings{}
		target = it.Agent
	case KindSLA:
		it.SLA = &SLA{}
		target = it.SLA
	default:
		return Item{}, fmt.Errorf("policy %s has unknown kind %q", key, kind)
	}
	if err := json.Unmarshal(body, target); err != nil {
		return Item{}, fmt.Errorf("decoding policy %s: %w", key, err)
	}
	return it, nil
}

// Window is a maintenance window in force, with the item it comes from.
type Window struct {
	Key string
	Maintenance
}

// ActiveMaintenance returns the maintenance windows in force at now for the
// tenant whose schema tx is scoped to (inside tenancy.Do), so the caller can
// check them in the transaction it already has.
func (s *Service) ActiveMaintenance(ctx context.Context, tx *gorm.DB, now time.Time) ([]Window, error) {
	globals, err := s.cachedGlobals(ctx)
	if err != nil {
		return nil, err
	}
	var gl []Global
	for _, g := range globals {
		if g.Kind == KindMaintenance {
			gl = append(gl, g)
		}
	}
	var own []tenantItemRow
	if err := tx.Raw(`SELECT key, kind, body, enabled FROM policy_items WHERE kind = 'maintenance'`).Scan(&own).Error; err != nil {
		return nil, fmt.Errorf("reading maintenance windows: %w", err)
	}
	var overrides []overrideRow
	if len(gl) > 0 {
		if err := tx.Raw(`SELECT key, enabled, body FROM policy_overrides`).Scan(&overrides).Error; err != nil {
			return nil, fmt.Errorf("reading maintenance overrides: %w", err)
		}
	}
	eff, err := merge(gl, overrides, own, nil)
	if err != nil {
		return nil, err
	}
	var out []Window
	for _, it := range eff.Items {
		m := it.Maintenance
		if it.Enabled && m != nil && !now.Before(m.StartsAt) && now.Before(m.EndsAt) {
			out = append(out, Window{Key: it.Key, Maintenance: *m})
		}
	}
	return out, nil
}
