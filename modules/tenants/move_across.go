package tenants

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// moveAcross moves a tenant to a cell on another server, step by step (see
// the top of move.go), from the recorded step when an earlier run was
// killed with the fence up.
func (s *Service) moveAcross(ctx context.Context, t Tenant, mv *MoveRecord, from, to *tenancy.Cell, p progress) (MoveResult, error) {
	res := MoveResult{From: from.Name, To: to.Name}
	step := ""
	if mv != nil && t.Status == tenancy.StatusMoving {
		// A run was killed with the fence up: nothing can have changed on
		// the source since its last recorded step.
		step, res.Resumed = mv.Step, true
		p.report("resumed", 0, fmt.Sprintf("the move to cell %s from step %s; writes refused since %s", to.Name, step, stamp(mv.FencedAt)))
	} else {
		// A new move, or one whose failure lifted the fence (the source took
		// writes since): fence, then copy from scratch.
		begin := time.Now()
		var prior string
		err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
			var err error
			if prior, err = lockForMove(tx, t, from.Name, tenancy.StatusActive, tenancy.StatusSuspended); err != nil {
				return err
			}
			if err := s.moveRoom(ctx, tx, to.Name, t.ID, true); err != nil {
				return err
			}
			if err := recordMove(tx, t, from.Name, to.Name, prior, true); err != nil {
				return err
			}
			if err := tx.Exec(`UPDATE control.tenants SET status = 'moving', updated_at = now() WHERE id = ?`, t.ID).Error; err != nil {
				return fmt.Errorf("fencing %q: %w", t.Slug, err)
			}
			return audit.RecordPlatform(ctx, tx, "tenant.move_started", t.Slug,
				fmt.Sprintf("cell %s → cell %s (%s); writes refused until the switch-over", from.Name, to.Name, to.Host().Location()))
		})
		if err != nil {
			return res, err
		}
		res.Resumed = mv != nil
		step = MoveStarted
		if err := s.movePoint(ctx, MoveStarted); err != nil {
			return res, s.acrossFailed(ctx, t, from, to, step, err)
		}
		p.report(MoveStarted, time.Since(begin), fmt.Sprintf("status moving: the API and portals refuse writes (was %s)", prior))
	}

	scope := func(c *tenancy.Cell) tenancy.Tenant {
		return s.cluster.Bind(tenancy.Tenant{ID: t.ID, Slug: t.Slug, Cell: c.Name})
	}
	for step != MoveFlipped {
		begin := time.Now()
		var next, detail string
		var err error
		switch step {
		case MoveStarted:
			next, err = MoveFenced, fenceWrites(ctx, scope(from))
			detail = fmt.Sprintf("the tenant's role can no longer write its tables on %s", serverName(from))
		case MoveFenced:
			next = MoveCopied
			detail, err = s.copyTenant(ctx, t, from, to)
		case MoveCopied:
			next = MoveVerified
			detail, err = s.verifyCopy(ctx, t, from, to, scope(from), scope(to))
		case MoveVerified:
			next = MoveFlipped
			res.Fenced, err = s.flip(ctx, t, from, to)
			detail = "the directory names cell " + to.Name + "; every replica follows its notification"
		default:
			err = fmt.Errorf("unknown recorded step %q", step)
		}
		if err == nil && next != MoveFlipped { // the flip records its step itself
			err = s.root(ctx).Exec(`UPDATE control.tenant_moves SET step = ?, updated_at = now() WHERE tenant_id = ?`, next, t.ID).Error
		}
		if err != nil {
			return res, s.acrossFailed(ctx, t, from, to, step, err)
		}
		step = next
		if err := s.movePoint(ctx, step); err != nil {
			if step == MoveFlipped {
				return res, s.cleanupFailed(ctx, t, to, err)
			}
			return res, s.acrossFailed(ctx, t, from, to, step, err)
		}
		p.report(step, time.Since(begin), detail)
	}

	begin := time.Now()
	mv, err := s.moveRecord(ctx, t.ID)
	if err != nil {
		return res, s.cleanupFailed(ctx, t, to, err)
	}
	if mv != nil {
		if res.Fenced == 0 {
			res.Fenced = fencedFor(mv)
		}
		detail, err := s.finishMove(ctx, t, *mv)
		if err != nil {
			return res, s.cleanupFailed(ctx, t, to, err)
		}
		p.report(MoveCleaned, time.Since(begin), detail)
	}
	s.log.InfoContext(ctx, "tenant moved", "tenant", t.Slug, "from", from.Name, "to", to.Name, "fenced", res.Fenced)
	res.Tenant, err = s.Get(ctx, t.Slug)
	return res, err
}

// fenceWrites takes away, on the source, the tenant role's right to change
// its own tables, so that nothing can commit there that the copy would
// lose: not a request (the status already refuses those), not a River job
// or an outbox drain, which enter the tenant through Do and never look at
// the status, not a fleet migration (its bookkeeping row is an INSERT).
//
// First an EXCLUSIVE lock on every table waits for the writers already
// inside (it conflicts with their ROW EXCLUSIVE, not with readers nor
// pg_dump's ACCESS SHARE), then INSERT, UPDATE, DELETE and TRUNCATE on the
// tables and USAGE and UPDATE on the sequences are revoked from the role,
// and the lock is released at once. A writer that queued behind the lock
// is checked against the new privileges when it gets it, and fails with
// 42501: a job retries later, and reaches the target once the directory
// switched. SELECT stays, so reads and pg_dump go on.
//
// Why a privilege and not a lock held until the flip: the privilege is
// durable, so the fence holds exactly as long as the moving status does,
// across a kill of this process (a lock dies with its session, and the
// writers queued behind it would then commit on a copy about to be
// dropped, or after pg_dump's snapshot); writers fail fast instead of
// holding connections in a queue for the whole copy; and nothing waits on
// this process's connections. The lock is only the drain.
//
// It runs as the tenant's role (the owner may grant and revoke its own
// privileges), entered through the source cell. The grant first makes a
// rerun able to take the lock again (LOCK needs the write privileges); it
// is never visible, being in the same transaction as the revoke.
func fenceWrites(ctx context.Context, t tenancy.Tenant) error {
	name := tenancy.SchemaName(t.ID)
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		err = tenancy.Upgrade(ctx, t, func(tx *gorm.DB) error {
			tables, err := schemaTables(tx, name)
			if err != nil {
				return err
			}
			stmt := fmt.Sprintf(`SET LOCAL lock_timeout = '%dms';
				GRANT ALL ON ALL TABLES IN SCHEMA %[2]s TO %[2]s; GRANT ALL ON ALL SEQUENCES IN SCHEMA %[2]s TO %[2]s;`,
				moveLockTimeout.Milliseconds(), name)
			if len(tables) > 0 {
				stmt += `LOCK TABLE ` + strings.Join(tables, ", ") + ` IN EXCLUSIVE MODE;`
			}
			stmt += fmt.Sprintf(`REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA %[1]s FROM %[1]s;
				REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA %[1]s FROM %[1]s`, name)
			return tx.Exec(stmt).Error
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "40P01" { // a writer locked in another order: try again
			break
		}
	}
	switch {
	case isLockTimeout(err):
		return fmt.Errorf("fencing writes: a transaction of the tenant held its tables for over %v; try again: %w", moveLockTimeout, err)
	case err != nil:
		return fmt.Errorf("fencing writes: %w", err)
	}
	return nil
}

// unfenceWrites gives the tenant's role back every privilege on its tables
// and sequences on the source (the owner's default), after a failed move.
func unfenceWrites(ctx context.Context, t tenancy.Tenant) error {
	name := tenancy.SchemaName(t.ID)
	err := tenancy.Upgrade(ctx, t, func(tx *gorm.DB) error {
		return tx.Exec(fmt.Sprintf(`GRANT ALL ON ALL TABLES IN SCHEMA %[1]s TO %[1]s; GRANT ALL ON ALL SEQUENCES IN SCHEMA %[1]s TO %[1]s`, name)).Error
	})
	if err != nil {
		return fmt.Errorf("lifting the write fence: %w", err)
	}
	return nil
}

// schemaTables lists the ordinary tables of a schema, quoted and qualified.
func schemaTables(tx *gorm.DB, schema string) ([]string, error) {
	var names []string
	err := tx.Raw(`SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r' ORDER BY c.relname COLLATE "C"`, schema).
		Scan(&names).Error
	if err != nil {
		return nil, fmt.Errorf("listing the tables of %s: %w", schema, err)
	}
	return names, nil
}

func isLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55P03"
}

// flip switches the tenant over in one control-plane transaction: the
// directory names the target cell and the tenant gets its prior status
// back; the trigger on control.tenants notifies every replica. The move's
// row stays, at step flipped, until the old copy is gone. It returns how
// long writes were fenced, by the control plane's clock.
func (s *Service) flip(ctx context.Context, t Tenant, from, to *tenancy.Cell) (time.Duration, error) {
	var fenced float64
	err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := lockForMove(tx, t, from.Name, tenancy.StatusMoving); err != nil {
			return err
		}
		if err := s.moveRoom(ctx, tx, to.Name, t.ID, false); err != nil {
			return err
		}
		err := tx.Exec(`UPDATE control.tenants t SET cell = ?, status = m.prior_status, updated_at = now()
			FROM control.tenant_moves m WHERE t.id = ? AND m.tenant_id = t.id`, to.Name, t.ID).Error
		if err != nil {
			return fmt.Errorf("switching %q to cell %s: %w", t.Slug, to.Name, err)
		}
		err = tx.Raw(`UPDATE control.tenant_moves SET step = 'flipped', flipped_at = now(), updated_at = now(), error = NULL
			WHERE tenant_id = ? RETURNING extract(epoch FROM flipped_at - fenced_at)::float8`, t.ID).Row().Scan(&fenced)
		if err != nil {
			return fmt.Errorf("recording the switch-over of %q: %w", t.Slug, err)
		}
		took := time.Duration(fenced * float64(time.Second))
		return audit.RecordPlatform(ctx, tx, "tenant.moved", t.Slug, fmt.Sprintf("cell %s (%s) → cell %s (%s); writes refused for %s",
			from.Name, serverName(from), to.Name, serverName(to), briefly(took)))
	})
	return time.Duration(fenced * float64(time.Second)), err
}

// finishMove removes what a switched-over move left: between servers, the
// old schema and role with the tenant's rows of the old server's tables;
// within one server, the old cell's membership. Then the move's row. Every
// part is idempotent, so a rerun finishes a cleanup that failed.
func (s *Service) finishMove(ctx context.Context, t Tenant, mv MoveRecord) (string, error) {
	fromRec, err := s.GetCell(ctx, mv.FromCell)
	if err != nil {
		return "", err
	}
	toRec, err := s.GetCell(ctx, mv.ToCell)
	if err != nil {
		return "", err
	}
	from, err := s.reachCell(ctx, mv.FromCell)
	if err != nil {
		return "", err
	}
	var detail string
	if fromRec.Server == toRec.Server {
		err = from.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			return tenancy.MoveMembership(tx, t.ID, fromRec.LoginRole, toRec.LoginRole)
		})
		detail = fmt.Sprintf("cell %s's login role no longer holds the tenant", mv.FromCell)
	} else {
		err = from.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec(`SET LOCAL lock_timeout = '10s'`).Error; err != nil {
				return err
			}
			if err := tenancy.DropSchema(tx, t.ID); err != nil {
				return err
			}
			return forgetOnServer(tx, t.ID)
		})
		detail = fmt.Sprintf("the old schema, role and rollup rows dropped on %s", serverName(from))
	}
	if err != nil {
		return "", err
	}
	if err := s.root(ctx).Exec(`DELETE FROM control.tenant_moves WHERE tenant_id = ? AND step = 'flipped'`, t.ID).Error; err != nil {
		return "", fmt.Errorf("closing the move of %q: %w", t.Slug, err)
	}
	return detail, nil
}

// acrossFailed handles an error before the switch-over: unless the flip
// committed after all (an error in COMMIT's answer), it lifts the fence on
// the source, gives the tenant its prior status back and drops the partial
// copy on the target (each best effort: a rerun redoes them), and keeps the
// error on the move's row. If the fence cannot be lifted the status stays
// moving, so that writes meet a clear 503 rather than a refusal from the
// database.
func (s *Service) acrossFailed(ctx context.Context, t Tenant, from, to *tenancy.Cell, step string, cause error) error {
	ctx = context.WithoutCancel(ctx)
	if cur, err := s.Get(ctx, t.Slug); err == nil && cur.Cell == to.Name {
		return s.cleanupFailed(ctx, t, to, cause)
	}
	msg := cause.Error()
	if err := unfenceWrites(ctx, s.cluster.Bind(tenancy.Tenant{ID: t.ID, Slug: t.Slug, Cell: from.Name})); err != nil {
		msg += "; " + err.Error()
		s.recordMoveError(ctx, t, msg)
		return fmt.Errorf("moving %q to cell %s failed after step %s, and its writes stay refused (%v); run the same command again: %w",
			t.Slug, to.Name, step, err, cause)
	}
	err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Exec(`UPDATE control.tenants t SET status = m.prior_status, updated_at = now()
			FROM control.tenant_moves m WHERE t.id = ? AND m.tenant_id = t.id AND t.status = 'moving' AND t.cell = m.from_cell`, t.ID).Error
		if err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE control.tenant_moves SET error = ?, updated_at = now() WHERE tenant_id = ?`, msg, t.ID).Error; err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "tenant.move_failed", t.Slug, fmt.Sprintf("to cell %s, after step %s; writes taken again", to.Name, step))
	})
	if err != nil {
		s.log.ErrorContext(ctx, "restoring a failed move's status", "tenant", t.Slug, "err", err)
		return fmt.Errorf("moving %q to cell %s failed after step %s, and restoring its status failed too (%v); run the same command again: %w",
			t.Slug, to.Name, step, err, cause)
	}
	if err := s.dropCopy(ctx, t, to); err != nil {
		s.log.WarnContext(ctx, "dropping a failed move's partial copy (a rerun drops it)", "tenant", t.Slug, "err", err)
	}
	return fmt.Errorf("moving %q to cell %s failed after step %s; it stays in cell %s and takes writes again (run the same command to start over): %w",
		t.Slug, to.Name, step, from.Name, cause)
}

// cleanupFailed reports an error after the switch-over, keeping it on the
// move's row: the tenant is served from the target, and a rerun finishes
// letting go of it on the source (dropping the old copy, or ending the old
// cell's membership).
func (s *Service) cleanupFailed(ctx context.Context, t Tenant, to *tenancy.Cell, cause error) error {
	s.recordMoveError(context.WithoutCancel(ctx), t, cause.Error())
	return fmt.Errorf("tenant %q is served from cell %s, but letting go of it in its old cell failed (run the same command again to finish): %w", t.Slug, to.Name, cause)
}

// briefly is a short pause for people: "222 ms" under a second, else as
// humane.Duration says it ("1 min 4 s").
func briefly(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return humane.Duration(d)
}
