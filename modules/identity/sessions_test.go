package identity

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"switchboard/modules/audit"
	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
)

const cookieName = "sb_console"

// browser is a minimal cookie-keeping client for an http.Handler.
type browser struct {
	t     *testing.T
	h     http.Handler
	token string // the sb_console cookie value, "" for none
}

// get requests path and keeps any session cookie the response sets; it
// returns the response and the cookie (nil if none was set).
func (b *browser) get(path string, header ...string) (*http.Response, *http.Cookie) {
	b.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.RemoteAddr = "203.0.113.9:4321"
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if b.token != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: b.token})
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	res := rec.Result()
	b.t.Cleanup(func() { _ = res.Body.Close() })
	for _, c := range res.Cookies() {
		if c.Name == cookieName {
			b.token = c.Value
			if c.MaxAge < 0 {
				b.token = ""
			}
			return res, c
		}
	}
	return res, nil
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sessionApp is a tiny site: /login?email= starts a staff session for that
// user, /whoami answers the session's subject.
func sessionApp(t *testing.T, e env, sm *scs.SessionManager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		u, err := e.svc.StaffByEmail(r.Context(), r.URL.Query().Get("email"))
		if err == nil {
			err = StartStaffSession(r.Context(), sm, u)
		}
		if err != nil {
			t.Errorf("login handler: %v", err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write([]byte("ok"))
	})
	mux.HandleFunc("/whoami", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(sm.GetString(r.Context(), subjectKey)))
	})
	return sm.LoadAndSave(mux)
}

// storedHash is what scs keeps for a token with HashTokenInStore.
func storedHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

type sessionRow struct {
	Subject string
	Expiry  time.Time
}

func sessionRowOf(t *testing.T, token string) (sessionRow, bool) {
	t.Helper()
	var r sessionRow
	err := admin(t, `SELECT subject, expiry FROM control.sessions WHERE token_hash = $1`, storedHash(token)).Scan(&r.Subject, &r.Expiry)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func sessionCount(t *testing.T, subject string) int {
	t.Helper()
	var n int
	if err := admin(t, `SELECT count(*) FROM control.sessions WHERE subject = $1`, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSessionCookie(t *testing.T) {
	e := openEnv(t)
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("cookie"), Role: RoleTechnician})
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "https"}[secure], func(t *testing.T) {
			b := &browser{t: t, h: sessionApp(t, e, e.svc.NewStaffSessions(secure))}
			res, c := b.get("/login?email=" + url.QueryEscape(u.Email))
			if res.StatusCode != http.StatusOK || c == nil {
				t.Fatalf("login: status %d, cookie %v", res.StatusCode, c)
			}
			raw := res.Header.Get("Set-Cookie")
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure != secure {
				t.Fatalf("cookie %q: HttpOnly %v SameSite %v Secure %v (want Secure %v)", raw, c.HttpOnly, c.SameSite, c.Secure, secure)
			}
			if c.Domain != "" || strings.Contains(strings.ToLower(raw), "domain=") {
				t.Fatalf("cookie is not host-only: %q", raw)
			}
			if c.MaxAge != 0 || !c.Expires.IsZero() {
				t.Fatalf("cookie outlives the browser session: %q", raw)
			}
			if len(c.Value) < 40 {
				t.Fatalf("token %q is too short to be unguessable", c.Value)
			}
		})
	}
}

func TestSessionStoredHashedAndRenewed(t *testing.T) {
	e := openEnv(t)
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("renew"), Role: RoleTechnician})
	b := &browser{t: t, h: sessionApp(t, e, e.svc.NewStaffSessions(false))}

	start := time.Now()
	b.get("/login?email=" + url.QueryEscape(u.Email))
	first := b.token
	if first == "" {
		t.Fatal("login set no session cookie")
	}
	var raw int
	if err := admin(t, `SELECT count(*) FROM control.sessions WHERE token_hash = $1`, first).Scan(&raw); err != nil || raw != 0 {
		t.Fatalf("the cookie value itself is stored (%d rows, %v)", raw, err)
	}
	row, ok := sessionRowOf(t, first)
	if !ok {
		t.Fatal("no session row under the SHA-256 of the cookie value")
	}
	if row.Subject != u.Subject() {
		t.Fatalf("session subject %q, want %q", row.Subject, u.Subject())
	}
	// The row expires after the idle timeout, not the absolute lifetime.
	if lo, hi := start.Add(IdleTimeout-time.Minute), time.Now().Add(IdleTimeout+time.Minute); row.Expiry.Before(lo) || row.Expiry.After(hi) {
		t.Fatalf("session expires %v, want about %v from now", row.Expiry, IdleTimeout)
	}
	if res, _ := b.get("/whoami"); body(t, res) != u.Subject() {
		t.Fatal("the session cookie does not find the session")
	}

	// Signing in again from the same browser gives a new token; the old one is dead.
	b.get("/login?email=" + url.QueryEscape(u.Email))
	second := b.token
	if second == "" || second == first {
		t.Fatalf("second login kept token %q", first)
	}
	if _, ok := sessionRowOf(t, first); ok {
		t.Fatal("the pre-login session row survived the renewal")
	}
	if _, ok := sessionRowOf(t, second); !ok {
		t.Fatal("no row for the renewed session")
	}
	old := &browser{t: t, h: b.h, token: first}
	if res, _ := old.get("/whoami"); body(t, res) != "" {
		t.Fatal("the old token still finds a session")
	}
}

func TestSessionsEnd(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	sm := e.svc.NewStaffSessions(false)
	h := sessionApp(t, e, sm)
	const pw = "the first password"
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("ends"), Role: RoleTechnician, Password: pw})
	bystander, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("bystander"), Role: RoleTechnician})

	login := func(t *testing.T, who StaffUser) *browser {
		t.Helper()
		b := &browser{t: t, h: h}
		b.get("/login?email=" + url.QueryEscape(who.Email))
		if res, _ := b.get("/whoami"); body(t, res) != who.Subject() {
			t.Fatalf("no session for %s", who.Email)
		}
		return b
	}
	anonymous := func(t *testing.T, b *browser) bool {
		t.Helper()
		res, _ := b.get("/whoami")
		return body(t, res) == ""
	}

	t.Run("revoke", func(t *testing.T) {
		b1, b2, other := login(t, u), login(t, u), login(t, bystander)
		n, err := e.svc.RevokeStaffSessions(ctx, u.Email)
		if err != nil || n != 2 {
			t.Fatalf("RevokeStaffSessions: %d, %v; want 2", n, err)
		}
		if !anonymous(t, b1) || !anonymous(t, b2) {
			t.Fatal("a revoked session still works")
		}
		if anonymous(t, other) {
			t.Fatal("revoking one user's sessions ended another user's")
		}
		if n := sessionCount(t, u.Subject()); n != 0 {
			t.Fatalf("%d session rows left after revoking", n)
		}
		if n, err := e.svc.RevokeStaffSessions(ctx, u.Email); err != nil || n != 0 {
			t.Fatalf("revoking again: %d, %v; want 0", n, err)
		}
		entries, err := e.audit.Platform(ctx, audit.Filter{Action: "staff.sessions_revoked", Text: u.Email})
		if err != nil || len(entries) != 2 || !strings.Contains(entries[1].Summary, "2 session") {
			t.Fatalf("audit entries for the revocations: %+v %v", entries, err)
		}
	})
	t.Run("password reset", func(t *testing.T) {
		b, other := login(t, u), login(t, bystander)
		newPw, err := e.svc.ResetStaffPassword(ctx, u.Email, "")
		if err != nil {
			t.Fatal(err)
		}
		if !anonymous(t, b) || anonymous(t, other) {
			t.Fatal("a password reset must end exactly that user's sessions")
		}
		ip := uniqueIP()
		if _, err := e.svc.AuthenticateStaff(ctx, u.Email, pw, ip); !errors.Is(err, ErrBadLogin) {
			t.Fatalf("old password after reset: want ErrBadLogin, got %v", err)
		}
		if _, err := e.svc.AuthenticateStaff(ctx, u.Email, newPw, ip); err != nil {
			t.Fatalf("new password after reset: %v", err)
		}
		if _, err := e.svc.ResetStaffPassword(ctx, u.Email, "short"); !errors.Is(err, ErrInvalid) {
			t.Fatalf("reset to a short password: want ErrInvalid, got %v", err)
		}
	})
	t.Run("disable", func(t *testing.T) {
		b, other := login(t, u), login(t, bystander)
		if _, err := e.svc.SetStaffDisabled(ctx, u.Email, true); err != nil {
			t.Fatal(err)
		}
		if !anonymous(t, b) || anonymous(t, other) {
			t.Fatal("disabling must end exactly that user's sessions")
		}
		if n := sessionCount(t, u.Subject()); n != 0 {
			t.Fatalf("%d session rows left after disabling", n)
		}
	})
}

func TestDeleteExpiredSessions(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("expiry"), Role: RoleTechnician})
	b := &browser{t: t, h: sessionApp(t, e, e.svc.NewStaffSessions(false))}
	b.get("/login?email=" + url.QueryEscape(u.Email))
	live := b.token

	expired := "expired-" + uniqueSlug("token")
	adminExec(t, `INSERT INTO control.sessions (token_hash, subject, data, expiry) VALUES ($1, $2, '\x00', now() - interval '1 minute')`,
		storedHash(expired), u.Subject())
	// An expired row is not honoured even before it is swept.
	if res, _ := (&browser{t: t, h: b.h, token: expired}).get("/whoami"); body(t, res) != "" {
		t.Fatal("an expired session was honoured")
	}
	n, err := e.svc.DeleteExpiredSessions(ctx)
	if err != nil || n < 1 {
		t.Fatalf("DeleteExpiredSessions: %d, %v", n, err)
	}
	if _, ok := sessionRowOf(t, expired); ok {
		t.Fatal("the expired session is still stored")
	}
	if _, ok := sessionRowOf(t, live); !ok {
		t.Fatal("a live session was deleted")
	}
	if res, _ := b.get("/whoami"); body(t, res) != u.Subject() {
		t.Fatal("the live session stopped working")
	}
}

// seen is what the StaffSubject test handler found in its request context.
type seen struct {
	HasSubject bool
	Subject    authz.Subject
	Origin     audit.Origin
}

func TestStaffSubjectMiddleware(t *testing.T) {
	e := openEnv(t)
	_, tenant := e.newTenant(t, "portal")
	sm := e.svc.NewStaffSessions(false)
	app := echo.New()
	// Stands in for tenancy's resolver: X-Test-Via says how the tenant was found.
	app.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if via := c.Request().Header.Get("X-Test-Via"); via != "" {
				c.SetRequest(c.Request().WithContext(tenancy.WithTenant(c.Request().Context(), tenant, via)))
			}
			return next(c)
		}
	})
	app.Use(e.svc.StaffSubject(sm))
	app.GET("/login", func(c echo.Context) error {
		u, err := e.svc.StaffByEmail(c.Request().Context(), c.QueryParam("email"))
		if err != nil {
			return err
		}
		if err := StartStaffSession(c.Request().Context(), sm, u); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	app.GET("/who", func(c echo.Context) error {
		ctx := c.Request().Context()
		var s seen
		s.Subject, s.HasSubject = authz.SubjectFrom(ctx)
		s.Origin = audit.OriginFrom(ctx)
		return c.JSON(http.StatusOK, s)
	})
	h := sm.LoadAndSave(app)
	who := func(t *testing.T, b *browser, header ...string) seen {
		t.Helper()
		res, _ := b.get("/who", header...)
		var s seen
		if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
			t.Fatalf("status %d: %v", res.StatusCode, err)
		}
		return s
	}
	signIn := func(t *testing.T, u StaffUser) *browser {
		t.Helper()
		b := &browser{t: t, h: h}
		if res, _ := b.get("/login?email=" + url.QueryEscape(u.Email)); res.StatusCode != http.StatusNoContent || b.token == "" {
			t.Fatalf("login: %d", res.StatusCode)
		}
		return b
	}

	u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("mw"), Role: RoleAdmin})
	b := signIn(t, u)
	cases := []struct {
		name    string
		via     string
		honours bool
	}{
		{"console page", tenancy.ViaNone, true},
		{"console page of one client", tenancy.ViaPath, true},
		{"client portal", tenancy.ViaHost, false},
		{"API", tenancy.ViaAPIKey, false},
		{"console page after the portal", tenancy.ViaNone, true}, // the portal did not end the session
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := who(t, b, "X-Test-Via", tc.via)
			if !tc.honours {
				if s.HasSubject || s.Origin.Actor != "anonymous" || s.Origin.ClientIP != "203.0.113.9" {
					t.Fatalf("staff session honoured on a %s request: %+v", tc.via, s)
				}
				return
			}
			want := authz.Subject{Key: u.Subject(), Role: RoleAdmin, Staff: true, Email: u.Email}
			if !s.HasSubject || s.Subject != want {
				t.Fatalf("subject %+v, want %+v", s.Subject, want)
			}
			if s.Origin != (audit.Origin{Actor: u.Email, ClientIP: "203.0.113.9"}) {
				t.Fatalf("origin %+v", s.Origin)
			}
		})
	}
	t.Run("no session", func(t *testing.T) {
		s := who(t, &browser{t: t, h: h})
		if s.HasSubject || s.Origin.Actor != "anonymous" {
			t.Fatalf("anonymous request got %+v", s)
		}
	})

	// A user disabled or deleted behind the session's back (say, directly in
	// the database or by another replica): the session is destroyed.
	for _, tc := range []struct{ name, sql string }{
		{"disabled meanwhile", `UPDATE control.staff_users SET disabled_at = now() WHERE id = $1`},
		{"deleted meanwhile", `DELETE FROM control.staff_users WHERE id = $1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("gone"), Role: RoleTechnician})
			b := signIn(t, v)
			token := b.token
			if s := who(t, b); !s.HasSubject {
				t.Fatal("no subject before the change")
			}
			adminExec(t, tc.sql, v.ID)
			res, c := b.get("/who")
			var s seen
			if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
				t.Fatal(err)
			}
			if s.HasSubject || s.Origin.Actor != "anonymous" {
				t.Fatalf("handler saw %+v", s)
			}
			if c == nil || c.MaxAge >= 0 {
				t.Fatalf("the session cookie was not cleared: %v", c)
			}
			if _, ok := sessionRowOf(t, token); ok {
				t.Fatal("the session row was not deleted")
			}
		})
	}
}

// TestEndedSessionsStayEnded: a request that loaded the session before it
// was ended finishes afterwards. scs re-commits every loaded session at the
// end of the request (IdleTimeout > 0 extends the expiry), and the store's
// commit is an upsert, so the finishing request must not bring the ended
// session back to life.
func TestEndedSessionsStayEnded(t *testing.T) {
	e := openEnv(t)
	ctx := context.Background()
	cases := []struct {
		name string
		end  func(u StaffUser) error
	}{
		{"revoke", func(u StaffUser) error { _, err := e.svc.RevokeStaffSessions(ctx, u.Email); return err }},
		{"password reset", func(u StaffUser) error { _, err := e.svc.ResetStaffPassword(ctx, u.Email, ""); return err }},
		{"disable, later enable", func(u StaffUser) error { _, err := e.svc.SetStaffDisabled(ctx, u.Email, true); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sm := e.svc.NewStaffSessions(false)
			loaded, release := make(chan struct{}), make(chan struct{})
			app := echo.New()
			app.Use(e.svc.StaffSubject(sm))
			app.GET("/login", func(c echo.Context) error {
				u, err := e.svc.StaffByEmail(c.Request().Context(), c.QueryParam("email"))
				if err != nil {
					return err
				}
				return StartStaffSession(c.Request().Context(), sm, u)
			})
			app.GET("/who", func(c echo.Context) error {
				s, _ := authz.SubjectFrom(c.Request().Context())
				return c.String(http.StatusOK, s.Key)
			})
			app.GET("/slow", func(c echo.Context) error {
				close(loaded)
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				return c.String(http.StatusOK, "done")
			})
			h := sm.LoadAndSave(app)

			u, _ := e.newStaff(t, StaffInput{Email: uniqueEmail("inflight"), Role: RoleTechnician})
			b := &browser{t: t, h: h}
			b.get("/login?email=" + url.QueryEscape(u.Email))
			if res, _ := b.get("/who"); body(t, res) != u.Subject() {
				t.Fatal("no session after login")
			}
			slow := &browser{t: t, h: h, token: b.token}
			done := make(chan struct{})
			go func() {
				defer close(done)
				slow.get("/slow")
			}()
			select {
			case <-loaded:
			case <-time.After(10 * time.Second):
				t.Fatal("the slow request never reached its handler")
			}
			if err := tc.end(u); err != nil {
				t.Fatal(err)
			}
			close(release)
			<-done
			if strings.HasPrefix(tc.name, "disable") {
				if _, err := e.svc.SetStaffDisabled(ctx, u.Email, false); err != nil {
					t.Fatal(err)
				}
			}
			if res, _ := b.get("/who"); body(t, res) != "" {
				t.Errorf("the ended session works again: the request that was in flight re-created it")
			}
			if n := sessionCount(t, u.Subject()); n != 0 {
				t.Errorf("%d session row(s) of %s left after the ended session was used", n, u.Email)
			}
		})
	}
}
