package tenants

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/tenancy"
)

// MigrateOptions tunes a fleet migration.
type MigrateOptions struct {
	Workers     int           // tenants migrated in parallel; default the CPU count
	LockTimeout time.Duration // per tenant; default 5s
	// Progress, if set, is called after each tenant with counts so far.
	Progress func(done, total int)
}

// TenantResult is one tenant's outcome in a fleet migration.
type TenantResult struct {
	Slug     string        `json:"slug"`
	From     int           `json:"from"`
	To       int           `json:"to"`
	Duration time.Duration `json:"duration_ns"`
	Error    string        `json:"error,omitempty"`
}

// MigrateReport summarises a fleet migration.
type MigrateReport struct {
	Target   int            `json:"target"`
	Migrated int            `json:"migrated"`
	Skipped  int            `json:"skipped"`
	Failed   int            `json:"failed"`
	Elapsed  time.Duration  `json:"elapsed_ns"`
	Failures []TenantResult `json:"failures"`
	Slowest  []TenantResult `json:"slowest"`
}

type behindTenant struct {
	ID            int64
	Slug          string
	SchemaVersion int
	Cell          string
	Server        string
}

// Behind lists tenants whose recorded schema version is not this binary's.
func (s *Service) Behind(ctx context.Context) ([]Tenant, error) {
	var list []Tenant
	err := s.root(ctx).Where("schema_version <> ? AND status <> 'deleting'", s.TargetVersion()).Order("slug").Find(&list).Error
	if err != nil {
		return nil, fmt.Errorf("listing tenants behind: %w", err)
	}
	return list, nil
}

// MigrateFleet brings every tenant schema to the target version: tenants run
// in parallel, each in its own transaction with a lock timeout. Tenants the
// control plane records as current are skipped without opening their schema.
// A failing tenant keeps its version, gets its error recorded, and does not
// stop the others; a rerun picks up where this one left off.
func (s *Service) MigrateFleet(ctx context.Context, opts MigrateOptions) (MigrateReport, error) {
	start := time.Now()
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = 5 * time.Second
	}
	target := s.TargetVersion()
	report := MigrateReport{Target: target, Failures: []TenantResult{}, Slowest: []TenantResult{}}

	var total int64
	if err := s.root(ctx).Model(&Tenant{}).Where("status NOT IN ('deleting', 'provisioning', 'moving')").Count(&total).Error; err != nil {
		return report, fmt.Errorf("counting tenants: %w", err)
	}
	var behind []behindTenant
	if err := s.root(ctx).Raw(`SELECT t.id, t.slug, t.schema_version, t.cell, c.server FROM control.tenants t
		JOIN control.cells c ON c.name = t.cell
		WHERE t.schema_version < ? AND t.status NOT IN ('deleting', 'provisioning', 'moving') ORDER BY t.id`, target).Scan(&behind).Error; err != nil {
		return report, fmt.Errorf("listing tenants behind: %w", err)
	}
	report.Skipped = int(total) - len(behind)

	// Each server gets its own workers, so servers migrate in parallel and a
	// slow one does not hold the others up.
	byServer := map[string][]behindTenant{}
	for _, bt := range behind {
		byServer[bt.Server] = append(byServer[bt.Server], bt)
	}
	results := make(chan TenantResult, opts.Workers)
	var wg sync.WaitGroup
	for _, list := range byServer {
		work := make(chan behindTenant)
		for range opts.Workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for bt := range work {
					results <- s.migrateOne(ctx, bt, opts.LockTimeout)
				}
			}()
		}
		go func() {
			defer close(work)
			for _, bt := range list {
				select {
				case work <- bt:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	var done atomic.Int64
	var all []TenantResult
	for r := range results {
		switch {
		case r.Error != "":
			report.Failed++
			report.Failures = append(report.Failures, r)
		case r.From == r.To:
			report.Skipped++ // someone else migrated it meanwhile
		default:
			report.Migrated++
			all = append(all, r)
		}
		if opts.Progress != nil {
			opts.Progress(int(done.Add(1)), len(behind))
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Duration > all[j].Duration })
	report.Slowest = append(report.Slowest, all[:min(5, len(all))]...)
	report.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return report, fmt.Errorf("fleet migration interrupted: %w", err)
	}
	return report, nil
}

// migrateOne upgrades one tenant: the control-plane row is locked first
// (FOR UPDATE, which also serialises concurrent migrate runs), then the
// schema is upgraded in its own transaction through the tenant's cell, then
// the row records the new version. A crash between the two commits leaves
// the schema ahead of its record: the tenant is refused until the next
// `migrate`, which finds nothing to apply and records the version.
func (s *Service) migrateOne(ctx context.Context, bt behindTenant, lockTimeout time.Duration) TenantResult {
	res := TenantResult{Slug: bt.Slug, From: bt.SchemaVersion, To: bt.SchemaVersion}
	start := time.Now()
	err := s.root(ctx).Transaction(func(ctl *gorm.DB) error {
		var recorded int
		err := ctl.Raw(`SELECT set_config('lock_timeout', ?, true), schema_version FROM control.tenants WHERE id = ? FOR UPDATE`,
			fmt.Sprintf("%dms", lockTimeout.Milliseconds()), bt.ID).Row().Scan(new(string), &recorded)
		if err != nil {
			return fmt.Errorf("locking tenant row: %w", err)
		}
		if recorded >= s.TargetVersion() {
			res.From, res.To = recorded, recorded
			return nil
		}
		scope := s.cluster.Bind(tenancy.Tenant{ID: bt.ID, Slug: bt.Slug, Cell: bt.Cell})
		err = tenancy.Upgrade(ctx, scope, func(tx *gorm.DB) error {
			if err := tx.Exec(`SELECT set_config('lock_timeout', ?, true)`, fmt.Sprintf("%dms", lockTimeout.Milliseconds())).Error; err != nil {
				return err
			}
			from, to, err := db.ApplyTenant(tx, s.migrations)
			res.From, res.To = from, to
			return err
		})
		if err != nil {
			return err
		}
		return ctl.Exec(`UPDATE control.tenants SET schema_version = ?, migration_error = NULL, migrated_at = now(), updated_at = now() WHERE id = ?`,
			res.To, bt.ID).Error
	})
	res.Duration = time.Since(start)
	if err != nil {
		res.Error = err.Error()
		res.To = res.From
		// Recorded outside the failed transaction; version stays as it was.
		if rerr := s.root(context.WithoutCancel(ctx)).Exec(`UPDATE control.tenants SET migration_error = ?, updated_at = now() WHERE id = ?`,
			res.Error, bt.ID).Error; rerr != nil {
			s.log.ErrorContext(ctx, "recording migration failure", "tenant", bt.Slug, "err", rerr)
		}
	}
	return res
}
