package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// Session lifetimes: a session ends after IdleTimeout without requests, and
// in any case AbsoluteTimeout after login.
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 12 * time.Hour
	subjectKey      = "subject"
	startedKey      = "started"
)

// NewStaffSessions returns the session manager of the staff console: tokens
// in a host-only cookie, stored hashed in control.sessions.
func (s *Service) NewStaffSessions(secure bool) *scs.SessionManager {
	return s.newSessions(&controlStore{db: s.cluster.ControlDB()}, "sb_console", secure)
}

// newSessions is a session manager over store: a host-only browser-session
// cookie (no Domain attribute, no expiry), tokens kept only as hashes, and
// the idle and absolute lifetimes above.
func (s *Service) newSessions(store scs.Store, cookie string, secure bool) *scs.SessionManager {
	sm := scs.New()
	sm.Store = store
	sm.IdleTimeout = IdleTimeout
	sm.Lifetime = AbsoluteTimeout
	sm.HashTokenInStore = true
	sm.Cookie.Name = cookie
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = secure
	sm.Cookie.Persist = false
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		s.log.ErrorContext(r.Context(), "session store failed", "cookie", cookie, "err", err)
		web.ServeError(w, r, err) // 503 with Retry-After when the database is down, like every other page
	}
	return sm
}

// StartStaffSession gives the browser a new session id (never reusing one
// from before the login) for the authenticated user.
func StartStaffSession(ctx context.Context, sm *scs.SessionManager, u StaffUser) error {
	return startSession(ctx, sm, u.Subject())
}

// startSession renews the session token and the CSRF token (never keeping
// either from before a login) and records who signed in and when.
func startSession(ctx context.Context, sm *scs.SessionManager, subject string) error {
	if err := sm.RenewToken(ctx); err != nil {
		return fmt.Errorf("renewing session: %w", err)
	}
	// Nothing from before this sign-in carries over (a second factor
	// proved by whoever signed in earlier in this browser, above all).
	if err := sm.Clear(ctx); err != nil {
		return fmt.Errorf("clearing session: %w", err)
	}
	web.RenewCSRF(ctx, sm)
	sm.Put(ctx, subjectKey, subject)
	sm.Put(ctx, startedKey, time.Now().UnixMicro())
	return nil
}

// StaffSubject loads the console session's user into the request context for
// authorization and audit. It honours staff sessions only on console
// requests, and ends the session of a user who was disabled meanwhile.
func (s *Service) StaffSubject(sm *scs.SessionManager) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			ctx := audit.WithOrigin(req.Context(), audit.Origin{Actor: "anonymous", ClientIP: c.RealIP()})
			via := tenancy.Via(ctx)
			if via == tenancy.ViaPath || via == tenancy.ViaNone {
				if key := sm.GetString(ctx, subjectKey); key != "" {
					u, err := s.staffFromSubject(ctx, key)
					switch {
					case err == nil && u.DisabledAt == nil && sm.GetInt64(ctx, startedKey) > u.SessionsNotBefore.UnixMicro():
						// A user with a second factor is signed in once the session proved it (mfa.go).
						if pending, err := s.secondFactorPending(ctx, sm, u); err != nil {
							return err
						} else if pending {
							break
						}
						ctx = authz.WithSubject(ctx, authz.Subject{Key: key, Role: u.Role, Staff: true, Email: u.Email})
						ctx = web.WithZone(ctx, humane.Zone(u.TimeZone))
						ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: c.RealIP()})
					case err == nil || errors.Is(err, ErrNotFound):
						_ = sm.Destroy(ctx)
					default:
						return err
					}
				}
			}
			c.SetRequest(req.WithContext(ctx))
			return next(c)
		}
	}
}

func (s *Service) staffFromSubject(ctx context.Context, key string) (StaffUser, error) {
	idText, ok := strings.CutPrefix(key, "staff:")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || err != nil {
		return StaffUser{}, ErrNotFound
	}
	var u StaffUser
	err = s.root(ctx).Select("id", "email", "role", "disabled_at", "sessions_not_before", "time_zone").Where("id = ?", id).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return StaffUser{}, ErrNotFound
	}
	return u, err
}

// controlStore keeps staff sessions in control.sessions. scs hands it the
// SHA-256 of the token (HashTokenInStore), never the token itself.
type controlStore struct{ db *gorm.DB }

var _ scs.CtxStore = (*controlStore)(nil)

func (st *controlStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var data []byte
	err := st.db.WithContext(ctx).Raw(`SELECT data FROM control.sessions WHERE token_hash = ? AND expiry > now()`, token).Row().Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return data, true, nil
}

func (st *controlStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	return st.db.WithContext(ctx).Exec(`INSERT INTO control.sessions (token_hash, subject, data, expiry) VALUES (?, ?, ?, ?)
		ON CONFLICT (token_hash) DO UPDATE SET subject = EXCLUDED.subject, data = EXCLUDED.data, expiry = EXCLUDED.expiry`,
		token, subjectOf(b), b, expiry).Error
}

func (st *controlStore) DeleteCtx(ctx context.Context, token string) error {
	return st.db.WithContext(ctx).Exec(`DELETE FROM control.sessions WHERE token_hash = ?`, token).Error
}

func (st *controlStore) Find(token string) ([]byte, bool, error) {
	return st.FindCtx(context.Background(), token)
}

func (st *controlStore) Commit(token string, b []byte, expiry time.Time) error {
	return st.CommitCtx(context.Background(), token, b, expiry)
}

func (st *controlStore) Delete(token string) error { return st.DeleteCtx(context.Background(), token) }

// subjectOf reads the subject out of encoded session data so that sessions
// can be revoked per user.
func subjectOf(b []byte) string {
	_, values, err := scs.GobCodec{}.Decode(b)
	if err != nil {
		return ""
	}
	s, _ := values[subjectKey].(string)
	return s
}

// DeleteExpiredSessions removes expired staff sessions; serve runs it periodically.
func (s *Service) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	res := s.root(ctx).Exec(`DELETE FROM control.sessions WHERE expiry < now()`)
	return res.RowsAffected, res.Error
}
