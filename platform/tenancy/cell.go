package tenancy

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// DefaultCell is the cell every installation starts with, on the control
// plane's own server; a tenant row that names no cell is in it.
const DefaultCell = "main"

// Cell is a group of tenants entered through one login role and one small
// pool on one server. The login role is NOINHERIT, not a superuser, and a
// member of exactly its tenants' roles, so a statement smuggled past Do's
// filter can become no tenant outside the cell.
type Cell struct {
	Name   string
	Role   string // the cell's login role
	Server string // ControlServer or the server's Location

	server *Server   // the server, as the login role that administers it
	pools  []*Server // the server, as the cell's login role; a tenant always uses pools[id % len]
}

// cellPoolShards is how many pools a cell's connections are split into (at
// most one per connection). A tenant always uses the same one, so each
// backend caches the catalogs of an eighth of the cell's tenants:
// PostgreSQL never trims a backend's catalog cache, and one that served 500
// schemas was measured at 188 MB. Fewer tenants per backend also means
// fewer cold caches under load spread over many tenants; backends that meet
// more anyway are replaced (DefaultTenantsPerBackend).
const cellPoolShards = 8

// CellStats is a pool's statistics.
type CellStats sql.DBStats

// Stats is the cell pool's statistics (open connections, waits), summed
// over its shards.
func (c *Cell) Stats() CellStats {
	var sum CellStats
	for _, p := range c.pools {
		st := p.Stats()
		sum.MaxOpenConnections += st.MaxOpenConnections
		sum.OpenConnections += st.OpenConnections
		sum.InUse += st.InUse
		sum.Idle += st.Idle
		sum.WaitCount += st.WaitCount
		sum.WaitDuration += st.WaitDuration
	}
	return sum
}

// poolFor is the pool for the tenant with this id: its home pool, so that
// each backend caches the catalogs of only a share of the cell's tenants;
// but when every connection of the home pool is busy and the next pool has
// one free, that one. Queueing behind a busy pool while the cell's other
// connections stood idle made the portal wait for a connection more than
// half of its time (bench, 16 concurrent page loads). Only the next pool:
// borrowing from any pool let every backend meet every tenant of the cell
// under load, so each grew to cache them all and was replaced every
// DefaultTenantsPerBackend tenants (ingest over 1,000 clients fell to 0.64
// of its rate over 20); with one neighbour a backend meets two shares.
func (c *Cell) poolFor(id int64) *Server {
	n := uint64(len(c.pools))
	i := uint64(id) % n
	home := c.pools[i]
	if st := home.Stats(); n == 1 || st.InUse < st.MaxOpenConnections {
		return home
	}
	next := c.pools[(i+1)%n]
	if st := next.Stats(); st.InUse < st.MaxOpenConnections {
		return next
	}
	return home
}

func (c *Cell) close() error {
	var errs []error
	for _, p := range c.pools {
		errs = append(errs, p.close())
	}
	return errors.Join(errs...)
}

// Admin is the root handle of the cell's server (as its administering login
// role, a member of no tenant role). Only control-plane owners use it.
func (c *Cell) Admin() *gorm.DB { return c.server.db }

// Tool is how a PostgreSQL client program reaches the cell's server as the
// cell's login role (see Server.Tool); with --role it can act as any tenant
// of the cell, and as no other.
func (c *Cell) Tool() (dsn string, env []string) { return c.pools[0].Tool() }

// Host is the cell's server.
func (c *Cell) Host() *Server { return c.server }

// Errors a cell lookup can give.
var (
	ErrUnknownCell     = errors.New("no such cell")
	ErrCellUnreachable = errors.New("cell server unreachable")
)

// unreachableError is a cell server that cannot be used, and why; it is
// ErrCellUnreachable to errors.Is, and its message is only the why.
type unreachableError struct {
	msg   string
	cause error
}

func (e *unreachableError) Error() string        { return e.msg }
func (e *unreachableError) Is(target error) bool { return target == ErrCellUnreachable }
func (e *unreachableError) Unwrap() error        { return e.cause }

func unreachable(cause error, format string, args ...any) error {
	return &unreachableError{msg: fmt.Sprintf(format, args...), cause: cause}
}

// cellName is the shape of a cell's name: it becomes part of a role name
// and of a configuration key.
var cellName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,38}[a-z0-9]$`)

// ValidCellName reports whether name can name a cell.
func ValidCellName(name string) bool { return cellName.MatchString(name) }

// CellRole is the login role of the named cell.
func CellRole(name string) string { return "sb_cell_" + strings.ReplaceAll(name, "-", "_") }

// Cell returns the named cell, connecting to its server as its login role
// on first use (creating the role if an upgrade or a crash left it missing).
func (c *Cluster) Cell(ctx context.Context, name string) (*Cell, error) {
	c.mu.RLock()
	cell := c.cells[name]
	c.mu.RUnlock()
	if cell != nil {
		return cell, nil
	}
	var row struct{ Server, LoginRole string }
	err := c.control.db.WithContext(ctx).Raw(`SELECT server, login_role FROM control.cells WHERE name = ?`, name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownCell, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading cell %q: %w", name, err)
	}
	srv, err := c.server(ctx, name, row.Server)
	if err != nil {
		return nil, err
	}
	pools, err := c.openCell(ctx, srv, name, row.LoginRole)
	if err != nil {
		return nil, err
	}
	cell = &Cell{Name: name, Role: row.LoginRole, Server: row.Server, server: srv, pools: pools}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.cells[name]; other != nil {
		_ = cell.close()
		return other, nil
	}
	c.cells[name] = cell
	return cell, nil
}

// Cells returns the cells this process has reached so far.
func (c *Cluster) Cells() []*Cell {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]*Cell, 0, len(c.cells))
	for _, cell := range c.cells {
		out = append(out, cell)
	}
	return out
}

// openCell connects to srv as the cell's login role, with the cell's
// connections split over up to cellPoolShards pools. A role that is missing is
// created; one whose password no longer matches the secret gets the
// derived one again.
func (c *Cluster) openCell(ctx context.Context, srv *Server, name, role string) ([]*Server, error) {
	password := c.CellPassword(name)
	if err := EnsureLoginRole(ctx, srv.db, role, password, false); err != nil {
		return nil, err
	}
	cfg := srv.config.Copy()
	cfg.User, cfg.Password = role, password
	shard := c.opts.CellPool
	shards := min(cellPoolShards, max(1, shard.MaxOpen))
	shard.MaxOpen = max(1, shard.MaxOpen/shards)
	shard.MaxIdle = 0
	var pools []*Server
	for len(pools) < shards {
		pool, err := openServer(ctx, srv.ref, cfg, shard)
		var pgErr *pgconn.PgError
		if len(pools) == 0 && errors.As(err, &pgErr) && pgErr.Code == "28P01" { // the secret changed since the role was made
			if err := EnsureLoginRole(ctx, srv.db, role, password, true); err != nil {
				return nil, err
			}
			pool, err = openServer(ctx, srv.ref, cfg, shard)
		}
		if err != nil {
			for _, p := range pools {
				_ = p.close()
			}
			return nil, unreachable(err, "cell %q: %s", name, oneLine(err))
		}
		pools = append(pools, pool)
	}
	return pools, nil
}

// CellPassword is the login password of the named cell, derived from the
// configured secret: no password is stored anywhere, and the server keeps
// only a SCRAM verifier computed here.
func (c *Cluster) CellPassword(name string) string {
	mac := hmac.New(sha256.New, []byte(c.opts.Secret))
	mac.Write([]byte("switchboard cell login\x00" + name))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// EnsureLoginRole creates role on the server of admin as a NOINHERIT login
// role with no privileges of its own, or, with resetPassword, sets its
// password again. The password is sent as a SCRAM-SHA-256 verifier so that
// it never appears in the server's statement log.
func EnsureLoginRole(ctx context.Context, admin *gorm.DB, role, password string, resetPassword bool) error {
	if !loginRolePattern.MatchString(role) {
		return fmt.Errorf("tenancy: %q is not a cell login role name", role)
	}
	verifier, err := scramVerifier(password)
	if err != nil {
		return err
	}
	var exists bool
	if err := admin.WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ?)`, role).Scan(&exists).Error; err != nil {
		return fmt.Errorf("looking up login role %s: %w", role, err)
	}
	q := `"` + role + `"`
	switch {
	case !exists:
		err = admin.WithContext(ctx).Exec(`CREATE ROLE ` + q + ` LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '` + verifier + `'`).Error
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505") {
			err = nil // created concurrently by another process
		}
	case resetPassword:
		err = admin.WithContext(ctx).Exec(`ALTER ROLE ` + q + ` PASSWORD '` + verifier + `'`).Error
	}
	if err != nil {
		return fmt.Errorf("creating login role %s: %w", role, err)
	}
	return nil
}

var loginRolePattern = regexp.MustCompile(`^sb_cell_[a-z][a-z0-9_]{0,39}$`)

// scramVerifier computes PostgreSQL's stored form of a SCRAM-SHA-256 password.
func scramVerifier(password string) (string, error) {
	const iterations = 4096
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salting a password: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", fmt.Errorf("hashing a password: %w", err)
	}
	clientKey := hmacSHA256(salted, "Client Key")
	stored := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(salt), b64(stored[:]), b64(serverKey)), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// Forget closes the named cell's pool in this process (its cell was removed).
func (c *Cluster) Forget(name string) {
	c.mu.Lock()
	cell := c.cells[name]
	delete(c.cells, name)
	c.mu.Unlock()
	if cell != nil {
		_ = cell.close()
	}
}
