package tenancy

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Cluster is one PostgreSQL cluster holding the control plane and tenant
// schemas. It owns the root connection pool; only control-plane owners may
// reach that pool (through ControlDB), everyone else goes through Do.
type Cluster struct {
	name string
	url  string
	db   *gorm.DB
	sql  *sql.DB
}

// PoolOptions sizes the connection pool.
type PoolOptions struct {
	MaxOpen     int
	MaxIdle     int
	MaxLifetime time.Duration
}

// Open connects to the database at url as the application's login role.
func Open(ctx context.Context, url string, pool PoolOptions) (*Cluster, error) {
	db, err := gorm.Open(postgres.New(postgres.Config{DSN: url}), &gorm.Config{
		QueryFields:            true,
		PrepareStmt:            false,
		SkipDefaultTransaction: true,
		Logger:                 logger.Default.LogMode(logger.Silent),
	})
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
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
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("connecting to database: %w", err)
	}
	return &Cluster{name: "default", url: url, db: db, sql: sqlDB}, nil
}

// Name is the cluster's name as recorded on each tenant row.
func (c *Cluster) Name() string { return c.name }

// Bind attaches a tenant loaded from the control plane to this cluster so Do can reach it.
func (c *Cluster) Bind(t Tenant) Tenant {
	t.cluster = c
	return t
}

// ControlDB is the root handle. Only control-plane owners (tenants, identity,
// dashboard, platform) may use it; an architecture test enforces that.
func (c *Cluster) ControlDB() *gorm.DB { return c.db }

// Ping checks that the database answers.
func (c *Cluster) Ping(ctx context.Context) error { return c.sql.PingContext(ctx) }

// Stats exposes pool statistics for metrics and tests.
func (c *Cluster) Stats() sql.DBStats { return c.sql.Stats() }

// Close closes the pool.
func (c *Cluster) Close() error { return c.sql.Close() }
