package tenants

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/modules/audit"
	"switchboard/platform/certcache"
	"switchboard/platform/failpoint"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Service provisions and manages tenants. The CLI, the console and the API
// all go through it.
type Service struct {
	cluster    *tenancy.Cluster
	migrations db.Set
	log        *slog.Logger
	export     ExportConfig

	dns           TXTResolver
	lookupTimeout time.Duration
	consoleHosts  map[string]bool
	trustLocal    bool // *.localhost verifies without DNS (Options.TrustLocalhost)

	settings settingsCache // clients' settings for their portals (settings.go)
}

// Options configures a Service.
type Options struct {
	Migrations db.Set // tenant-plane migrations; defaults to the embedded set
	Logger     *slog.Logger
	Export     ExportConfig
	// Resolver answers the TXT lookups that verify custom domains; nil
	// means the system resolver.
	Resolver TXTResolver
	// LookupTimeout bounds one verification lookup; zero means 5 seconds.
	LookupTimeout time.Duration
	// ConsoleHosts are the staff console's hostnames, never given to a client.
	ConsoleHosts []string
	// TrustLocalhost verifies *.localhost hostnames without asking DNS
	// (development: browsers resolve them to this machine, and no DNS can
	// hold their TXT record). Off, they are refused as unprovable.
	TrustLocalhost bool
}

// NewService returns the tenants service over the given cluster.
func NewService(cluster *tenancy.Cluster, opts Options) *Service {
	if opts.Migrations.Plane == "" {
		opts.Migrations = db.Tenant()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Resolver == nil {
		opts.Resolver = DNSResolver("")
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = defaultLookupTimeout
	}
	console := map[string]bool{}
	for _, h := range opts.ConsoleHosts {
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		console[strings.TrimSuffix(strings.ToLower(h), ".")] = true
	}
	return &Service{cluster: cluster, migrations: opts.Migrations, log: opts.Logger, export: opts.Export,
		dns: opts.Resolver, lookupTimeout: opts.LookupTimeout, consoleHosts: console, trustLocal: opts.TrustLocalhost}
}

// TargetVersion is the tenant schema version this binary serves.
func (s *Service) TargetVersion() int { return s.migrations.Latest() }

func (s *Service) root(ctx context.Context) *gorm.DB { return s.cluster.ControlDB().WithContext(ctx) }

// CreateInput is what onboarding a client needs.
type CreateInput struct {
	Slug   string
	Name   string
	Domain string // optional portal hostname, added unverified (see AddDomain)
	// TrustDomain adds Domain as verified without a DNS check. Only the demo
	// and tests set it; the console and the CLI never do.
	TrustDomain bool
	// Cell places the tenant in the named cell; empty means the open shared
	// cell with the most free capacity.
	Cell string
	// Dedicated makes a cell of its own for the tenant (named "d-<slug>",
	// on the server database.cells.d-<slug>.url names, or the control plane's).
	Dedicated bool
}

// Create provisions a tenant in three steps, each one transaction, so that
// it works the same when the tenant's cell is on another server:
//
//  1. control plane: place the tenant in a cell (under the cell's row lock,
//     so capacity holds) and write its row in state provisioning, with its
//     domain; nothing in that state is ever served;
//  2. the cell's server: the NOLOGIN role, the schema owned by it, every
//     tenant migration and the default rows, then the role handed to the
//     cell's login role (the provisioning role keeps no membership);
//  3. control plane: the tenant becomes active.
//
// A crash between steps leaves a provisioning row: Create with the same
// slug finishes it, Delete removes it. A failure in step 2 rolls that step
// back entirely and removes the row.
func (s *Service) Create(ctx context.Context, in CreateInput) (Tenant, error) {
	if err := ValidateSlug(in.Slug); err != nil {
		return Tenant{}, err
	}
	if err := ValidateName(in.Name); err != nil {
		return Tenant{}, err
	}
	if in.Dedicated && in.Cell != "" {
		return Tenant{}, invalid("choose --cell or --dedicated, not both")
	}
	var host string
	if in.Domain != "" {
		h, err := s.checkHost(in.Domain)
		if err != nil {
			return Tenant{}, err
		}
		host = h
	}
	existing, err := s.Get(ctx, in.Slug)
	switch {
	case err == nil && existing.Status == tenancy.StatusProvisioning:
		return s.finishProvisioning(ctx, existing)
	case err == nil:
		return Tenant{}, fault.Newf(ErrConflict, "tenant slug %q is taken", in.Slug)
	case !errors.Is(err, ErrNotFound):
		return Tenant{}, err
	}
	if in.Dedicated {
		in.Cell = "d-" + in.Slug
		if _, err := s.AddCell(ctx, AddCellInput{Name: in.Cell, Capacity: 1, Dedicated: true}); err != nil {
			return Tenant{}, err
		}
	}
	t, err := s.reserve(ctx, in, host)
	if err != nil {
		if in.Dedicated {
			s.removeEmptyDedicated(context.WithoutCancel(ctx), in.Cell)
		}
		return Tenant{}, err
	}
	failpoint.Hit(failpoint.ProvisionReserved)
	return s.finishProvisioning(ctx, t)
}

// reserve is step 1: the tenant's row, in state provisioning, in its cell.
func (s *Service) reserve(ctx context.Context, in CreateInput, host string) (Tenant, error) {
	token, err := newVerifyToken()
	if err != nil {
		return Tenant{}, err
	}
	var t Tenant
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		cell, err := s.placeTenant(ctx, tx, in.Cell)
		if err != nil {
			return err
		}
		err = tx.Raw(`INSERT INTO control.tenants (id, slug, name, schema_name, role_name, cell, status)
			OVERRIDING SYSTEM VALUE
			SELECT n, ?, ?, 'tenant_' || n, 'tenant_' || n, ?, 'provisioning'
			FROM (SELECT nextval(pg_get_serial_sequence('control.tenants', 'id')) AS n) seq
			RETURNING id`, in.Slug, in.Name, cell.Name).Scan(&t.ID).Error
		if isUniqueViolation(err) {
			return fault.Newf(ErrConflict, "tenant slug %q is taken", in.Slug)
		} else if err != nil {
			return fmt.Errorf("inserting tenant: %w", err)
		}
		if host != "" {
			// Unverified like any other domain until its TXT record is found.
			err := insertDomain(tx, t.ID, host, token, true, in.TrustDomain)
			if isUniqueViolation(err) {
				return fault.Newf(ErrConflict, "hostname %q belongs to another tenant", host)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Tenant{}, err
	}
	return s.Get(ctx, in.Slug)
}

// finishProvisioning runs steps 2 (unless the schema is already there) and
// 3 for a tenant in state provisioning.
func (s *Service) finishProvisioning(ctx context.Context, t Tenant) (Tenant, error) {
	cell, err := s.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return Tenant{}, fault.Newf(ErrCellUnreachable, "provisioning %q: %v", t.Slug, err)
	}
	var built bool
	if err := cell.Admin().WithContext(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ?)`, t.SchemaName).
		Scan(&built).Error; err != nil {
		return Tenant{}, fmt.Errorf("looking for the schema of %q: %w", t.Slug, err)
	}
	var version int
	if built {
		// A crash after step 2: the schema is whole (step 2 is one
		// transaction); bring it to this binary's version through the cell.
		err = tenancy.Upgrade(ctx, s.Scope(t), func(tx *gorm.DB) error {
			_, version, err = db.ApplyTenant(tx, s.migrations)
			return err
		})
	} else {
		err = cell.Host().Build(ctx, func(tx *gorm.DB) error {
			if err := tenancy.CreateSchema(tx, t.ID); err != nil {
				return err
			}
			if _, version, err = db.ApplyTenant(tx, s.migrations); err != nil {
				return err
			}
			if err := seedDefaults(ctx, tx, t.Slug, t.Name); err != nil {
				return err
			}
			return tenancy.Seal(tx, t.ID, cell.Role)
		})
		if err != nil {
			// Nothing of step 2 exists; take the reservation back.
			if derr := s.root(context.WithoutCancel(ctx)).Exec(`DELETE FROM control.tenants WHERE id = ? AND status = 'provisioning'`, t.ID).Error; derr != nil {
				s.log.ErrorContext(ctx, "removing a failed reservation", "tenant", t.Slug, "err", derr)
			}
			return Tenant{}, fmt.Errorf("provisioning %q in cell %s: %w", t.Slug, t.Cell, err)
		}
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("finishing %q in cell %s: %w", t.Slug, t.Cell, err)
	}
	failpoint.Hit(failpoint.ProvisionBuilt)
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE control.tenants SET status = 'active', schema_version = ?, migrated_at = now(), updated_at = now()
			WHERE id = ? AND status = 'provisioning'`, version, t.ID).Error; err != nil {
			return fmt.Errorf("activating %q: %w", t.Slug, err)
		}
		summary := t.Name + ", cell " + t.Cell
		for _, d := range t.Domains {
			summary += ", portal " + d.Hostname
		}
		return audit.RecordPlatform(ctx, tx, "tenant.created", t.Slug, summary)
	})
	if err != nil {
		return Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", t.Slug, "id", t.ID, "cell", t.Cell)
	return s.Get(ctx, t.Slug)
}

// removeEmptyDedicated deletes a dedicated cell that holds no tenant, with
// its login role; it is best effort (a leftover cell is listed and harmless).
func (s *Service) removeEmptyDedicated(ctx context.Context, name string) {
	c, err := s.GetCell(ctx, name)
	if err != nil || !c.Dedicated {
		return
	}
	res := s.root(ctx).Exec(`DELETE FROM control.cells c WHERE name = ? AND dedicated
		AND NOT EXISTS (SELECT 1 FROM control.tenants t WHERE t.cell = c.name)`, name)
	if res.Error != nil || res.RowsAffected == 0 {
		return
	}
	if cell, err := s.cluster.Cell(ctx, name); err == nil {
		s.cluster.Forget(name)
		if err := cell.Admin().WithContext(ctx).Exec(`DROP ROLE IF EXISTS "` + c.LoginRole + `"`).Error; err != nil {
			s.log.WarnContext(ctx, "dropping a dedicated cell's login role", "cell", name, "err", err)
		}
	}
}

// seedDefaults writes the rows every new tenant starts with.
func seedDefaults(ctx context.Context, tx *gorm.DB, slug, name string) error {
	if err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('display_name', ?), ('timezone', 'UTC'), ('locale', 'en')`, name).Error; err != nil {
		return fmt.Errorf("writing default settings: %w", err)
	}
	return audit.Record(ctx, tx, "tenant.created", slug, "provisioned as "+name)
}

// List returns every tenant ordered by slug, with domains.
func (s *Service) List(ctx context.Context) ([]Tenant, error) {
	var list []Tenant
	if err := s.root(ctx).Order("slug").Find(&list).Error; err != nil {
		return nil, fmt.Errorf("listing tenants: %w", err)
	}
	var domains []Domain
	if err := s.root(ctx).Order("hostname").Find(&domains).Error; err != nil {
		return nil, fmt.Errorf("listing domains: %w", err)
	}
	byID := make(map[int64]int, len(list))
	for i := range list {
		byID[list[i].ID] = i
		list[i].Domains = []Domain{}
	}
	for _, d := range domains {
		if i, ok := byID[d.TenantID]; ok {
			list[i].Domains = append(list[i].Domains, d)
		}
	}
	return list, nil
}

// Get returns one tenant by slug, with its domains.
func (s *Service) Get(ctx context.Context, slug string) (Tenant, error) {
	var t Tenant
	err := s.root(ctx).Where("slug = ?", slug).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Tenant{}, fault.Newf(ErrNotFound, "%q", slug)
	}
	if err != nil {
		return Tenant{}, fmt.Errorf("reading tenant %q: %w", slug, err)
	}
	t.Domains = []Domain{}
	if err := s.root(ctx).Where("tenant_id = ?", t.ID).Order("hostname").Find(&t.Domains).Error; err != nil {
		return Tenant{}, fmt.Errorf("reading domains of %q: %w", slug, err)
	}
	return t, nil
}

// Scope returns the tenant as a value tenancy.Do accepts.
func (s *Service) Scope(t Tenant) tenancy.Tenant { return s.cluster.Bind(t.scope()) }

// Suspend refuses the tenant's requests until Resume; its data is untouched.
func (s *Service) Suspend(ctx context.Context, slug string) (Tenant, error) {
	return s.setStatus(ctx, slug, tenancy.StatusActive, tenancy.StatusSuspended)
}

// Resume reactivates a suspended tenant.
func (s *Service) Resume(ctx context.Context, slug string) (Tenant, error) {
	return s.setStatus(ctx, slug, tenancy.StatusSuspended, tenancy.StatusActive)
}

func (s *Service) setStatus(ctx context.Context, slug, from, to string) (Tenant, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Tenant{}, err
	}
	if t.Status == to {
		return t, nil // already there: repeating the command is harmless
	}
	if t.Status != from {
		return Tenant{}, fault.Newf(ErrStatus, "tenant %q is %s, not %s", slug, t.Status, from)
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE control.tenants SET status = ?, updated_at = now() WHERE id = ? AND status = ?`, to, t.ID, from).Error; err != nil {
			return fmt.Errorf("setting %q %s: %w", slug, to, err)
		}
		return audit.RecordPlatform(ctx, tx, "tenant.status_changed", slug, audit.Changed("status", from, to))
	})
	if err != nil {
		return Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant status changed", "tenant", slug, "status", to)
	return s.Get(ctx, slug)
}

// Delete drops the tenant's schema and role on its cell's server, what its
// transactions wrote there outside the schema, and its control-plane rows.
// The caller must repeat the slug as confirmation. A tenant left half
// provisioned or half deleted by a crash is removed the same way.
func (s *Service) Delete(ctx context.Context, slug, confirm string) error {
	if confirm != slug {
		return invalid("refusing to delete %q: pass --confirm %s", slug, slug)
	}
	t, err := s.Get(ctx, slug)
	if err != nil {
		return err
	}
	// A move under way (fenced, or switched over with the old copy not yet
	// dropped) holds two copies; a failed one was undone and is no obstacle.
	var moving []string
	if err := s.root(ctx).Raw(`SELECT to_cell FROM control.tenant_moves WHERE tenant_id = ? AND (step = 'flipped' OR ?)`,
		t.ID, t.Status == tenancy.StatusMoving).Scan(&moving).Error; err != nil {
		return fmt.Errorf("looking for a move of %q: %w", slug, err)
	}
	if t.Status == tenancy.StatusMoving || len(moving) > 0 {
		// Deleting now would leave one of the two copies behind.
		to := "CELL"
		if len(moving) > 0 {
			to = moving[0]
		}
		return fault.Newf(ErrStatus, "tenant %q has a move under way: finish it first with `switchboard tenant move %s --to %s`", slug, slug, to)
	}
	// Mark first, in its own transaction, so every replica refuses the tenant
	// at once even if the drop below takes a while.
	if err := s.root(ctx).Exec(`UPDATE control.tenants SET status = 'deleting', updated_at = now() WHERE id = ?`, t.ID).Error; err != nil {
		return fmt.Errorf("marking %q deleting: %w", slug, err)
	}
	cell, err := s.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return fault.Newf(ErrCellUnreachable, "deleting %q (marked deleting; run again when the cell answers): %v", slug, err)
	}
	err = cell.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL lock_timeout = '10s'`).Error; err != nil {
			return err
		}
		if err := tenancy.DropSchema(tx, t.ID); err != nil {
			return err
		}
		return forgetOnServer(tx, t.ID)
	})
	if err != nil {
		return fmt.Errorf("dropping %q on its cell's server: %w", slug, err)
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM control.tenants WHERE id = ?`, t.ID).Error; err != nil {
			return err
		}
		for _, d := range t.Domains { // removed with the tenant's row
			if err := certcache.New(tx).ForgetHost(ctx, d.Hostname); err != nil {
				return err
			}
		}
		return audit.RecordPlatform(ctx, tx, "tenant.deleted", slug, fmt.Sprintf("%s (schema %s, cell %s) dropped", t.Name, t.SchemaName, t.Cell))
	})
	if err != nil {
		return err
	}
	s.removeEmptyDedicated(ctx, t.Cell)
	s.log.InfoContext(ctx, "tenant deleted", "tenant", slug, "id", t.ID)
	return nil
}

// forgetOnServer removes what the tenant's transactions wrote on its
// server outside its schema (rollups, outbox marks), in tx on that server.
func forgetOnServer(tx *gorm.DB, id int64) error {
	err := tx.Exec(`WITH r AS (DELETE FROM control.tenant_rollups WHERE tenant_id = @id),
			s AS (DELETE FROM control.sla_rollups WHERE tenant_id = @id),
			p AS (DELETE FROM control.policy_overrides WHERE tenant_id = @id)
		DELETE FROM control.outbox_due WHERE tenant_id = @id`, sql.Named("id", id)).Error
	if err != nil {
		return fmt.Errorf("removing tenant %d's rollups: %w", id, err)
	}
	return nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
