package outbox

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"switchboard/platform/failpoint"
	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// Queue is the River queue drains run in.
const Queue = "outbox"

// Channel is the NOTIFY channel control_api.outbox_mark_due signals on commit.
const Channel = "switchboard_outbox"

// BatchSize is how many events one drain step reads.
const BatchSize = 500

// SweepInterval is how often the leader wakes every due tenant, for marks
// whose notification was missed (no replica listening at the time).
const SweepInterval = 5 * time.Second

// drainArgs is one tenant's drain. One worker at a time drains a tenant, in
// order, holding a session advisory lock that PostgreSQL releases the moment
// its process dies; a mark made while a drain runs is picked up by that
// drain (see Drain). Jobs are unique per tenant and second while waiting or
// running: bursts of wakes make one job, and a drain left "running" by a
// killed process blocks new ones for a second, not until River rescues it.
type drainArgs struct {
	jobs.TenantArgs
}

// Kind names the job in River.
func (drainArgs) Kind() string { return "outbox_drain" }

// sweepArgs is the periodic wake-up of every due tenant.
type sweepArgs struct{}

// Kind names the job in River.
func (sweepArgs) Kind() string { return "outbox_sweep" }

// Drainer works the drain jobs and wakes them: on each commit's
// notification (Listen) and periodically (the sweep).
type Drainer struct {
	cluster *tenancy.Cluster
	tenants jobs.TenantLookup
	subs    *Subscribers
	jobs    *jobs.Client
	log     *slog.Logger
}

// NewDrainer registers the drain worker and the periodic sweep with the jobs
// client (which must not have started yet) and returns the drainer.
func NewDrainer(cluster *tenancy.Cluster, tenants jobs.TenantLookup, subs *Subscribers, jc *jobs.Client, log *slog.Logger) *Drainer {
	d := &Drainer{cluster: cluster, tenants: tenants, subs: subs, jobs: jc, log: log}
	river.AddWorker(jc.Workers(), &drainWorker{d: d})
	river.AddWorker(jc.Workers(), &sweepWorker{d: d})
	jc.Every(SweepInterval, func() (river.JobArgs, *river.InsertOpts) {
		return sweepArgs{}, &river.InsertOpts{Queue: Queue, MaxAttempts: 1}
	})
	return d
}

var drainUnique = river.UniqueOpts{ByArgs: true, ByPeriod: time.Second, ByState: jobs.WaitingOrRunning}

// Wake inserts a drain job for each tenant that has none waiting or running.
func (d *Drainer) Wake(ctx context.Context, tenantIDs ...int64) error {
	_, err := d.wake(ctx, tenantIDs)
	return err
}

// wake is Wake that also returns the tenants whose drain is running now. A
// running drain goes round while marks keep coming, but one that is
// finishing may have cleared its mark just before this one committed, so
// the caller wakes those tenants again shortly.
func (d *Drainer) wake(ctx context.Context, tenantIDs []int64) ([]int64, error) {
	params := make([]river.InsertManyParams, len(tenantIDs))
	for i, id := range tenantIDs {
		params[i] = river.InsertManyParams{Args: drainArgs{TenantArgs: jobs.TenantArgs{TenantID: id}},
			InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: 100, UniqueOpts: drainUnique}}
	}
	res, err := d.jobs.InsertMany(ctx, params)
	if err != nil {
		return nil, err
	}
	var running []int64
	for i, r := range res {
		if r.UniqueSkippedAsDuplicate && r.Job != nil && r.Job.State == rivertype.JobStateRunning {
			running = append(running, tenantIDs[i])
		}
	}
	return running, nil
}

// rewakeAfter is how soon a tenant whose drain was running is woken again.
const rewakeAfter = 100 * time.Millisecond

// Listen wakes drains as marks commit, until ctx ends. Bursts are coalesced:
// one insert covers every tenant notified since the last one.
func (d *Drainer) Listen(ctx context.Context, ready chan<- struct{}) {
	ids := make(chan int64, 1024)
	onMark := func(payload string) {
		id, err := strconv.ParseInt(payload, 10, 64)
		if err != nil {
			return // "" after a reconnect: the sweep covers what was missed
		}
		select {
		case ids <- id:
		default: // full: the sweep will find it
		}
	}
	// Marks are announced on the server of the tenant who made them: listen
	// on every cell server (a server added later is covered by the sweep
	// until the next start).
	servers, err := d.cluster.CellServers(ctx)
	if err != nil {
		d.log.Warn("outbox: not listening on a cell server (the sweep covers it once reachable)", "err", err)
	}
	var listening sync.WaitGroup
	for _, srv := range servers {
		up := make(chan struct{})
		listening.Add(1)
		go func() {
			select {
			case <-up:
			case <-ctx.Done():
			}
			listening.Done()
		}()
		go srv.Listen(ctx, Channel, onMark, up)
	}
	if ready != nil {
		go func() { listening.Wait(); close(ready) }()
	}
	again := map[int64]bool{} // drains that were running at the last wake
	tick := time.NewTicker(rewakeAfter)
	defer tick.Stop()
	for {
		var batch []int64
		select {
		case <-ctx.Done():
			return
		case id := <-ids:
			batch = append(batch, id)
		case <-tick.C:
			if len(again) == 0 {
				continue
			}
		}
	more:
		for len(batch) < 500 {
			select {
			case id := <-ids:
				batch = append(batch, id)
			default:
				break more
			}
		}
		for id := range again {
			batch = append(batch, id)
		}
		clear(again)
		slices.Sort(batch)
		running, err := d.wake(ctx, slices.Compact(batch))
		if err != nil && ctx.Err() == nil {
			d.log.WarnContext(ctx, "outbox: waking drains (the sweep will retry)", "tenants", len(batch), "err", err)
		}
		for _, id := range running {
			again[id] = true
		}
	}
}

// lock takes the tenant's drain lock on a connection of its own, for as long
// as the drain runs; ok is false when another drain holds it. The lock is
// the session's: if this process dies, PostgreSQL drops it with the
// connection, and the next drain goes ahead at once.
func (d *Drainer) lock(ctx context.Context, tenantID int64) (unlock func(), ok bool, err error) {
	sqlDB, err := d.cluster.ControlDB().DB()
	if err != nil {
		return nil, false, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("outbox: a connection for the drain lock: %w", err)
	}
	key := "switchboard outbox " + strconv.FormatInt(tenantID, 10)
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil || !ok {
		_ = conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("outbox: taking the drain lock: %w", err)
		}
		return nil, false, nil
	}
	return func() {
		// Unlock even if the job's context ended; a connection that cannot
		// is closed, which releases the lock too.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = conn.Close()
	}, true, nil
}

// Due lists the active tenants marked due on every cell server, oldest
// mark first on each, and 0 when the control plane's outbox holds events.
func (d *Drainer) Due(ctx context.Context) ([]int64, error) {
	var ids []int64
	if err := d.cluster.ControlDB().WithContext(ctx).Raw(`SELECT 0 WHERE EXISTS (SELECT 1 FROM control.outbox)`).Scan(&ids).Error; err != nil {
		return nil, fmt.Errorf("outbox: looking at the control plane's outbox: %w", err)
	}
	servers, err := d.cluster.CellServers(ctx)
	if err != nil {
		d.log.Warn("outbox: a cell server's marks are out of reach this sweep", "err", err)
	}
	var marked []int64
	for _, srv := range servers {
		var some []int64
		if err := srv.Admin().WithContext(ctx).Raw(`SELECT tenant_id FROM control.outbox_due ORDER BY due_since LIMIT 10000`).
			Scan(&some).Error; err != nil {
			return nil, fmt.Errorf("outbox: listing due tenants on %s: %w", srv.Location(), err)
		}
		marked = append(marked, some...)
	}
	if len(marked) == 0 {
		return ids, nil
	}
	var active []int64
	if err := d.cluster.ControlDB().WithContext(ctx).Raw(`SELECT id FROM control.tenants WHERE id IN ? AND status = 'active'`, marked).
		Scan(&active).Error; err != nil {
		return nil, fmt.Errorf("outbox: keeping active tenants: %w", err)
	}
	keep := make(map[int64]bool, len(active))
	for _, id := range active {
		keep[id] = true
	}
	for _, id := range marked {
		if keep[id] {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// marks is the handle of the server where t's due mark lives: its cell's.
func (d *Drainer) marks(ctx context.Context, t tenancy.Tenant) (*gorm.DB, error) {
	cell, err := d.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return nil, fmt.Errorf("outbox: reaching the cell of %s: %w", t.Slug, err)
	}
	return cell.Admin().WithContext(ctx), nil
}

// Drain hands every event of t's outbox to the subscribers and clears its
// mark. Exported for tests and the CLI; workers call it through the job.
func (d *Drainer) Drain(ctx context.Context, t tenancy.Tenant) (int, error) {
	total := 0
	marks, err := d.marks(ctx, t)
	if err != nil {
		return 0, err
	}
	for {
		gen, due, err := d.generation(marks, t.ID)
		if err != nil || !due {
			return total, err
		}
		n, err := d.drainEvents(ctx, t)
		total += n
		if err != nil {
			return total, err
		}
		// Cleared only at the generation read before draining: a mark that
		// committed meanwhile keeps the tenant due, and this loop goes round.
		res := marks.Exec(`DELETE FROM control.outbox_due WHERE tenant_id = ? AND generation = ?`, t.ID, gen)
		if res.Error != nil {
			return total, fmt.Errorf("outbox: clearing the mark of %s: %w", t.Slug, res.Error)
		}
		if res.RowsAffected == 1 {
			return total, nil
		}
	}
}

// DrainControl hands every event of the control plane's outbox to the
// subscribers (with the zero Tenant). An event that commits after its last
// read is picked up by the next drain, which its notification (or the
// sweep) starts.
func (d *Drainer) DrainControl(ctx context.Context) (int, error) {
	return d.drainBatches(ctx, tenancy.Tenant{}, func(last int64) (batch []Message, err error) {
		err = d.cluster.ControlDB().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return nextBatch(tx, "control.outbox", last, &batch)
		})
		return batch, err
	})
}

func (d *Drainer) generation(marks *gorm.DB, tenantID int64) (gen int64, due bool, err error) {
	var gens []int64
	if err := marks.Raw(`SELECT generation FROM control.outbox_due WHERE tenant_id = ?`, tenantID).
		Scan(&gens).Error; err != nil {
		return 0, false, fmt.Errorf("outbox: reading the mark of tenant %d: %w", tenantID, err)
	}
	if len(gens) == 0 {
		return 0, false, nil
	}
	return gens[0], true, nil
}

// drainEvents drains t's own outbox, inside its schema and role.
func (d *Drainer) drainEvents(ctx context.Context, t tenancy.Tenant) (int, error) {
	return d.drainBatches(ctx, t, func(last int64) (batch []Message, err error) {
		err = tenancy.Do(ctx, t, func(tx *gorm.DB) error { return nextBatch(tx, "outbox", last, &batch) })
		return batch, err
	})
}

// drainBatches hands batches to the subscribers until next finds none;
// next(last) deletes the events handled up to last (none when 0) and reads
// the next batch, in one transaction.
func (d *Drainer) drainBatches(ctx context.Context, t tenancy.Tenant, next func(last int64) ([]Message, error)) (int, error) {
	handled, last := 0, int64(0)
	for {
		batch, err := next(last)
		if err != nil {
			return handled, fmt.Errorf("outbox: reading the events of %q: %w", t.Slug, err)
		}
		if len(batch) == 0 {
			return handled, nil
		}
		if err := d.subs.dispatch(ctx, t, batch); err != nil {
			return handled, err
		}
		failpoint.Hit(failpoint.OutboxHandled)
		handled += len(batch)
		last = batch[len(batch)-1].ID
	}
}

// nextBatch deletes table's events up to last and reads the next batch.
func nextBatch(tx *gorm.DB, table string, last int64, batch *[]Message) error {
	if last > 0 {
		if err := tx.Exec(`DELETE FROM `+table+` WHERE id <= ?`, last).Error; err != nil {
			return fmt.Errorf("deleting handled events: %w", err)
		}
	}
	return tx.Raw(`SELECT id, kind, payload, created_at FROM `+table+` ORDER BY id LIMIT ?`, BatchSize).Scan(batch).Error
}

type drainWorker struct {
	river.WorkerDefaults[drainArgs]
	d *Drainer
}

// busyRetry is how soon a drain that found another one at work tries again:
// the other may be finishing just as a new event arrived.
const busyRetry = 200 * time.Millisecond

// Work drains one tenant's outbox, or the control plane's (tenant 0).
func (w *drainWorker) Work(ctx context.Context, job *river.Job[drainArgs]) error {
	unlock, ok, err := w.d.lock(ctx, job.Args.TenantID)
	if err != nil {
		return err
	}
	if !ok {
		return river.JobSnooze(busyRetry) // snoozing costs no attempt
	}
	defer unlock()
	if job.Args.TenantID == 0 {
		n, err := w.d.DrainControl(ctx)
		if err != nil {
			w.d.log.WarnContext(ctx, "outbox: control drain failed; retrying", "handled", n, "attempt", job.Attempt, "err", err)
		}
		return err
	}
	t, err := jobs.ResolveTenant(ctx, w.d.tenants, job.Args.TenantArgs)
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := w.d.Drain(ctx, t)
	if err != nil {
		w.d.log.WarnContext(ctx, "outbox: drain failed; retrying", "tenant", t.Slug, "handled", n, "attempt", job.Attempt, "err", err)
		return err
	}
	w.d.log.DebugContext(ctx, "outbox: drained", "tenant", t.Slug, "events", n, "duration", time.Since(start))
	return nil
}

type sweepWorker struct {
	river.WorkerDefaults[sweepArgs]
	d *Drainer
}

// Work wakes every due tenant; drains already waiting or running are kept.
func (w *sweepWorker) Work(ctx context.Context, _ *river.Job[sweepArgs]) error {
	ids, err := w.d.Due(ctx)
	if err != nil || len(ids) == 0 {
		return err
	}
	if err := w.d.Wake(ctx, ids...); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
