package tenancy

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// Entering a tenant costs no round trip of its own: Do leaves its entry
// (BEGIN and the tenant scope) pending on the connection, and the
// connection sends it in one pipeline with the first statement inside Do.
// A single-row read in Do thus takes two round trips (entry with the read,
// then the guarded COMMIT) instead of three.

// entryConnector makes pgx connections that can carry a pending entry.
type entryConnector struct{ driver.Connector }

// Connect wraps the pgx connection.
func (c entryConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &entryConn{Conn: conn.(*stdlib.Conn)}, nil
}

// openPool is a database/sql pool of connections that can carry an entry.
func openPool(config *pgx.ConnConfig) *sql.DB {
	return sql.OpenDB(entryConnector{stdlib.GetConnector(*config)})
}

// doEntry is a Do's pending BEGIN and scope.
type doEntry struct {
	schema  string            // the tenant's schema, also the name of its role
	refused func(error) error // what a refused entry means to Do's caller
}

// scopeSQL scopes the transaction to the tenant in one statement; both
// settings are transaction-local, so nothing survives COMMIT or ROLLBACK.
// set_config('role', ...) is checked exactly like SET LOCAL ROLE.
const scopeSQL = "SELECT set_config('search_path', $1, true), set_config('role', $1, true)"

// entryConn is a pgx connection with, at most, one pending entry.
type entryConn struct {
	*stdlib.Conn
	pending *doEntry
}

// setEntry leaves e pending on the connection behind conn; nil clears it.
func setEntry(conn *sql.Conn, e *doEntry) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*entryConn)
		if !ok {
			return fmt.Errorf("tenancy: connection of type %T cannot carry an entry", dc)
		}
		c.pending = e
		return nil
	})
}

// entryPending reports whether the entry on conn was never sent: nothing
// ran inside Do, so there is no transaction to end.
func entryPending(conn *sql.Conn) bool {
	pending := false
	_ = conn.Raw(func(dc any) error {
		c, ok := dc.(*entryConn)
		pending = ok && c.pending != nil
		return nil
	})
	return pending
}

// take removes the pending entry, once nothing can stop it being sent: a
// statement after a failed first one must not run outside the tenant.
func (c *entryConn) take() *doEntry {
	e := c.pending
	c.pending = nil
	return e
}

// ResetSession drops a pending entry before the pool hands the connection out.
func (c *entryConn) ResetSession(ctx context.Context) error {
	c.pending = nil
	return c.Conn.ResetSession(ctx)
}

// enter sends e on its own, for statements that cannot share its pipeline.
func (c *entryConn) enter(ctx context.Context, e *doEntry) error {
	// The schema name was validated by Do; with no arguments pgx uses the
	// simple protocol, which allows several statements in one round trip.
	_, err := c.Conn.ExecContext(ctx, "BEGIN; SET LOCAL search_path = "+e.schema+"; SET LOCAL ROLE "+e.schema, nil)
	if err != nil {
		return e.refused(err)
	}
	return nil
}

// PrepareContext sends a pending entry first: a prepared statement is
// parsed on its own, and must be parsed inside the tenant's schema.
func (c *entryConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if c.pending != nil {
		if err := c.enter(ctx, c.take()); err != nil {
			return nil, err
		}
	}
	return c.Conn.PrepareContext(ctx, query)
}

// ExecContext runs the statement, with a pending entry in the same round trip.
func (c *entryConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.pending == nil {
		return c.Conn.ExecContext(ctx, query, args)
	}
	if len(args) == 0 || !untypedArgs(args) {
		// Without arguments the statement may be several, which only the
		// simple protocol carries; pgx sends those that way.
		if err := c.enter(ctx, c.take()); err != nil {
			return nil, err
		}
		return c.Conn.ExecContext(ctx, query, args)
	}
	p, rr, err := c.sendWithEntry(ctx, query, args)
	if err != nil {
		return nil, err
	}
	tag, err := rr.Close()
	if closeErr := p.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

// QueryContext runs the query, with a pending entry in the same round trip.
func (c *entryConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.pending == nil {
		return c.Conn.QueryContext(ctx, query, args)
	}
	if !untypedArgs(args) {
		if err := c.enter(ctx, c.take()); err != nil {
			return nil, err
		}
		return c.Conn.QueryContext(ctx, query, args)
	}
	p, rr, err := c.sendWithEntry(ctx, query, args)
	if err != nil {
		return nil, err
	}
	return newEntryRows(c.Conn.Conn().TypeMap(), p, rr)
}

// sendWithEntry sends BEGIN, the scope and the statement in one pipeline
// and reads up to the statement's result. The statement is parsed after
// the scope is set, so its names resolve in the tenant's schema. Its
// arguments go in text format with types left to the server, as pgx's
// QueryExecModeExec does: no statement is prepared, so no cached plan or
// description from another tenant's schema is reused.
func (c *entryConn) sendWithEntry(ctx context.Context, query string, args []driver.NamedValue) (*pgconn.Pipeline, *pgconn.ResultReader, error) {
	conn := c.Conn.Conn()
	values := make([]any, len(args))
	for i, a := range args {
		values[i] = a.Value
	}
	var eqb pgx.ExtendedQueryBuilder
	if err := eqb.Build(conn.TypeMap(), nil, values); err != nil {
		return nil, nil, err
	}
	e := c.take()
	p := conn.PgConn().StartPipeline(ctx)
	p.SendQueryParams("BEGIN", nil, nil, nil, nil)
	p.SendQueryParams(scopeSQL, [][]byte{[]byte(e.schema)}, nil, nil, nil)
	p.SendQueryParams(query, eqb.ParamValues, nil, eqb.ParamFormats, eqb.ResultFormats)
	p.SendPipelineSync()
	if err := p.Flush(); err != nil {
		_ = p.Close()
		return nil, nil, err
	}
	for range 2 { // BEGIN, then the scope
		if err := discardResult(p); err != nil {
			_ = p.Close()
			return nil, nil, e.refused(err)
		}
	}
	rr, err := nextResult(p)
	if err != nil {
		_ = p.Close()
		return nil, nil, err
	}
	return p, rr, nil
}

// untypedArgs reports whether args mean the same whatever type the server
// gives their parameters. A byte slice does not: pgx encodes it as bytea
// when the parameter's type is unknown, but as text when it knows the
// parameter is json or jsonb. Such a statement goes after the entry
// instead, described as usual.
func untypedArgs(args []driver.NamedValue) bool {
	for _, a := range args {
		v := a.Value
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && rv.IsNil() {
			continue // NULL, whatever the type; a nil Valuer must not be called
		}
		if valuer, ok := v.(driver.Valuer); ok {
			var err error
			if v, err = valuer.Value(); err != nil {
				return false // pgx reports the error on the usual path
			}
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return false
		}
	}
	return true
}

// nextResult is the pipeline's next statement result.
func nextResult(p *pgconn.Pipeline) (*pgconn.ResultReader, error) {
	res, err := p.GetResults()
	if err != nil {
		return nil, err
	}
	rr, ok := res.(*pgconn.ResultReader)
	if !ok {
		return nil, fmt.Errorf("tenancy: pipeline answered %T where a statement result was due", res)
	}
	return rr, nil
}

// discardResult reads the pipeline's next statement result to its end.
func discardResult(p *pgconn.Pipeline) error {
	rr, err := nextResult(p)
	if err != nil {
		return err
	}
	_, err = rr.Close()
	return err
}

// entryRefused is how Do sees an entry PostgreSQL refused: the cell's
// login role is not (or no longer) a member of the tenant's role, or the
// role is gone from this server.
func entryRefused(t Tenant) func(error) error {
	return func(err error) error {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42501" || pgErr.Code == "42704") {
			// The tenant moved cells and this replica has not heard yet.
			return fmt.Errorf("%w: %s is not in cell %s", ErrMoved, t.Slug, t.Cell)
		}
		return fmt.Errorf("tenancy: entering %s: %w", t.Slug, err)
	}
}
