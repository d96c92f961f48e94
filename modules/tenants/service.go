package tenants

import (
	"context"
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
		dns: opts.Resolver, lookupTimeout: opts.LookupTimeout, consoleHosts: console}
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
}

// Create provisions a tenant in one transaction: the control-plane row, the
// NOLOGIN role, the schema owned by it, every tenant migration and the
// default rows. Any failure rolls all of it back, role and schema included.
func (s *Service) Create(ctx context.Context, in CreateInput) (Tenant, error) {
	if err := ValidateSlug(in.Slug); err != nil {
		return Tenant{}, err
	}
	if err := ValidateName(in.Name); err != nil {
		return Tenant{}, err
	}
	var host string
	if in.Domain != "" {
		h, err := s.checkHost(in.Domain)
		if err != nil {
			return Tenant{}, err
		}
		host = h
	}

	token, err := newVerifyToken()
	if err != nil {
		return Tenant{}, err
	}
	var t Tenant
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Raw(`INSERT INTO control.tenants (id, slug, name, schema_name, role_name)
			OVERRIDING SYSTEM VALUE
			SELECT n, ?, ?, 'tenant_' || n, 'tenant_' || n
			FROM (SELECT nextval(pg_get_serial_sequence('control.tenants', 'id')) AS n) seq
			RETURNING id`, in.Slug, in.Name).Scan(&t.ID).Error
		if err != nil {
			if isUniqueViolation(err) {
				return fault.Newf(ErrConflict, "tenant slug %q is taken", in.Slug)
			}
			return fmt.Errorf("inserting tenant: %w", err)
		}
		if err := tenancy.CreateSchema(tx, t.ID); err != nil {
			return err
		}
		_, version, err := db.ApplyTenant(tx, s.migrations)
		if err != nil {
			return err
		}
		if err := seedDefaults(ctx, tx, in); err != nil {
			return err
		}
		if err := tenancy.Leave(tx); err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE control.tenants SET schema_version = ?, migrated_at = now() WHERE id = ?`, version, t.ID).Error; err != nil {
			return fmt.Errorf("recording schema version: %w", err)
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
		summary := in.Name
		if host != "" {
			summary += ", portal " + host
		}
		return audit.RecordPlatform(ctx, tx, "tenant.created", in.Slug, summary)
	})
	if err != nil {
		return Tenant{}, err
	}
	s.log.InfoContext(ctx, "tenant created", "tenant", in.Slug, "id", t.ID)
	return s.Get(ctx, in.Slug)
}

// seedDefaults writes the rows every new tenant starts with.
func seedDefaults(ctx context.Context, tx *gorm.DB, in CreateInput) error {
	if err := tx.Exec(`INSERT INTO settings (key, value) VALUES ('display_name', ?), ('timezone', 'UTC'), ('locale', 'en')`, in.Name).Error; err != nil {
		return fmt.Errorf("writing default settings: %w", err)
	}
	return audit.Record(ctx, tx, "tenant.created", in.Slug, "provisioned as "+in.Name)
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

// Delete drops the tenant's schema and role and its control-plane rows. The
// caller must repeat the slug as confirmation.
func (s *Service) Delete(ctx context.Context, slug, confirm string) error {
	if confirm != slug {
		return invalid("refusing to delete %q: pass --confirm %s", slug, slug)
	}
	t, err := s.Get(ctx, slug)
	if err != nil {
		return err
	}
	// Mark first, in its own transaction, so every replica refuses the tenant
	// at once even if the drop below takes a while.
	if err := s.root(ctx).Exec(`UPDATE control.tenants SET status = 'deleting', updated_at = now() WHERE id = ?`, t.ID).Error; err != nil {
		return fmt.Errorf("marking %q deleting: %w", slug, err)
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL lock_timeout = '10s'`).Error; err != nil {
			return err
		}
		if err := tenancy.DropSchema(tx, t.ID); err != nil {
			return err
		}
		if err := tx.Exec(`DELETE FROM control.tenants WHERE id = ?`, t.ID).Error; err != nil {
			return err
		}
		for _, d := range t.Domains { // removed with the tenant's row
			if err := certcache.New(tx).ForgetHost(ctx, d.Hostname); err != nil {
				return err
			}
		}
		return audit.RecordPlatform(ctx, tx, "tenant.deleted", slug, fmt.Sprintf("%s (schema %s) dropped", t.Name, t.SchemaName))
	})
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "tenant deleted", "tenant", slug, "id", t.ID)
	return nil
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
