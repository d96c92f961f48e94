package identity

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

// errNoPortalTenant is returned by the portal session store outside a
// client's portal request; it never happens behind the resolver.
var errNoPortalTenant = errors.New("portal session outside a client's portal")

// NewClientSessions returns the portal's session manager. The cookie is
// host-only (no Domain attribute) and the token's hash is stored in the
// sessions table of the tenant whose host the browser asked, so a token from
// one client's portal is simply unknown on any other host.
func (s *Service) NewClientSessions(secure bool) *scs.SessionManager {
	return s.newSessions(tenantStore{}, "portal_session", secure)
}

// StartClientSession gives the browser a fresh session for the user.
func StartClientSession(ctx context.Context, sm *scs.SessionManager, t tenancy.Tenant, u ClientUser) error {
	return startSession(ctx, sm, ClientSubject(t.ID, u.ID))
}

// ClientSubjectLoader loads the portal session's user into the request
// context. Sessions are honoured only on the portal of the user's own
// tenant, and a user disabled meanwhile loses the session, as does every
// session started before the user's record last changed (a password reset):
// a request in flight during the reset writes its session back afterwards,
// and that session must not live on.
func (s *Service) ClientSubjectLoader(sm *scs.SessionManager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := audit.WithOrigin(req.Context(), audit.Origin{Actor: "anonymous", ClientIP: c.RealIP()})
			t, ok := tenancy.FromContext(ctx)
			if key := sm.GetString(ctx, subjectKey); key != "" && ok && tenancy.Via(ctx) == tenancy.ViaHost {
				u, err := s.clientFromSubject(ctx, t, key)
				switch {
				case err == nil && u.DisabledAt == nil && sm.GetInt64(ctx, startedKey) > u.UpdatedAt.UnixMicro():
					ctx = authz.WithSubject(ctx, authz.Subject{Key: key, Role: u.Role, TenantID: t.ID, Email: u.Email})
					ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: c.RealIP()})
				case err == nil || errors.Is(err, ErrNotFound):
					_ = sm.Destroy(ctx)
				default:
					return err
				}
			}
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

// clientFromSubject reads the user a "client:<tenant>:<user>" key names,
// which must be of tenant t.
func (s *Service) clientFromSubject(ctx context.Context, t tenancy.Tenant, key string) (ClientUser, error) {
	parts := strings.Split(key, ":")
	if len(parts) != 3 || parts[0] != "client" || parts[1] != strconv.FormatInt(t.ID, 10) {
		return ClientUser{}, ErrNotFound
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return ClientUser{}, ErrNotFound
	}
	var u ClientUser
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Select("id", "email", "name", "role", "disabled_at", "updated_at").Where("id = ?", id).Take(&u).Error
	})
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ClientUser{}, ErrNotFound
	}
	return u, err
}

// tenantStore keeps portal sessions in the resolved tenant's own schema.
// scs hands it the SHA-256 of the token, never the token itself.
type tenantStore struct{}

var _ scs.CtxStore = tenantStore{}

func portalTenant(ctx context.Context) (tenancy.Tenant, bool) {
	t, ok := tenancy.FromContext(ctx)
	return t, ok && tenancy.Via(ctx) == tenancy.ViaHost
}

func (tenantStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	t, ok := portalTenant(ctx)
	if !ok {
		return nil, false, nil
	}
	var data []byte
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT data FROM sessions WHERE token_hash = ? AND expiry > now()`, token).Row().Scan(&data)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (tenantStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	t, ok := portalTenant(ctx)
	if !ok {
		return errNoPortalTenant
	}
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO sessions (token_hash, subject, data, expiry) VALUES (?, ?, ?, ?)
			ON CONFLICT (token_hash) DO UPDATE SET subject = EXCLUDED.subject, data = EXCLUDED.data, expiry = EXCLUDED.expiry`,
			token, subjectOf(b), b, expiry).Error
	})
}

func (tenantStore) DeleteCtx(ctx context.Context, token string) error {
	t, ok := portalTenant(ctx)
	if !ok {
		return nil
	}
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Exec(`DELETE FROM sessions WHERE token_hash = ?`, token).Error
	})
}

// The context-free methods are never called by scs when CtxStore is implemented.
func (tenantStore) Find(string) ([]byte, bool, error)      { return nil, false, errNoPortalTenant }
func (tenantStore) Commit(string, []byte, time.Time) error { return errNoPortalTenant }
func (tenantStore) Delete(string) error                    { return errNoPortalTenant }

// CountClientSessions counts a tenant's live portal sessions (for tests and the console).
func (s *Service) CountClientSessions(ctx context.Context, t tenancy.Tenant) (int, error) {
	var n int
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM sessions WHERE expiry > now()`).Scan(&n).Error
	})
	return n, err
}
