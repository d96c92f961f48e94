package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
)

// TokenPrefix marks staff API tokens so secret scanners can find leaked ones
// (tenant ingestion keys are "sbk_").
const TokenPrefix = "sbt_"

// Token scopes. Each staff API route declares one; a token may use a route
// only if it holds the route's scope AND its user holds the route's
// permission now (see the table in the API routes' declarations).
const (
	ScopeClientsRead  = "clients:read"
	ScopeClientsWrite = "clients:write"
	ScopeAlertsRead   = "alerts:read"
	ScopeAlertsWrite  = "alerts:write"
	// Staff users and their grants are the MSP's own team: a separate pair
	// of scopes, so a PSA integration's token cannot promote anyone.
	ScopeStaffRead  = "staff:read"
	ScopeStaffWrite = "staff:write"
	// Policies are fleet-wide (baselines) as well as per client.
	ScopePoliciesRead  = "policies:read"
	ScopePoliciesWrite = "policies:write"
)

// TokenScopes lists every scope a token may hold, in display order.
var TokenScopes = []string{ScopeClientsRead, ScopeClientsWrite, ScopeAlertsRead, ScopeAlertsWrite,
	ScopeStaffRead, ScopeStaffWrite, ScopePoliciesRead, ScopePoliciesWrite}

// MaxTokenLifetime bounds a token's expiry: a forgotten token dies on its own.
const MaxTokenLifetime = 366 * 24 * time.Hour

// lastUseGranularity: last use is written at most this often per token, so
// a busy script does not turn every read into a write.
const lastUseGranularity = time.Minute

// ErrBadToken is the answer for a token that is unknown, revoked, expired or
// whose user is disabled: the caller learns nothing about which.
var ErrBadToken = fault.Kind(fault.Unauthorized, "invalid, expired or revoked API token")

// APIToken is a staff user's personal API token (never its secret).
type APIToken struct {
	ID         int64      `json:"id"`
	UserID     int64      `json:"-"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	ClientIDs  []int64    `json:"client_ids,omitempty"` // nil: every client the user can see
	Clients    []string   `json:"clients,omitempty"`    // slugs of ClientIDs
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
}

// Has reports whether the token holds scope.
func (t APIToken) Has(scope string) bool { return slices.Contains(t.Scopes, scope) }

// Covers reports whether the token may act on the client with id tenantID.
func (t APIToken) Covers(tenantID int64) bool {
	return t.ClientIDs == nil || slices.Contains(t.ClientIDs, tenantID)
}

// Live reports whether the token can be used at now.
func (t APIToken) Live(now time.Time) bool { return t.RevokedAt == nil && now.Before(t.ExpiresAt) }

// TokenInput is what creating a token takes.
type TokenInput struct {
	Name     string
	Scopes   []string
	Clients  []string      // slugs; empty: every client the user can see
	Lifetime time.Duration // until expiry; 1 s … MaxTokenLifetime
}

// tokenRow is the table's shape; the jsonb columns are read as text.
type tokenRow struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string
	Scopes     string
	ClientIDs  *string
	ExpiresAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

func (r tokenRow) token() (APIToken, error) {
	t := APIToken{ID: r.ID, UserID: r.UserID, Name: r.Name, Prefix: r.Prefix, ExpiresAt: r.ExpiresAt,
		LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt, CreatedAt: r.CreatedAt}
	if err := json.Unmarshal([]byte(r.Scopes), &t.Scopes); err != nil {
		return APIToken{}, fmt.Errorf("reading token scopes: %w", err)
	}
	if r.ClientIDs != nil {
		t.ClientIDs = []int64{}
		if err := json.Unmarshal([]byte(*r.ClientIDs), &t.ClientIDs); err != nil {
			return APIToken{}, fmt.Errorf("reading token clients: %w", err)
		}
	}
	return t, nil
}

const tokenColumns = `id, user_id, name, prefix, scopes::text AS scopes, client_ids::text AS client_ids,
	expires_at, last_used_at, revoked_at, created_at`

// ParseScopes splits a comma-separated scope list and checks every scope.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(TokenScopes, p) {
			return nil, fault.Newf(ErrInvalid, "unknown scope %q (known: %s)", p, strings.Join(TokenScopes, ", "))
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fault.Newf(ErrInvalid, "a token needs at least one scope (%s)", strings.Join(TokenScopes, ", "))
	}
	return out, nil
}

// CreateToken issues a token for the staff user email. The secret is
// returned once; only its SHA-256 is stored (160 random bits: nothing to
// brute-force, so a fast hash is enough).
func (s *Service) CreateToken(ctx context.Context, email string, in TokenInput) (APIToken, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	if err := checkName(in.Name); err != nil || in.Name == "" || len(in.Name) > 100 {
		return APIToken{}, "", fault.Newf(ErrInvalid, "token name must be 1-100 characters of text")
	}
	scopes, err := ParseScopes(strings.Join(in.Scopes, ","))
	if err != nil {
		return APIToken{}, "", err
	}
	if in.Lifetime < time.Second || in.Lifetime > MaxTokenLifetime {
		return APIToken{}, "", fault.Newf(ErrInvalid, "expiry must be between 1 second and %d days", int(MaxTokenLifetime/(24*time.Hour)))
	}
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return APIToken{}, "", err
	}
	if u.DisabledAt != nil {
		return APIToken{}, "", fault.Newf(ErrInvalid, "%s is disabled", u.Email)
	}
	var clientIDs *string
	if len(in.Clients) > 0 {
		ids, err := s.tenantIDs(ctx, in.Clients)
		if err != nil {
			return APIToken{}, "", err
		}
		b, _ := json.Marshal(ids)
		str := string(b)
		clientIDs = &str
	}
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return APIToken{}, "", fmt.Errorf("generating API token: %w", err)
	}
	plain := TokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret))
	prefix := plain[:len(TokenPrefix)+6]
	scopesJSON, _ := json.Marshal(scopes)
	var row tokenRow
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Raw(`INSERT INTO control.staff_api_tokens (user_id, name, prefix, token_hash, scopes, client_ids, expires_at)
			VALUES (?, ?, ?, ?, ?::jsonb, ?::jsonb, now() + make_interval(secs => ?)) RETURNING `+tokenColumns,
			u.ID, in.Name, prefix, hashToken(plain), string(scopesJSON), clientIDs, in.Lifetime.Seconds()).Scan(&row).Error; err != nil {
			return fmt.Errorf("storing API token: %w", err)
		}
		return audit.RecordPlatform(ctx, tx, "staff.token_created", u.Email, fmt.Sprintf("%s (%s) %s", in.Name, prefix, strings.Join(scopes, ",")))
	})
	if err != nil {
		return APIToken{}, "", err
	}
	t, err := row.token()
	if err != nil {
		return APIToken{}, "", err
	}
	t.Clients = slices.Clone(in.Clients)
	s.log.InfoContext(ctx, "staff api token created", "user", u.Email, "token", prefix)
	return t, plain, nil
}

// ListTokens returns the staff user's tokens, newest first, revoked and
// expired ones included (so their last use can still be seen).
func (s *Service) ListTokens(ctx context.Context, email string) ([]APIToken, error) {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return nil, err
	}
	var rows []tokenRow
	if err := s.root(ctx).Raw(`SELECT `+tokenColumns+` FROM control.staff_api_tokens WHERE user_id = ? ORDER BY id DESC`, u.ID).
		Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	slugs := map[int64]string{}
	var all []struct {
		ID   int64
		Slug string
	}
	if err := s.root(ctx).Raw(`SELECT id, slug FROM control.tenants`).Scan(&all).Error; err != nil {
		return nil, fmt.Errorf("listing clients: %w", err)
	}
	for _, t := range all {
		slugs[t.ID] = t.Slug
	}
	out := make([]APIToken, 0, len(rows))
	for _, r := range rows {
		t, err := r.token()
		if err != nil {
			return nil, err
		}
		for _, id := range t.ClientIDs {
			t.Clients = append(t.Clients, slugs[id])
		}
		out = append(out, t)
	}
	return out, nil
}

// RevokeToken revokes the staff user's token id. Another user's token, or
// none, is ErrNotFound; revoking twice is harmless.
func (s *Service) RevokeToken(ctx context.Context, email string, id int64) error {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return err
	}
	return s.root(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Raw(`SELECT count(*) FROM control.staff_api_tokens WHERE id = ? AND user_id = ?`, id, u.ID).Scan(&n).Error; err != nil {
			return fmt.Errorf("finding API token: %w", err)
		}
		if n == 0 {
			return fault.Newf(ErrNotFound, "%s has no API token %d", u.Email, id)
		}
		res := tx.Exec(`UPDATE control.staff_api_tokens SET revoked_at = now() WHERE id = ? AND revoked_at IS NULL`, id)
		if res.Error != nil {
			return fmt.Errorf("revoking API token: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		return audit.RecordPlatform(ctx, tx, "staff.token_revoked", u.Email, fmt.Sprintf("token %d", id))
	})
}

// AuthenticateToken returns the live token whose secret is plain and its
// user, or ErrBadToken. It records the use at most once a minute per token.
// Grants are not checked here: the caller asks the live authorizer on every
// request, so a user's shrunken grants shrink the token at once.
func (s *Service) AuthenticateToken(ctx context.Context, plain string, now time.Time) (APIToken, StaffUser, error) {
	if !strings.HasPrefix(plain, TokenPrefix) || len(plain) > 100 {
		return APIToken{}, StaffUser{}, ErrBadToken
	}
	var row tokenRow
	res := s.root(ctx).Raw(`SELECT `+tokenColumns+` FROM control.staff_api_tokens WHERE token_hash = ?`, hashToken(plain)).Scan(&row)
	if res.Error != nil {
		return APIToken{}, StaffUser{}, fmt.Errorf("finding API token: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return APIToken{}, StaffUser{}, ErrBadToken
	}
	t, err := row.token()
	if err != nil {
		return APIToken{}, StaffUser{}, err
	}
	if !t.Live(now) {
		return APIToken{}, StaffUser{}, ErrBadToken
	}
	u, err := s.StaffByID(ctx, t.UserID)
	if errors.Is(err, ErrNotFound) || (err == nil && u.DisabledAt != nil) {
		return APIToken{}, StaffUser{}, ErrBadToken
	}
	if err != nil {
		return APIToken{}, StaffUser{}, err
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= lastUseGranularity {
		// The condition repeats in SQL so concurrent requests write once.
		if err := s.root(ctx).Exec(`UPDATE control.staff_api_tokens SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)`, now, t.ID, now.Add(-lastUseGranularity)).Error; err != nil {
			s.log.WarnContext(ctx, "recording API token use", "token", t.Prefix, "err", err)
		}
	}
	return t, u, nil
}

func hashToken(plain string) []byte {
	h := sha256.Sum256([]byte(plain))
	return h[:]
}

// ParseLifetime reads a token lifetime: "90d" (days) or a Go duration ("12h").
func ParseLifetime(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(days, "%d", &n); err == nil && fmt.Sprint(n) == days && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	return 0, fault.Newf(ErrInvalid, "expiry %q is not a lifetime such as 90d or 12h", s)
}
