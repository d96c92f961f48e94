package tenants

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/failpoint"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Moving a tenant to another cell.
//
// Between two cells of one server nothing is copied: the tenant's role
// changes hands from one cell's login role to the other's (see moveWithin).
//
// Between servers a move goes through recorded steps (control.tenant_moves,
// one row per tenant, step = the last one finished), each committed before
// the next begins, so that a killed move resumes where it stopped:
//
//  1. started: the tenant's status becomes moving, its prior status and
//     the target recorded. Every replica hears of it through the directory's
//     notification and answers writes with 503; reads are still served.
//  2. fenced: on the source, the tenant's role loses INSERT, UPDATE, DELETE
//     and TRUNCATE on its own tables (and USAGE on its sequences), after an
//     EXCLUSIVE lock on every table waited for the writers already inside.
//     See fenceWrites for why a privilege and not a held lock.
//  3. copied: pg_dump of the schema as the tenant's role, restored on the
//     target under the tenant's role created there, the tenant's rows of
//     the server tables (rollups, outbox marks) copied, the role handed to
//     the target cell. A copy is always made from scratch: whatever an
//     unfinished one left on the target is dropped first.
//  4. verified: the same structure, and per table the same row count and
//     checksum, on both servers, read as the tenant's role on each.
//  5. flipped: one control-plane transaction points the tenant at the
//     target cell and gives it back its prior status; the directory's
//     notification sends every replica there. The row stays, at this step.
//  6. the old schema and role are dropped on the source with the tenant's
//     rows of its server tables, and the row is deleted.
//
// pg_dump and pg_restore rather than logical replication: a tenant is one
// schema of tens of megabytes, which copies in seconds (100,000 alerts: a
// 27 MB archive, about two seconds fenced), and a copy under a write fence
// needs nothing on either server beyond the client programs and the login
// roles Switchboard already has. Replication would need wal_level=logical
// and a publication and a slot per move on the source (a slot left behind
// by a killed move holds WAL until someone drops it), CREATE SUBSCRIPTION
// on the target, which PostgreSQL 15 allows only superusers, and still the
// schema, its functions and triggers and the sequences' positions copied
// by other means, since it carries rows only. It would shorten the fence
// to the catch-up; that pays off only for tenants far larger than these.
//
// A failure before the flip (an error, not a kill) lifts the fence: the
// source takes writes again, the status is restored, the partial copy is
// dropped, and the row keeps its error for `tenant move --status`. A rerun
// then fences again and copies from scratch, since the source may have
// changed. A kill leaves the fence in place (status moving, privileges
// revoked), so reads go on from the source and the rerun continues from
// the recorded step. After the flip the tenant is served from the target
// whatever happens; a failed cleanup is finished by the rerun.

// Steps of a move between servers, as control.tenant_moves.step records the
// last one finished.
const (
	MoveStarted  = "started"  // status moving, prior status and target recorded
	MoveFenced   = "fenced"   // the tenant's role can no longer write on the source
	MoveCopied   = "copied"   // the copy made on the target and handed to its cell
	MoveVerified = "verified" // the copy checked against the source
	MoveFlipped  = "flipped"  // the directory names the target; the source not yet let go
	// MoveCleaned is reported (never recorded) once the source let go.
	MoveCleaned = "cleaned"
)

// moveRestored is the point inside the copy where the archive is restored
// on the target but not yet handed to the target cell.
const moveRestored = "restored"

// movePoints are the failpoints reached after each step (and inside the copy).
var movePoints = map[string]string{
	MoveStarted: failpoint.MoveStarted, MoveFenced: failpoint.MoveFenced, moveRestored: failpoint.MoveRestored,
	MoveCopied: failpoint.MoveCopied, MoveVerified: failpoint.MoveVerified, MoveFlipped: failpoint.MoveFlipped,
}

// ErrMove refuses a move that clashes with where the tenant is or with
// another move of it.
var ErrMove = fault.Kind(fault.Conflict, "cannot move")

// moveLockTimeout bounds how long the write fence waits for the tenant's
// running writers, and so how long it queues new ones behind it.
const moveLockTimeout = 5 * time.Second

// MoveRecord is a move that has not finished, as control.tenant_moves
// records it.
type MoveRecord struct {
	TenantID    int64      `gorm:"column:tenant_id;primaryKey" json:"tenant_id"`
	FromCell    string     `gorm:"column:from_cell" json:"from_cell"`
	ToCell      string     `gorm:"column:to_cell" json:"to_cell"`
	Step        string     `gorm:"column:step" json:"step"`
	PriorStatus string     `gorm:"column:prior_status" json:"prior_status"`
	StartedAt   time.Time  `gorm:"column:started_at" json:"started_at"`
	UpdatedAt   time.Time  `gorm:"column:updated_at" json:"updated_at"`
	FencedAt    *time.Time `gorm:"column:fenced_at" json:"fenced_at,omitempty"`
	FlippedAt   *time.Time `gorm:"column:flipped_at" json:"flipped_at,omitempty"`
	Error       *string    `gorm:"column:error" json:"error,omitempty"`
}

// TableName maps MoveRecord to the control plane.
func (MoveRecord) TableName() string { return "control.tenant_moves" }

// MoveInput is what a move needs.
type MoveInput struct {
	Slug string
	To   string // the target cell
	// Progress, if set, is told of each step as it finishes.
	Progress func(MoveProgress)
}

// MoveProgress is one finished step of a move.
type MoveProgress struct {
	Step   string // a Move* step, or "resumed" when an earlier run's steps are kept
	Took   time.Duration
	Detail string
}

// MoveResult is a finished move.
type MoveResult struct {
	Tenant     Tenant
	From, To   string // cells
	SameServer bool   // only memberships changed, nothing was copied
	Resumed    bool   // an earlier run's move was continued
	// Fenced is how long writes were refused, from the fence to the flip,
	// as the control plane's clock measured it (across runs, for a resumed
	// move); zero for a move within one server, which needs no fence.
	Fenced time.Duration
	Took   time.Duration // this run
}

// Move moves a tenant to another cell: within its server by handing its
// role over, to another server by fencing writes, copying, verifying and
// switching over (see the comment at the top of this file). Rerunning it
// for a tenant whose move did not finish continues that move. Only one move
// of a tenant runs at a time.
func (s *Service) Move(ctx context.Context, in MoveInput) (MoveResult, error) {
	start := time.Now()
	if in.To == "" {
		return MoveResult{}, invalid("a target cell is required (--to CELL)")
	}
	t, err := s.Get(ctx, in.Slug)
	if err != nil {
		return MoveResult{}, err
	}
	var res MoveResult
	err = s.withMoveLock(ctx, t, func() error {
		res, err = s.move(ctx, in)
		return err
	})
	res.Took = time.Since(start)
	return res, err
}

// MoveStatus returns the tenant and its unfinished move, nil when none.
func (s *Service) MoveStatus(ctx context.Context, slug string) (Tenant, *MoveRecord, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Tenant{}, nil, err
	}
	mv, err := s.moveRecord(ctx, t.ID)
	return t, mv, err
}

// move runs under the tenant's move lock: it reads the tenant again, since
// a move that held the lock before may have changed it.
func (s *Service) move(ctx context.Context, in MoveInput) (MoveResult, error) {
	p := progress(in.Progress)
	t, err := s.Get(ctx, in.Slug)
	if err != nil {
		return MoveResult{}, err
	}
	mv, err := s.moveRecord(ctx, t.ID)
	if err != nil {
		return MoveResult{}, err
	}
	if mv != nil && mv.Step == MoveFlipped {
		// Switched over before; only the old copy is left to remove.
		p.report("resumed", 0, fmt.Sprintf("the move to cell %s was switched over at %s; removing the old copy", mv.ToCell, stamp(mv.FlippedAt)))
		begin := time.Now()
		detail, err := s.finishMove(ctx, t, *mv)
		if err != nil {
			s.recordMoveError(context.WithoutCancel(ctx), t, err.Error())
			return MoveResult{}, fmt.Errorf("tenant %q is served from cell %s, but letting go of it in cell %s failed again (run the same command again to finish): %w",
				t.Slug, mv.ToCell, mv.FromCell, err)
		}
		p.report(MoveCleaned, time.Since(begin), detail)
		if t, err = s.Get(ctx, in.Slug); err != nil {
			return MoveResult{}, err
		}
		if in.To == t.Cell {
			// A move within one server records no fence.
			return MoveResult{Tenant: t, From: mv.FromCell, To: mv.ToCell, Resumed: true, SameServer: mv.FencedAt == nil, Fenced: fencedFor(mv)}, nil
		}
		mv = nil // finished: what was asked is a new move
	}
	if mv != nil && mv.ToCell != in.To {
		if t.Status == tenancy.StatusMoving {
			return MoveResult{}, fault.Newf(ErrMove, "tenant %q is being moved to cell %s (last step: %s): finish that move with `switchboard tenant move %s --to %s`",
				t.Slug, mv.ToCell, mv.Step, t.Slug, mv.ToCell)
		}
		// That move failed and lifted its fence (and dropped its copy, or
		// tried to): this one replaces its record.
		s.log.InfoContext(ctx, "a failed move is replaced", "tenant", t.Slug, "was_to", mv.ToCell, "to", in.To)
		mv = nil
	}
	if err := movable(t, mv); err != nil {
		return MoveResult{}, err
	}
	if _, err := s.GetCell(ctx, in.To); err != nil {
		return MoveResult{}, err
	}
	if t.Cell == in.To {
		return MoveResult{}, fault.Newf(ErrMove, "tenant %q is already in cell %s", t.Slug, in.To)
	}
	from, err := s.reachCell(ctx, t.Cell)
	if err != nil {
		return MoveResult{}, err
	}
	to, err := s.reachCell(ctx, in.To)
	if err != nil {
		return MoveResult{}, err
	}
	if from.Server == to.Server {
		return s.moveWithin(ctx, t, mv, from, to, p)
	}
	same, err := oneServer(ctx, from.Admin(), to.Admin())
	if err != nil {
		return MoveResult{}, err
	}
	if same {
		return MoveResult{}, fault.Newf(ErrInvalid, "cells %s (%s) and %s (%s) are on one PostgreSQL server under two names: correct database.cells.%s.url",
			from.Name, from.Host().Location(), to.Name, to.Host().Location(), to.Name)
	}
	return s.moveAcross(ctx, t, mv, from, to, p)
}

// movable refuses tenants whose status does not allow a move: one being
// provisioned or deleted. A tenant that is moving may only continue its
// own recorded move.
func movable(t Tenant, mv *MoveRecord) error {
	switch {
	case t.Status == tenancy.StatusActive, t.Status == tenancy.StatusSuspended:
		return nil
	case t.Status == tenancy.StatusMoving && mv != nil:
		return nil
	}
	return fault.Newf(ErrStatus, "tenant %q is %s: only an active or suspended tenant can be moved", t.Slug, t.Status)
}

// reachCell returns the named cell, connected; a cell whose server does not
// answer (or is not configured here) is the operator's to fix.
func (s *Service) reachCell(ctx context.Context, name string) (*tenancy.Cell, error) {
	c, err := s.cluster.Cell(ctx, name)
	switch {
	case errors.Is(err, tenancy.ErrUnknownCell):
		return nil, fault.Newf(ErrNoCell, "no cell named %q (see switchboard cell list)", name)
	case err != nil:
		return nil, fault.Newf(ErrCellUnreachable, "cell %q: %v", name, err)
	}
	return c, nil
}

// oneServer reports whether two administering handles reach the same
// PostgreSQL server (same port, same start): two cells configured with two
// spellings of one server's address. Roles are server-wide, so a copy there
// would collide with the original, and dropping a "partial copy" would drop
// the tenant itself.
func oneServer(ctx context.Context, a, b *gorm.DB) (bool, error) {
	const q = `SELECT current_setting('port') || '@' || extract(epoch FROM pg_postmaster_start_time())::text`
	var x, y string
	if err := a.WithContext(ctx).Raw(q).Row().Scan(&x); err != nil {
		return false, fmt.Errorf("identifying the source server: %w", err)
	}
	if err := b.WithContext(ctx).Raw(q).Row().Scan(&y); err != nil {
		return false, fmt.Errorf("identifying the target server: %w", err)
	}
	return x == y, nil
}

// withMoveLock runs fn holding a session advisory lock for the tenant's
// move on a connection of its own: a second `tenant move` of the same
// tenant is refused instead of racing the first; the lock goes with the
// connection if this process dies.
func (s *Service) withMoveLock(ctx context.Context, t Tenant, fn func() error) error {
	sqlDB, err := s.root(ctx).DB()
	if err != nil {
		return err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return fmt.Errorf("a connection for the move lock: %w", err)
	}
	defer conn.Close()
	key := "switchboard move " + strconv.FormatInt(t.ID, 10)
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, key).Scan(&ok); err != nil {
		return fmt.Errorf("taking the move lock of %q: %w", t.Slug, err)
	}
	if !ok {
		return fault.Newf(ErrMove, "another `switchboard tenant move %s` is running", t.Slug)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.ExecContext(uctx, `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, key); err != nil {
			// Closing a connection that cannot unlock would pool it locked.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return fn()
}

// moveRecord returns the tenant's unfinished move, nil when none.
func (s *Service) moveRecord(ctx context.Context, id int64) (*MoveRecord, error) {
	var mv MoveRecord
	err := s.root(ctx).Where("tenant_id = ?", id).Take(&mv).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the move of tenant %d: %w", id, err)
	}
	return &mv, nil
}

// lockForMove locks the tenant's control row in tx (fleet migrations and
// status changes take the same lock) and checks it is still in cell from
// with one of the given statuses.
func lockForMove(tx *gorm.DB, t Tenant, from string, statuses ...string) (status string, err error) {
	var cell string
	if err := tx.Raw(`SELECT status, cell FROM control.tenants WHERE id = ? FOR UPDATE`, t.ID).Row().Scan(&status, &cell); err != nil {
		return "", fmt.Errorf("locking tenant %q: %w", t.Slug, err)
	}
	if cell != from {
		return "", fault.Newf(ErrMove, "tenant %q moved to cell %s meanwhile", t.Slug, cell)
	}
	for _, ok := range statuses {
		if status == ok {
			return status, nil
		}
	}
	return "", fault.Newf(ErrStatus, "tenant %q became %s meanwhile", t.Slug, status)
}

// moveRoom locks the target cell's row in tx and checks that it takes one
// more tenant, by placeTenant's rules (open, under capacity), counting the
// moves already on their way in. At the switch-over the cell need only
// have room: draining it meanwhile does not strand a copied tenant.
func (s *Service) moveRoom(ctx context.Context, tx *gorm.DB, to string, id int64, mustBeOpen bool) error {
	c, err := s.cell(ctx, tx, to, true)
	if err != nil {
		return err
	}
	if mustBeOpen && c.Status != CellOpen {
		return fault.Newf(ErrCellFull, "cell %q is %s: tenants move only into open cells", to, c.Status)
	}
	var n int
	err = tx.Raw(`SELECT (SELECT count(*) FROM control.tenants WHERE cell = @cell AND id <> @id)
		+ (SELECT count(*) FROM control.tenant_moves WHERE to_cell = @cell AND step <> 'flipped' AND tenant_id <> @id)`,
		map[string]any{"cell": to, "id": id}).Row().Scan(&n)
	if err != nil {
		return fmt.Errorf("counting tenants of cell %q: %w", to, err)
	}
	if n >= c.Capacity {
		return fault.Newf(ErrCellFull, "cell %q is full (%d of %d tenants, counting moves on their way in): add a cell with `switchboard cell add NAME`",
			to, n, c.Capacity)
	}
	return nil
}

// moveWithin moves a tenant between two cells of one server: no data is
// copied, the tenant's role changes hands. On the control plane's server
// that and the directory change are one transaction. On another server it
// takes three, ordered so the tenant is served at every moment: the target
// cell's role becomes a member too (Seal, whose revoke of the
// administering login is a no-op here), the directory switches, the old
// cell's role stops being a member. The move is recorded meanwhile, so a
// rerun finishes what a kill interrupted.
func (s *Service) moveWithin(ctx context.Context, t Tenant, mv *MoveRecord, from, to *tenancy.Cell, p progress) (MoveResult, error) {
	res := MoveResult{From: from.Name, To: to.Name, SameServer: true, Resumed: mv != nil}
	begin := time.Now()
	summary := fmt.Sprintf("cell %s → cell %s on %s; memberships only", from.Name, to.Name, serverName(from))
	if from.Server == tenancy.ControlServer {
		err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
			if _, err := lockForMove(tx, t, from.Name, tenancy.StatusActive, tenancy.StatusSuspended); err != nil {
				return err
			}
			if err := s.moveRoom(ctx, tx, to.Name, t.ID, true); err != nil {
				return err
			}
			if err := tenancy.MoveMembership(tx, t.ID, from.Role, to.Role); err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE control.tenants SET cell = ?, updated_at = now() WHERE id = ?`, to.Name, t.ID).Error; err != nil {
				return fmt.Errorf("recording %q in cell %s: %w", t.Slug, to.Name, err)
			}
			if err := tx.Exec(`DELETE FROM control.tenant_moves WHERE tenant_id = ?`, t.ID).Error; err != nil {
				return fmt.Errorf("clearing an earlier move of %q: %w", t.Slug, err)
			}
			return audit.RecordPlatform(ctx, tx, "tenant.moved", t.Slug, summary)
		})
		if err != nil {
			return res, err
		}
	} else {
		err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
			status, err := lockForMove(tx, t, from.Name, tenancy.StatusActive, tenancy.StatusSuspended)
			if err != nil {
				return err
			}
			if err := s.moveRoom(ctx, tx, to.Name, t.ID, true); err != nil {
				return err
			}
			return recordMove(tx, t, from.Name, to.Name, status, false)
		})
		if err != nil {
			return res, err
		}
		if err := s.movePoint(ctx, MoveStarted); err != nil {
			return res, s.withinFailed(ctx, t, from, to, err)
		}
		if err := from.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error { return tenancy.Seal(tx, t.ID, to.Role) }); err != nil {
			return res, s.withinFailed(ctx, t, from, to, err)
		}
		err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
			if _, err := lockForMove(tx, t, from.Name, tenancy.StatusActive, tenancy.StatusSuspended); err != nil {
				return err
			}
			if err := s.moveRoom(ctx, tx, to.Name, t.ID, false); err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE control.tenants SET cell = ?, updated_at = now() WHERE id = ?`, to.Name, t.ID).Error; err != nil {
				return fmt.Errorf("recording %q in cell %s: %w", t.Slug, to.Name, err)
			}
			if err := tx.Exec(`UPDATE control.tenant_moves SET step = 'flipped', flipped_at = now(), updated_at = now(), error = NULL
				WHERE tenant_id = ?`, t.ID).Error; err != nil {
				return fmt.Errorf("recording the switch-over of %q: %w", t.Slug, err)
			}
			return audit.RecordPlatform(ctx, tx, "tenant.moved", t.Slug, summary)
		})
		if err != nil {
			return res, s.withinFailed(ctx, t, from, to, err)
		}
		if err := s.movePoint(ctx, MoveFlipped); err != nil {
			return res, s.cleanupFailed(ctx, t, to, err)
		}
		mv, err := s.moveRecord(ctx, t.ID)
		if err != nil || mv == nil {
			return res, err
		}
		if _, err := s.finishMove(ctx, t, *mv); err != nil {
			return res, s.cleanupFailed(ctx, t, to, err)
		}
	}
	p.report(MoveFlipped, time.Since(begin), summary)
	s.log.InfoContext(ctx, "tenant moved", "tenant", t.Slug, "from", from.Name, "to", to.Name, "server", serverName(from))
	var err error
	res.Tenant, err = s.Get(ctx, t.Slug)
	return res, err
}

// withinFailed undoes the target cell's membership of a move within one
// server that failed before its switch-over (best effort: a rerun redoes
// it) and records the error.
func (s *Service) withinFailed(ctx context.Context, t Tenant, from, to *tenancy.Cell, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if cur, err := s.Get(ctx, t.Slug); err == nil && cur.Cell == from.Name {
		if err := from.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return tenancy.MoveMembership(tx, t.ID, to.Role, from.Role)
		}); err != nil {
			s.log.WarnContext(ctx, "undoing a failed move's membership", "tenant", t.Slug, "err", err)
		}
	}
	s.recordMoveError(ctx, t, cause.Error())
	return fmt.Errorf("moving %q to cell %s failed; it stays in cell %s (run the same command again to retry): %w", t.Slug, to.Name, from.Name, cause)
}

// recordMove writes the move's row at step started in tx; fenced says
// whether the status becomes moving (a move between servers) and the
// fence's time starts now.
func recordMove(tx *gorm.DB, t Tenant, from, to, prior string, fenced bool) error {
	err := tx.Exec(`INSERT INTO control.tenant_moves (tenant_id, from_cell, to_cell, step, prior_status, fenced_at)
		VALUES (@id, @from, @to, 'started', @prior, CASE WHEN @fenced THEN now() END)
		ON CONFLICT (tenant_id) DO UPDATE SET from_cell = EXCLUDED.from_cell, to_cell = EXCLUDED.to_cell, step = 'started',
			prior_status = EXCLUDED.prior_status, fenced_at = EXCLUDED.fenced_at, flipped_at = NULL, error = NULL, updated_at = now()`,
		map[string]any{"id": t.ID, "from": from, "to": to, "prior": prior, "fenced": fenced}).Error
	if err != nil {
		return fmt.Errorf("recording the move of %q: %w", t.Slug, err)
	}
	return nil
}

// recordMoveError keeps a failed move's error on its row (best effort: the
// error is returned to the caller anyway).
func (s *Service) recordMoveError(ctx context.Context, t Tenant, msg string) {
	if err := s.root(ctx).Exec(`UPDATE control.tenant_moves SET error = ?, updated_at = now() WHERE tenant_id = ?`, msg, t.ID).Error; err != nil {
		s.log.ErrorContext(ctx, "recording a move's failure", "tenant", t.Slug, "err", err)
	}
}

// movePoint is reached after each step: the failpoint of that step, then
// the test hook, if the context carries one.
func (s *Service) movePoint(ctx context.Context, point string) error {
	failpoint.Hit(movePoints[point])
	if hook, ok := ctx.Value(moveHookKey{}).(func(string) error); ok {
		return hook(point)
	}
	return nil
}

// moveHookKey carries a test's hook, func(step string) error, run at each
// point a move passes; an error it returns fails the move there. Only this
// package's tests set it (withMoveHook).
type moveHookKey struct{}

// progress reports finished steps to the caller's function, if any.
type progress func(MoveProgress)

func (p progress) report(step string, took time.Duration, detail string) {
	if p != nil {
		p(MoveProgress{Step: step, Took: took, Detail: detail})
	}
}

// fencedFor is how long a switched-over move refused writes.
func fencedFor(mv *MoveRecord) time.Duration {
	if mv == nil || mv.FencedAt == nil || mv.FlippedAt == nil {
		return 0
	}
	return mv.FlippedAt.Sub(*mv.FencedAt)
}

// serverName is how progress and audit entries name a cell's server.
func serverName(c *tenancy.Cell) string {
	if c.Server == tenancy.ControlServer {
		return "the control plane's server"
	}
	return c.Host().Location()
}

// stamp formats an optional time for messages.
func stamp(t *time.Time) string {
	if t == nil {
		return "an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}
