package identity

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"gorm.io/gorm"
)

// Login throttling: after too many failures within the window a key is
// blocked for the block time. Kept in the control plane so every replica
// enforces the same counts.
var (
	accountLimit = 5
	ipLimit      = 30
	window       = 15 * time.Minute
	blockFor     = 15 * time.Minute
)

func accountKey(email string) string { return "account:" + email }

// ipKey counts an IP's failures on one sign-in surface only ("console", or
// "portal:<tenant id>"): failures against one client's portal, or a crowd
// behind one address failing there, never lock the console or any other
// portal for that address. Per-account limits are separate and unchanged.
func ipKey(surface, ip string) string { return "ip:" + surface + ":" + ip }

// Sign-in surfaces, for ipKey.
const consoleSurface = "console"

func portalSurface(tenantID int64) string { return "portal:" + strconv.FormatInt(tenantID, 10) }

// blocked returns how long until every key is unblocked (0: none blocked).
func blocked(ctx context.Context, db *gorm.DB, keys ...string) (time.Duration, error) {
	var secs float64
	err := db.WithContext(ctx).Raw(`SELECT coalesce(max(extract(epoch FROM blocked_until - now())), 0)
		FROM control.login_throttle WHERE key IN ? AND blocked_until > now()`, keys).Scan(&secs).Error
	if err != nil {
		return 0, fmt.Errorf("checking login throttle: %w", err)
	}
	return time.Duration(secs * float64(time.Second)), nil
}

// recordFailure counts a failure against key and blocks it at limit.
func recordFailure(ctx context.Context, db *gorm.DB, key string, limit int) error {
	err := db.WithContext(ctx).Exec(`INSERT INTO control.login_throttle AS t (key, failures, window_start) VALUES (?, 1, now())
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN t.window_start < now() - make_interval(secs => ?) THEN 1 ELSE t.failures + 1 END,
			window_start = CASE WHEN t.window_start < now() - make_interval(secs => ?) THEN now() ELSE t.window_start END`,
		key, window.Seconds(), window.Seconds()).Error
	if err == nil {
		err = db.WithContext(ctx).Exec(`UPDATE control.login_throttle SET blocked_until = now() + make_interval(secs => ?)
			WHERE key = ? AND failures >= ? AND (blocked_until IS NULL OR blocked_until < now())`, blockFor.Seconds(), key, limit).Error
	}
	if err != nil {
		return fmt.Errorf("recording failed login: %w", err)
	}
	return nil
}

func clearFailures(ctx context.Context, db *gorm.DB, key string) error {
	return db.WithContext(ctx).Exec(`DELETE FROM control.login_throttle WHERE key = ?`, key).Error
}
