package identity

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/tenants"
	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// Service manages staff and client users.
type Service struct {
	cluster *tenancy.Cluster
	tenants *tenants.Service
	log     *slog.Logger
	sso     *ssoRuntime // single sign-on (sso.go); never nil
}

// Option configures a Service at construction.
type Option func(*Service)

// NewService returns the identity service.
func NewService(cluster *tenancy.Cluster, tenantSvc *tenants.Service, log *slog.Logger, opts ...Option) *Service {
	if log == nil {
		log = slog.Default()
	}
	s := &Service{cluster: cluster, tenants: tenantSvc, log: log, sso: newSSORuntime(SSOOptions{})}
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Service) root(ctx context.Context) *gorm.DB { return s.cluster.ControlDB().WithContext(ctx) }

// StaffInput describes a staff user to create or a grant to set.
type StaffInput struct {
	Email    string
	Name     string
	Role     string   // owner, admin, technician
	Scope    string   // all, list, all_except
	Tenants  []string // slugs for list / all_except
	Password string   // empty: generate one
}

func (in *StaffInput) check() error {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return err
	}
	in.Email = email
	if err := checkName(in.Name); err != nil {
		return err
	}
	if !slices.Contains([]string{RoleOwner, RoleAdmin, RoleTechnician}, in.Role) {
		return invalid("staff role must be owner, admin or technician, not %q", in.Role)
	}
	if in.Scope == "" {
		in.Scope = ScopeAll
	}
	switch in.Scope {
	case ScopeAll:
		if len(in.Tenants) > 0 {
			return invalid("a grant over all tenants takes no tenant list (use all-except)")
		}
	case ScopeList:
		if len(in.Tenants) == 0 {
			return invalid("name at least one tenant for a limited grant")
		}
	case ScopeAllExcept:
		if len(in.Tenants) == 0 {
			return invalid("name at least one tenant to except")
		}
	default:
		return invalid("grant scope must be all, list or all_except")
	}
	if in.Role != RoleTechnician && in.Scope != ScopeAll {
		return invalid("owners and admins work across all tenants; only technicians can be limited")
	}
	return nil
}

// tenantIDs turns slugs into ids, failing on any unknown one.
func (s *Service) tenantIDs(ctx context.Context, slugs []string) ([]int64, error) {
	ids := make([]int64, 0, len(slugs))
	for _, slug := range slugs {
		t, err := s.tenants.Get(ctx, slug)
		if errors.Is(err, tenants.ErrNotFound) {
			return nil, invalid("no tenant %q", slug)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, t.ID)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// CreateStaff creates a staff user with a grant and returns the password
// (generated when none was given; shown once).
func (s *Service) CreateStaff(ctx context.Context, in StaffInput) (StaffUser, string, error) {
	if err := in.check(); err != nil {
		return StaffUser{}, "", err
	}
	password, err := choosePassword(in.Password)
	if err != nil {
		return StaffUser{}, "", err
	}
	ids, err := s.tenantIDs(ctx, in.Tenants)
	if err != nil {
		return StaffUser{}, "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return StaffUser{}, "", err
	}
	u := StaffUser{Email: in.Email, Name: in.Name, PasswordHash: hash, Role: in.Role, TenantScope: in.Scope}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Select("Email", "Name", "PasswordHash", "Role", "TenantScope").Create(&u).Error; err != nil {
			if isUniqueViolation(err) {
				return fault.Newf(ErrConflict, "a staff user %s exists", in.Email)
			}
			return fmt.Errorf("creating staff user: %w", err)
		}
		if err := setGrantTenants(tx, u.ID, ids); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.created", in.Email, fmt.Sprintf("role %s, tenants %s", in.Role, describeScope(in.Scope, in.Tenants)))
	})
	if err != nil {
		return StaffUser{}, "", err
	}
	created, err := s.StaffByEmail(ctx, in.Email)
	return created, password, err
}

// SetStaffGrant changes a staff user's role and tenants.
func (s *Service) SetStaffGrant(ctx context.Context, in StaffInput) (StaffUser, error) {
	if err := in.check(); err != nil {
		return StaffUser{}, err
	}
	before, err := s.StaffByEmail(ctx, in.Email)
	if err != nil {
		return StaffUser{}, err
	}
	ids, err := s.tenantIDs(ctx, in.Tenants)
	if err != nil {
		return StaffUser{}, err
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if before.Role == RoleOwner && in.Role != RoleOwner {
			if err := s.requireAnotherOwner(tx, before.ID); err != nil {
				return err
			}
		}
		if err := tx.Exec(`UPDATE control.staff_users SET role = ?, tenant_scope = ?, updated_at = now() WHERE id = ?`,
			in.Role, in.Scope, before.ID).Error; err != nil {
			return fmt.Errorf("updating grant: %w", err)
		}
		if err := setGrantTenants(tx, before.ID, ids); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.grant_changed", in.Email,
			fmt.Sprintf("%s, tenants %s → %s, tenants %s", before.Role, describeScope(before.TenantScope, before.TenantSlugs),
				in.Role, describeScope(in.Scope, in.Tenants)))
	})
	if err != nil {
		return StaffUser{}, err
	}
	return s.StaffByEmail(ctx, in.Email)
}

func setGrantTenants(tx *gorm.DB, userID int64, ids []int64) error {
	if err := tx.Exec(`DELETE FROM control.staff_user_tenants WHERE user_id = ?`, userID).Error; err != nil {
		return fmt.Errorf("clearing grant tenants: %w", err)
	}
	for _, id := range ids {
		if err := tx.Exec(`INSERT INTO control.staff_user_tenants (user_id, tenant_id) VALUES (?, ?)`, userID, id).Error; err != nil {
			return fmt.Errorf("granting tenant %d: %w", id, err)
		}
	}
	return nil
}

// requireAnotherOwner fails unless an active owner other than id exists. It
// locks every active owner row (in id order, so concurrent callers cannot
// deadlock), so two owners disabled at once cannot both see the other.
func (s *Service) requireAnotherOwner(tx *gorm.DB, id int64) error {
	var owners []int64
	if err := tx.Raw(`SELECT id FROM control.staff_users WHERE role = 'owner' AND disabled_at IS NULL ORDER BY id FOR UPDATE`).Scan(&owners).Error; err != nil {
		return err
	}
	for _, o := range owners {
		if o != id {
			return nil
		}
	}
	return fmt.Errorf("%w", ErrLastOwner)
}

// ListStaff returns every staff user with the slugs of their grant's tenants.
func (s *Service) ListStaff(ctx context.Context) ([]StaffUser, error) {
	var users []StaffUser
	if err := s.root(ctx).Order("email").Find(&users).Error; err != nil {
		return nil, fmt.Errorf("listing staff: %w", err)
	}
	type link struct {
		UserID   int64
		TenantID int64
		Slug     string
	}
	var links []link
	if err := s.root(ctx).Raw(`SELECT g.user_id, g.tenant_id, t.slug FROM control.staff_user_tenants g
		JOIN control.tenants t ON t.id = g.tenant_id ORDER BY t.slug`).Scan(&links).Error; err != nil {
		return nil, fmt.Errorf("listing grants: %w", err)
	}
	for i := range users {
		users[i].TenantIDs, users[i].TenantSlugs = []int64{}, []string{}
		for _, l := range links {
			if l.UserID == users[i].ID {
				users[i].TenantIDs = append(users[i].TenantIDs, l.TenantID)
				users[i].TenantSlugs = append(users[i].TenantSlugs, l.Slug)
			}
		}
	}
	return users, nil
}

// StaffByEmail returns one staff user.
func (s *Service) StaffByEmail(ctx context.Context, email string) (StaffUser, error) {
	e, err := NormalizeEmail(email)
	if err != nil {
		return StaffUser{}, err
	}
	return s.staffWhere(ctx, "email = ?", e)
}

// StaffByID returns one staff user.
func (s *Service) StaffByID(ctx context.Context, id int64) (StaffUser, error) {
	return s.staffWhere(ctx, "id = ?", id)
}

func (s *Service) staffWhere(ctx context.Context, cond string, arg any) (StaffUser, error) {
	var u StaffUser
	err := s.root(ctx).Where(cond, arg).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return StaffUser{}, fault.Newf(ErrNotFound, "no such staff user")
	}
	if err != nil {
		return StaffUser{}, fmt.Errorf("reading staff user: %w", err)
	}
	u.TenantIDs, u.TenantSlugs = []int64{}, []string{}
	err = s.root(ctx).Raw(`SELECT g.tenant_id FROM control.staff_user_tenants g JOIN control.tenants t ON t.id = g.tenant_id
		WHERE g.user_id = ? ORDER BY t.slug`, u.ID).Scan(&u.TenantIDs).Error
	if err == nil {
		err = s.root(ctx).Raw(`SELECT t.slug FROM control.staff_user_tenants g JOIN control.tenants t ON t.id = g.tenant_id
		WHERE g.user_id = ? ORDER BY t.slug`, u.ID).Scan(&u.TenantSlugs).Error
	}
	if err != nil {
		return StaffUser{}, fmt.Errorf("reading grant: %w", err)
	}
	return u, nil
}

// SetStaffDisabled disables or re-enables a staff user; disabling also ends
// their sessions.
func (s *Service) SetStaffDisabled(ctx context.Context, email string, disabled bool) (StaffUser, error) {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return StaffUser{}, err
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if disabled && u.Role == RoleOwner {
			if err := s.requireAnotherOwner(tx, u.ID); err != nil {
				return err
			}
		}
		q := `UPDATE control.staff_users SET disabled_at = now(), updated_at = now() WHERE id = ? AND disabled_at IS NULL`
		action := "staff.disabled"
		if !disabled {
			q = `UPDATE control.staff_users SET disabled_at = NULL, updated_at = now() WHERE id = ? AND disabled_at IS NOT NULL`
			action = "staff.enabled"
		}
		res := tx.Exec(q, u.ID)
		if res.Error != nil {
			return fmt.Errorf("updating staff user: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // already so
		}
		if disabled {
			if err := endSessions(tx, u); err != nil {
				return err
			}
		}
		return audit.RecordPlatform(ctx, tx, action, u.Email, "")
	})
	if err != nil {
		return StaffUser{}, err
	}
	return s.StaffByEmail(ctx, email)
}

// ResetStaffPassword sets a new password (generated when empty), ends the
// user's sessions and returns the password.
func (s *Service) ResetStaffPassword(ctx context.Context, email, password string) (string, error) {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return "", err
	}
	password, err = choosePassword(password)
	if err != nil {
		return "", err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return "", err
	}
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE control.staff_users SET password_hash = ?, updated_at = now() WHERE id = ?`, hash, u.ID).Error; err != nil {
			return fmt.Errorf("setting password: %w", err)
		}
		if err := endSessions(tx, u); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.password_reset", u.Email, "password replaced; sessions ended")
	})
	return password, err
}

// RevokeStaffSessions ends every session of a staff user and returns how many there were.
func (s *Service) RevokeStaffSessions(ctx context.Context, email string) (int64, error) {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`SELECT count(*) FROM control.sessions WHERE subject = ? AND expiry > now()`, u.Subject()).Scan(&n).Error; err != nil {
			return fmt.Errorf("counting sessions: %w", err)
		}
		if err := endSessions(tx, u); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.sessions_revoked", u.Email, humane.Plural(int(n), "session", "sessions")+" ended")
	})
	return n, err
}

// Grants returns every active staff user's grant, for the authorizer.
func (s *Service) Grants(ctx context.Context) ([]authz.Grant, error) {
	users, err := s.ListStaff(ctx)
	if err != nil {
		return nil, err
	}
	var grants []authz.Grant
	for _, u := range users {
		if u.DisabledAt != nil {
			continue
		}
		grants = append(grants, authz.Grant{Subject: u.Subject(), Role: u.Role, Scope: u.TenantScope, TenantIDs: u.TenantIDs})
	}
	return grants, nil
}

// endSessions deletes the user's sessions and voids any session started
// before now, so one written back by a request in flight is refused too.
func endSessions(tx *gorm.DB, u StaffUser) error {
	if err := tx.Exec(`UPDATE control.staff_users SET sessions_not_before = now() WHERE id = ?`, u.ID).Error; err != nil {
		return fmt.Errorf("ending sessions: %w", err)
	}
	if err := tx.Exec(`DELETE FROM control.sessions WHERE subject = ?`, u.Subject()).Error; err != nil {
		return fmt.Errorf("ending sessions: %w", err)
	}
	return nil
}

func choosePassword(p string) (string, error) {
	if p == "" {
		return GeneratePassword()
	}
	return p, checkPassword(p)
}

func describeScope(scope string, slugs []string) string {
	switch scope {
	case ScopeList:
		return fmt.Sprint(slugs)
	case ScopeAllExcept:
		return fmt.Sprintf("all except %v", slugs)
	default:
		return "all"
	}
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
