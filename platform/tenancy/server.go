package tenancy

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// ControlServer is the server reference of cells that live on the control
// plane's own PostgreSQL server.
const ControlServer = "control"

// Server is one PostgreSQL server, reached as a login role with a pool.
// The control plane's server is reached as the application's login role;
// a cell's pool reaches its server as the cell's login role.
type Server struct {
	ref      string // ControlServer or Location of the URL
	config   *pgx.ConnConfig
	db       *gorm.DB
	sql      *sql.DB
	backends *backendTenants // tenants each backend entered (Do), when bounded
	builders *backendTenants // schemas each backend built (Build)
}

// PoolOptions sizes a connection pool.
type PoolOptions struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
	// MaxIdleTime closes connections idle this long, so that a cell nobody
	// works in holds no backend (and no catalog cache) on its server.
	MaxIdleTime time.Duration
	// TenantsPerBackend closes a connection once it has entered this many
	// distinct tenants (0: never), bounding each backend's catalog cache.
	TenantsPerBackend int
}

// openServer connects with config and sizes the pool; it pings before it returns.
func openServer(ctx context.Context, ref string, config *pgx.ConnConfig, pool PoolOptions) (*Server, error) {
	sqlDB := stdlib.OpenDB(*config)
	if pool.MaxOpen <= 0 {
		pool.MaxOpen = 20
	}
	if pool.MaxIdle <= 0 {
		pool.MaxIdle = pool.MaxOpen
	}
	if pool.MaxLifetime <= 0 {
		pool.MaxLifetime = 30 * time.Minute
	}
	sqlDB.SetMaxOpenConns(pool.MaxOpen)
	sqlDB.SetMaxIdleConns(pool.MaxIdle)
	sqlDB.SetConnMaxLifetime(pool.MaxLifetime)
	sqlDB.SetConnMaxIdleTime(pool.MaxIdleTime)
	db, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		QueryFields:            true,
		PrepareStmt:            false,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true, // pinged below, with a deadline
		Logger:                 logger.Default.LogMode(logger.Silent),
	})
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("opening database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connecting to %s as %s: %w", Location(config), config.User, err)
	}
	var backends *backendTenants
	if pool.TenantsPerBackend > 0 {
		backends = newBackendTenants(pool.TenantsPerBackend, pool.MaxOpen)
	}
	return &Server{ref: ref, config: config, db: db, sql: sqlDB, backends: backends,
		builders: newBackendTenants(schemasPerBuilder, pool.MaxOpen)}, nil
}

// Ref is how cells name this server: ControlServer or its Location.
func (s *Server) Ref() string { return s.ref }

// Location is the server's host, port and database, without credentials.
func (s *Server) Location() string { return Location(s.config) }

// Admin is the server's root handle, as the login role its URL names
// (CREATEROLE, no tenant memberships). Only control-plane owners use it.
func (s *Server) Admin() *gorm.DB { return s.db }

// Stats exposes pool statistics for metrics and tests.
func (s *Server) Stats() sql.DBStats { return s.sql.Stats() }

// Ping checks that the server answers.
func (s *Server) Ping(ctx context.Context) error { return s.sql.PingContext(ctx) }

func (s *Server) close() error { return s.sql.Close() }

// Build runs fn in one transaction as the server's administering login
// role. A backend that creates a schema keeps catalog cache entries for
// every relation it made, and PostgreSQL never trims them: one pooled
// connection that provisioned 5,000 tenants was measured at 1.8 GB. So a
// connection builds at most schemasPerBuilder schemas (about 5 MB of cache)
// and is then closed; a fresh one per schema cost a new backend and a
// SCRAM handshake on every provisioning.
func (s *Server) Build(ctx context.Context, fn func(tx *gorm.DB) error) error {
	conn, err := s.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", s.Location(), err)
	}
	defer conn.Close()
	tx := s.db.Session(&gorm.Session{NewDB: true, Context: ctx})
	tx.Statement.ConnPool = conn
	err = tx.Transaction(fn)
	if err != nil || s.builders.enteredNow(conn, buildSeq.Add(1)) {
		discard(conn) // after a failure, or once it has built its share
	}
	return err
}

// schemasPerBuilder is how many schemas one connection builds before it is
// replaced (see Build).
const schemasPerBuilder = 25

// buildSeq numbers builds: each is a schema no backend has seen.
var buildSeq atomic.Int64

// Tool is how a PostgreSQL client program (pg_dump, pg_restore, psql)
// reaches this server as the same login role: a connection string without
// the password, and the environment entry that carries it (so it never
// appears in a process listing).
func (s *Server) Tool() (dsn string, env []string) {
	host := s.config.Host
	kv := fmt.Sprintf("host='%s' port=%d dbname='%s' user='%s'", quoteKV(host), s.config.Port, quoteKV(s.config.Database), quoteKV(s.config.User))
	if s.config.TLSConfig != nil {
		kv += " sslmode=require"
	}
	if s.config.Password != "" {
		env = append(env, "PGPASSWORD="+s.config.Password)
	}
	return kv, env
}

func quoteKV(v string) string { return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) }

// Location is host:port/database of a connection configuration: how
// Switchboard names a server in tables and output, never with a password.
func Location(c *pgx.ConnConfig) string {
	host := c.Host
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	return fmt.Sprintf("%s:%d/%s", host, c.Port, c.Database)
}

// oneLine joins a multi-line error text (pgx lists every address it
// tried on a line of its own), for messages that must stay one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// parseURL reads a PostgreSQL URL or keyword/value string.
func parseURL(u string) (*pgx.ConnConfig, error) {
	c, err := pgx.ParseConfig(u)
	if err != nil {
		return nil, fmt.Errorf("reading database URL %s: %w", redact(u), err)
	}
	return c, nil
}

// redact hides the password of a URL for messages.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.User == nil {
		return "(unparseable URL)"
	}
	return p.Redacted()
}
