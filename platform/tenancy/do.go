package tenancy

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/platform/fault"
)

// Do runs fn in one transaction inside the tenant's schema, as the tenant's role.
//
// The transaction's first round trip is "BEGIN; SET LOCAL search_path ...;
// SET LOCAL ROLE ..." with both settings transaction-local, so nothing survives COMMIT or ROLLBACK and a
// connection returned to the pool carries no tenant. An error or panic in fn
// rolls back. If the connection cannot be rolled back cleanly it is discarded
// rather than returned to the pool. A statement invalidated by a concurrent
// schema change (SQLSTATE 0A000) makes Do retry fn once, so fn must not have
// effects outside the database that cannot be repeated.
func Do(ctx context.Context, t Tenant, fn func(tx *gorm.DB) error) error {
	err := do(ctx, t, fn)
	if isCachedPlanError(err) {
		err = do(ctx, t, fn)
	}
	return err
}

func do(ctx context.Context, t Tenant, fn func(tx *gorm.DB) error) (err error) {
	if t.cluster == nil {
		return ErrUnboundTenant
	}
	name := t.Schema()
	if err := validIdent(name); err != nil {
		return err
	}
	cell, err := t.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return fmt.Errorf("tenancy: reaching %s: %w", t.Slug, err)
	}
	pool := cell.poolFor(t.ID)
	conn, err := pool.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("tenancy: acquiring connection for %s: %w", t.Slug, err)
	}
	defer conn.Close()

	// One round trip: open the transaction and scope it. SET LOCAL is the
	// statement form of set_config(..., true) and measured ~20% cheaper here.
	// The name matched identPattern above, so it is safe unquoted; with no
	// arguments pgx uses the simple protocol, which allows several statements.
	enter := "BEGIN; SET LOCAL search_path = " + name + "; SET LOCAL ROLE " + name
	if _, err := conn.ExecContext(ctx, enter); err != nil {
		discard(conn)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "42704") {
			// The cell's login role is not (or no longer) a member, or the
			// role is gone from this server: the tenant moved cells and this
			// replica has not heard yet.
			return fmt.Errorf("%w: %s is not in cell %s", ErrMoved, t.Slug, t.Cell)
		}
		return fmt.Errorf("tenancy: entering %s: %w", t.Slug, err)
	}

	if pool.backends.enteredNow(conn, t.ID) {
		defer discard(conn) // before conn.Close (deferred first): a fresh backend replaces it
	}

	scoped := &scopedConn{Conn: conn}
	finished := false
	defer func() {
		if finished {
			return
		}
		// fn panicked: roll back, keep the connection only if that worked, re-panic.
		rollback(conn)
		if p := recover(); p != nil {
			panic(p)
		}
	}()

	tx := pool.db.Session(&gorm.Session{NewDB: true, Context: ctx})
	tx.Statement.ConnPool = scoped
	fnErr := fn(tx)
	finished = true
	if fnErr != nil {
		rollback(conn)
		return fnErr
	}
	// The commit carries a guard in the same round trip: if fn switched role
	// or search_path (SET ROLE is checked against the session user, so
	// PostgreSQL itself would allow it within the cell), the division by zero aborts the
	// transaction and nothing fn wrote is committed.
	guard := "SELECT 1 / (current_user = '" + name + "' AND current_setting('search_path') = '" + name + "')::int; COMMIT"
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), guard); err != nil {
		rollback(conn)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "22012" {
			return fmt.Errorf("%w (tenant %s)", ErrScopeEscaped, t.Slug)
		}
		return fmt.Errorf("tenancy: committing for %s: %w", t.Slug, err)
	}
	return nil
}

// Upgrade runs fn in one transaction inside the tenant's schema as its
// role, entered through its cell like Do, but without Do's statement filter
// and commit guard: tenant migrations change the schema and are the
// binary's own SQL. Only fleet migrations and moves (fence, verification)
// use it.
func Upgrade(ctx context.Context, t Tenant, fn func(tx *gorm.DB) error) error {
	if t.cluster == nil {
		return ErrUnboundTenant
	}
	cell, err := t.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return fmt.Errorf("tenancy: reaching %s: %w", t.Slug, err)
	}
	return cell.poolFor(t.ID).db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := Enter(tx, t.ID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// ErrMoved means the tenant is no longer in the cell it was bound to; a
// retry after the directory's change notice reaches the new cell.
var ErrMoved = fault.Kind(fault.Unavailable, "this account was just moved; try again in a moment")

// ErrScopeEscaped means fn changed its role or search_path; Do rolled back.
var ErrScopeEscaped = errors.New("tenancy: work inside Do changed its role or search_path; rolled back")

// rollback ends the transaction; if that fails the connection is discarded so
// that no half-open transaction (and its role) can be handed to someone else.
func rollback(conn *sql.Conn) {
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		discard(conn)
	}
}

// discard tells database/sql to close this connection instead of pooling it.
func discard(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}

func isCachedPlanError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "0A000"
}

// scopedConn is the connection GORM sees inside Do. Implementing
// gorm.TxCommitter makes GORM treat it as an open transaction, so a nested
// tx.Transaction uses a savepoint instead of issuing BEGIN/COMMIT of its own.
// It deliberately has no BeginTx and no way back to the *sql.DB.
type scopedConn struct {
	*sql.Conn
}

// scopeChange matches SQL that would move the transaction out of its tenant:
// SET ROLE / search_path / SESSION AUTHORIZATION, RESET, DISCARD, and the
// set_config spellings of the same. PostgreSQL checks SET ROLE against the
// session user, the cell's login role, a member of every tenant role of its
// cell, so it would allow these within the cell (never beyond it).
var scopeChange = regexp.MustCompile(`(?is)(^|;)\s*(set\s+(local\s+|session\s+)?(role|search_path|session\s+authorization)\b` +
	`|reset\s+(role|search_path|all|session)\b|discard\s+(all|plans|sequences|temp|temporary)\b)` +
	`|\bset_config\s*\(\s*'(role|search_path|session_authorization)'` +
	// The audit log is append-only by trigger; its owner (the tenant role)
	// could switch the trigger off, so no statement inside Do may.
	`|\bdisable\s+trigger\b|\balter\s+table\s+(if\s+exists\s+)?(only\s+)?("?\w+"?\.)?"?audit_log\b`)

// ErrScopeChange is returned for a statement inside Do that tries to change its tenant scope.
var ErrScopeChange = errors.New("tenancy: statements inside Do may not change role or search_path, nor alter the audit log")

// scopeWords are the words any statement matching scopeChange contains. The
// regular expression is costly on long statements (it was 15% of the CPU of
// an ingest); this cheap test keeps it off the statements that cannot match.
var scopeWords = []string{"role", "search_path", "session", "reset", "discard", "trigger", "audit_log", "set_config"}

func checkScope(query string) error {
	lower := strings.ToLower(query)
	for _, w := range scopeWords {
		if strings.Contains(lower, w) {
			if scopeChange.MatchString(query) {
				return ErrScopeChange
			}
			return nil
		}
	}
	return nil
}

// ExecContext refuses scope changes, then runs the statement.
func (s *scopedConn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := checkScope(query); err != nil {
		return nil, err
	}
	return s.Conn.ExecContext(ctx, query, args...)
}

// QueryContext refuses scope changes, then runs the query.
func (s *scopedConn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if err := checkScope(query); err != nil {
		return nil, err
	}
	return s.Conn.QueryContext(ctx, query, args...)
}

// QueryRowContext refuses scope changes by running a query that fails with
// the same message (sql.Row cannot carry an error of our own).
func (s *scopedConn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if err := checkScope(query); err != nil {
		return s.Conn.QueryRowContext(ctx, "SELECT '"+err.Error()+"'::int")
	}
	return s.Conn.QueryRowContext(ctx, query, args...)
}

// PrepareContext refuses scope changes, then prepares the statement.
func (s *scopedConn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if err := checkScope(query); err != nil {
		return nil, err
	}
	return s.Conn.PrepareContext(ctx, query)
}

// errOwnedByDo is returned when code inside Do tries to end the transaction itself.
var errOwnedByDo = errors.New("tenancy: the transaction belongs to tenancy.Do; return an error from fn to roll back")

// Commit refuses: Do commits when fn returns nil.
func (s *scopedConn) Commit() error { return errOwnedByDo }

// Rollback refuses: Do rolls back when fn returns an error.
func (s *scopedConn) Rollback() error { return errOwnedByDo }

// BeginTx is shadowed so nobody can start a second transaction on the connection.
func (s *scopedConn) BeginTx() error { return errOwnedByDo }
