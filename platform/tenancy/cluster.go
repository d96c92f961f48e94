package tenancy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// Cluster is the control plane's database and the cells whose servers hold
// the tenant schemas. It owns the root connection pool; only control-plane
// owners may reach that pool (through ControlDB), everyone else goes
// through Do, which enters a tenant through its cell's pool.
type Cluster struct {
	control *Server
	opts    Options

	mu      sync.RWMutex
	servers map[string]*Server // by reference, the control server included
	cells   map[string]*Cell
}

// Options configures a Cluster.
type Options struct {
	Pool PoolOptions // the control plane's pool
	// CellPool sizes each cell's pool; default 8 connections, closed after
	// a minute idle or after entering DefaultTenantsPerBackend tenants
	// (TenantsPerBackend < 0: no bound).
	CellPool PoolOptions
	// CellURLs maps a cell's name to the URL of its server (database.cells.<name>.url),
	// as a login role that may create roles there. Cells without one live
	// on the control plane's server.
	CellURLs map[string]string
	// Secret derives the cells' login passwords; empty means the password
	// of the control plane's URL.
	Secret string
}

// Open connects to the control plane's database at url as the
// application's login role. Cells are reached on first use.
func Open(ctx context.Context, url string, opts Options) (*Cluster, error) {
	cfg, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	control, err := openServer(ctx, ControlServer, cfg, opts.Pool)
	if err != nil {
		return nil, err
	}
	if opts.Secret == "" {
		opts.Secret = cfg.Password
	}
	if opts.CellPool.MaxOpen <= 0 {
		opts.CellPool.MaxOpen = 8
	}
	if opts.CellPool.MaxIdleTime <= 0 {
		opts.CellPool.MaxIdleTime = time.Minute
	}
	switch {
	case opts.CellPool.TenantsPerBackend == 0:
		opts.CellPool.TenantsPerBackend = DefaultTenantsPerBackend
	case opts.CellPool.TenantsPerBackend < 0:
		opts.CellPool.TenantsPerBackend = 0 // asked for no bound
	}
	return &Cluster{control: control, opts: opts,
		servers: map[string]*Server{ControlServer: control}, cells: map[string]*Cell{}}, nil
}

// Bind attaches a tenant loaded from the control plane to this cluster so Do
// can reach it through its cell (DefaultCell when the tenant names none).
func (c *Cluster) Bind(t Tenant) Tenant {
	if t.Cell == "" {
		t.Cell = DefaultCell
	}
	t.cluster = c
	return t
}

// ControlDB is the root handle. Only control-plane owners (tenants, identity,
// dashboard, platform) may use it; an architecture test enforces that.
func (c *Cluster) ControlDB() *gorm.DB { return c.control.db }

// Control is the control plane's server.
func (c *Cluster) Control() *Server { return c.control }

// Ping checks that the control plane's database answers.
func (c *Cluster) Ping(ctx context.Context) error { return c.control.Ping(ctx) }

// Stats exposes the control pool's statistics for metrics and tests.
func (c *Cluster) Stats() CellStats { return CellStats(c.control.Stats()) }

// Servers returns every server a cell in use lives on, the control plane's
// first, then by reference.
func (c *Cluster) Servers() []*Server {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Server, 0, len(c.servers))
	for _, s := range c.servers {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].ref == ControlServer) != (out[j].ref == ControlServer) {
			return out[i].ref == ControlServer
		}
		return out[i].ref < out[j].ref
	})
	return out
}

// Close closes every pool.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, cell := range c.cells {
		errs = append(errs, cell.close())
	}
	for _, s := range c.servers {
		errs = append(errs, s.close())
	}
	c.cells, c.servers = map[string]*Cell{}, map[string]*Server{}
	return errors.Join(errs...)
}

// server returns the server a cell record points at, connecting on first use.
func (c *Cluster) server(ctx context.Context, cell, ref string) (*Server, error) {
	if ref == ControlServer {
		return c.control, nil
	}
	u := c.opts.CellURLs[cell]
	if u == "" {
		return nil, unreachable(nil, "cell %q lives on %s, but database.cells.%s.url is not configured", cell, ref, cell)
	}
	cfg, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	if got := Location(cfg); got != ref {
		return nil, unreachable(nil, "cell %q lives on %s, but database.cells.%s.url points at %s", cell, ref, cell, got)
	}
	return c.connectServer(ctx, ref, cfg)
}

// ServerFor returns the server that url names: the control plane's when
// url is empty or the same place, otherwise a connection to it (checked,
// then kept). `cell add` uses it to place a new cell.
func (c *Cluster) ServerFor(ctx context.Context, url string) (*Server, error) {
	if url == "" {
		return c.control, nil
	}
	cfg, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	if Location(cfg) == c.control.Location() {
		return c.control, nil
	}
	return c.connectServer(ctx, Location(cfg), cfg)
}

// connectServer returns the kept connection to ref, or makes one.
func (c *Cluster) connectServer(ctx context.Context, ref string, cfg *pgx.ConnConfig) (*Server, error) {
	c.mu.RLock()
	s := c.servers[ref]
	c.mu.RUnlock()
	if s != nil {
		return s, nil
	}
	s, err := openServer(ctx, ref, cfg, PoolOptions{MaxOpen: 4, MaxIdleTime: time.Minute})
	if err != nil {
		return nil, unreachable(err, "%s", oneLine(err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.servers[ref]; other != nil {
		_ = s.close()
		return other, nil
	}
	c.servers[ref] = s
	return s, nil
}

// CellURL is the configured URL of the named cell's server, "" for the
// control plane's own.
func (c *Cluster) CellURL(name string) string { return c.opts.CellURLs[name] }

// CellServers returns every server that holds a cell, the control plane's
// first: where the cross-client views read one summary each. Servers that
// cannot be reached are left out and named in the error, so that callers
// can go on with the others (a far server down must not stop the near one).
func (c *Cluster) CellServers(ctx context.Context) ([]*Server, error) {
	var rows []struct{ Server, Name string }
	err := c.control.db.WithContext(ctx).Raw(`SELECT DISTINCT ON (server) server, name FROM control.cells ORDER BY server, name`).Scan(&rows).Error
	if err != nil {
		return []*Server{c.control}, fmt.Errorf("listing cell servers: %w", err)
	}
	out := []*Server{c.control}
	var errs []error
	for _, r := range rows {
		if r.Server == ControlServer {
			continue
		}
		s, err := c.server(ctx, r.Name, r.Server)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}
