package tenants

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"switchboard/db"
	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Cell statuses: new tenants are placed only in open cells.
const (
	CellOpen     = "open"
	CellDraining = "draining"
	CellClosed   = "closed"
)

// DefaultCellCapacity is a new cell's capacity when none is given.
const DefaultCellCapacity = 1000

// Cell is a cell's control-plane record.
type Cell struct {
	Name      string    `gorm:"column:name;primaryKey" json:"name"`
	Server    string    `gorm:"column:server" json:"server"`
	Capacity  int       `gorm:"column:capacity" json:"capacity"`
	Status    string    `gorm:"column:status" json:"status"`
	LoginRole string    `gorm:"column:login_role" json:"login_role"`
	Dedicated bool      `gorm:"column:dedicated" json:"dedicated"`
	CreatedAt time.Time `gorm:"column:created_at" json:"created_at"`
}

// TableName maps Cell to the control plane.
func (Cell) TableName() string { return "control.cells" }

// CellInfo is a cell with what `cell list` shows about it.
type CellInfo struct {
	Cell
	Tenants int `json:"tenants"`
	// Connections open on the cell's server as its login role; -1 when the
	// server cannot be reached.
	Connections int    `json:"connections"`
	MinVersion  int    `json:"min_schema_version"`
	MaxVersion  int    `json:"max_schema_version"`
	Error       string `json:"error,omitempty"`
}

var forUpdate = clause.Locking{Strength: "UPDATE"}

// Errors of cell operations.
var (
	ErrNoCell          = fault.Kind(fault.NotFound, "no such cell")
	ErrCellFull        = fault.Kind(fault.Conflict, "cell full")
	ErrCellUnreachable = fault.Kind(fault.Invalid, "cell server unreachable")
)

// AddCellInput is what a new cell needs. Its server is the one
// database.cells.<name>.url names, or the control plane's.
type AddCellInput struct {
	Name      string
	Capacity  int // default DefaultCellCapacity
	Dedicated bool
}

// AddCell creates a cell: its server's cell tables (migrated when the
// server is not the control plane's), its login role, and its row. A server
// that does not answer is refused before anything is written.
func (s *Service) AddCell(ctx context.Context, in AddCellInput) (Cell, error) {
	if !tenancy.ValidCellName(in.Name) {
		return Cell{}, invalid("cell name %q must be 2-40 characters of a-z, 0-9 and '-', start with a letter and not end with '-'", in.Name)
	}
	if in.Capacity == 0 {
		in.Capacity = DefaultCellCapacity
	}
	if in.Capacity < 1 || in.Capacity > 1000000 {
		return Cell{}, invalid("capacity must be between 1 and 1000000 tenants, not %d", in.Capacity)
	}
	if _, err := s.cell(ctx, s.root(ctx), in.Name, false); err == nil {
		return Cell{}, fault.Newf(ErrConflict, "cell %q exists", in.Name)
	}
	srv, err := s.cluster.ServerFor(ctx, s.cluster.CellURL(in.Name))
	if err != nil {
		return Cell{}, fault.Newf(ErrCellUnreachable, "cell %q: %v", in.Name, err)
	}
	if srv.Ref() != tenancy.ControlServer {
		if _, err := db.MigrateServer(ctx, srv.Admin()); err != nil {
			return Cell{}, fmt.Errorf("preparing %s for cells: %w", srv.Location(), err)
		}
	}
	role := tenancy.CellRole(in.Name)
	if err := tenancy.EnsureLoginRole(ctx, srv.Admin(), role, s.cluster.CellPassword(in.Name), true); err != nil {
		return Cell{}, err
	}
	c := Cell{Name: in.Name, Server: srv.Ref(), Capacity: in.Capacity, Status: CellOpen, LoginRole: role, Dedicated: in.Dedicated}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Exec(`INSERT INTO control.cells (name, server, capacity, login_role, dedicated) VALUES (?, ?, ?, ?, ?)`,
			c.Name, c.Server, c.Capacity, c.LoginRole, c.Dedicated).Error
		if isUniqueViolation(err) {
			return fault.Newf(ErrConflict, "cell %q exists", in.Name)
		} else if err != nil {
			return fmt.Errorf("recording cell %q: %w", in.Name, err)
		}
		return audit.RecordPlatform(ctx, tx, "cell.added", in.Name, fmt.Sprintf("on %s, capacity %d", srv.Location(), in.Capacity))
	})
	if err != nil {
		return Cell{}, err
	}
	// Connect once as the new role, so a cell that cannot be entered is
	// known now rather than at its first tenant.
	if _, err := s.cluster.Cell(ctx, c.Name); err != nil {
		return Cell{}, fault.Newf(ErrCellUnreachable, "cell %q was added but cannot be entered: %v", c.Name, err)
	}
	s.log.InfoContext(ctx, "cell added", "cell", c.Name, "server", srv.Location(), "capacity", c.Capacity)
	return s.GetCell(ctx, c.Name)
}

// GetCell returns one cell.
func (s *Service) GetCell(ctx context.Context, name string) (Cell, error) {
	return s.cell(ctx, s.root(ctx), name, false)
}

// cell reads a cell, locking its row in tx when lock is set.
func (s *Service) cell(ctx context.Context, tx *gorm.DB, name string, lock bool) (Cell, error) {
	q := tx.WithContext(ctx).Where("name = ?", name)
	if lock {
		q = q.Clauses(forUpdate)
	}
	var c Cell
	err := q.Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Cell{}, fault.Newf(ErrNoCell, "no cell named %q (see switchboard cell list)", name)
	}
	if err != nil {
		return Cell{}, fmt.Errorf("reading cell %q: %w", name, err)
	}
	return c, nil
}

// DrainCell stops placing new tenants in the cell; its tenants stay.
func (s *Service) DrainCell(ctx context.Context, name string) (Cell, error) {
	return s.setCellStatus(ctx, name, CellDraining)
}

// OpenCell lets new tenants be placed in the cell again.
func (s *Service) OpenCell(ctx context.Context, name string) (Cell, error) {
	return s.setCellStatus(ctx, name, CellOpen)
}

func (s *Service) setCellStatus(ctx context.Context, name, status string) (Cell, error) {
	c, err := s.GetCell(ctx, name)
	if err != nil {
		return Cell{}, err
	}
	if c.Status == status {
		return c, nil
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE control.cells SET status = ? WHERE name = ?`, status, name).Error; err != nil {
			return fmt.Errorf("setting cell %q %s: %w", name, status, err)
		}
		return audit.RecordPlatform(ctx, tx, "cell.status_changed", name, audit.Changed("status", c.Status, status))
	})
	if err != nil {
		return Cell{}, err
	}
	return s.GetCell(ctx, name)
}

// ListCells returns every cell with its tenants, the connections its login
// role holds on its server, and its tenants' schema versions. Cells are
// visited in parallel; one whose server does not answer says so.
func (s *Service) ListCells(ctx context.Context) ([]CellInfo, error) {
	var cells []Cell
	if err := s.root(ctx).Order("name").Find(&cells).Error; err != nil {
		return nil, fmt.Errorf("listing cells: %w", err)
	}
	var counts []struct {
		Cell     string
		N        int
		Min, Max int
	}
	err := s.root(ctx).Raw(`SELECT cell, count(*) AS n, min(schema_version) AS min, max(schema_version) AS max
		FROM control.tenants GROUP BY cell`).Scan(&counts).Error
	if err != nil {
		return nil, fmt.Errorf("counting tenants per cell: %w", err)
	}
	out := make([]CellInfo, len(cells))
	for i, c := range cells {
		out[i] = CellInfo{Cell: c}
		for _, n := range counts {
			if n.Cell == c.Name {
				out[i].Tenants, out[i].MinVersion, out[i].MaxVersion = n.N, n.Min, n.Max
			}
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info := &out[i]
			info.Connections = -1
			cell, err := s.cluster.Cell(ctx, info.Name)
			if err != nil {
				info.Error = err.Error()
				return
			}
			if err := cell.Admin().WithContext(ctx).Raw(`SELECT count(*) FROM pg_stat_activity WHERE usename = ?`, info.LoginRole).
				Scan(&info.Connections).Error; err != nil {
				info.Error = err.Error()
			}
		}()
	}
	wg.Wait()
	return out, nil
}

// placeTenant picks and locks the cell a new tenant goes to, in tx: the
// named one, or the open shared cell with the most free capacity.
func (s *Service) placeTenant(ctx context.Context, tx *gorm.DB, name string) (Cell, error) {
	if name == "" {
		err := tx.WithContext(ctx).Raw(`SELECT c.name FROM control.cells c
			WHERE c.status = 'open' AND NOT c.dedicated
			ORDER BY c.capacity - (SELECT count(*) FROM control.tenants t WHERE t.cell = c.name) DESC, c.name LIMIT 1`).Scan(&name).Error
		if err != nil {
			return Cell{}, fmt.Errorf("placing tenant: %w", err)
		}
		if name == "" {
			return Cell{}, fault.Newf(ErrCellFull, "no open cell: open one with `switchboard cell open NAME` or add one with `switchboard cell add NAME`")
		}
	}
	c, err := s.cell(ctx, tx, name, true)
	if err != nil {
		return Cell{}, err
	}
	if c.Status != CellOpen {
		return Cell{}, fault.Newf(ErrCellFull, "cell %q is %s: new tenants go to open cells", name, c.Status)
	}
	var n int
	if err := tx.WithContext(ctx).Raw(`SELECT count(*) FROM control.tenants WHERE cell = ?`, name).Scan(&n).Error; err != nil {
		return Cell{}, fmt.Errorf("counting tenants of cell %q: %w", name, err)
	}
	if n >= c.Capacity {
		return Cell{}, fault.Newf(ErrCellFull, "cell %q is full (%d of %d tenants): add a cell with `switchboard cell add NAME`", name, n, c.Capacity)
	}
	return c, nil
}

// CheckCellServers refuses to go on when a cell server's own tables
// (rollups, outbox marks) are behind the binary or the server is not
// reachable: serve would otherwise write to tables it does not know.
func (s *Service) CheckCellServers(ctx context.Context) error {
	servers, err := s.cluster.CellServers(ctx)
	if err != nil {
		return fault.Newf(ErrCellUnreachable, "%v", err)
	}
	for _, srv := range servers[1:] { // the control plane's was checked with it
		if err := db.CheckServer(ctx, srv.Admin(), "cell server "+srv.Location()); err != nil {
			return err
		}
	}
	return nil
}

// MigrateCellServers brings every cell server's own tables to the binary's
// version (the control plane's server is migrated with the control plane)
// and returns the servers it changed.
func (s *Service) MigrateCellServers(ctx context.Context) ([]string, error) {
	servers, err := s.cluster.CellServers(ctx)
	if err != nil {
		return nil, fault.Newf(ErrCellUnreachable, "%v", err)
	}
	var changed []string
	for _, srv := range servers[1:] {
		applied, err := db.MigrateServer(ctx, srv.Admin())
		if err != nil {
			return changed, fmt.Errorf("migrating cell server %s: %w", srv.Location(), err)
		}
		if len(applied) > 0 {
			changed = append(changed, srv.Location())
		}
	}
	return changed, nil
}

// AdoptMemberships hands every tenant role that the control plane's login
// role is still a member of (an installation from before cells, or a
// provisioning that died mid-way) to its cell's login role, so that outside
// provisioning the control plane's role can become no tenant. It returns
// how many it handed over.
func (s *Service) AdoptMemberships(ctx context.Context) (int, error) {
	var rows []struct {
		ID   int64
		Cell string
	}
	err := s.root(ctx).Raw(`SELECT t.id, t.cell FROM control.tenants t
		JOIN pg_roles r ON r.rolname = t.role_name
		JOIN pg_auth_members m ON m.roleid = r.oid AND m.member = (SELECT oid FROM pg_roles WHERE rolname = current_user)
		ORDER BY t.id`).Scan(&rows).Error
	if err != nil {
		return 0, fmt.Errorf("finding tenant roles held by the control plane: %w", err)
	}
	for _, r := range rows {
		cell, err := s.cluster.Cell(ctx, r.Cell)
		if err != nil {
			return 0, err
		}
		if cell.Server != tenancy.ControlServer {
			continue // that role lives on another server; this one has a namesake at most
		}
		if err := s.root(ctx).Transaction(func(tx *gorm.DB) error { return tenancy.Seal(tx, r.ID, cell.Role) }); err != nil {
			return 0, err
		}
	}
	return len(rows), nil
}
