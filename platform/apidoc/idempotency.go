package apidoc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"gorm.io/gorm"
)

// IdempotencyTTL is how long a creating POST's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// Idempotency remembers the responses of creating POSTs by their
// Idempotency-Key (control.api_idempotency), per user and route.
type Idempotency struct {
	db  func(context.Context) *gorm.DB
	now func() time.Time
}

// NewIdempotency returns the store on the control plane handle db.
func NewIdempotency(db func(context.Context) *gorm.DB, now func() time.Time) *Idempotency {
	return &Idempotency{db: db, now: now}
}

// Stored is a remembered response.
type Stored struct {
	Status   int
	Response []byte
}

type idemRow struct {
	BodyHash []byte
	Status   int
	Response []byte
}

// Do runs create once per (user, key, route): a repeat with the same body
// gets the first response back (replayed true); a repeat with another body
// is refused with 422. Only successful responses are remembered, so a
// refused request can be corrected and retried under the same key.
func (s *Idempotency) Do(ctx context.Context, userID int64, key, route string, body []byte, create func() (Stored, error)) (Stored, bool, error) {
	if len(key) == 0 || len(key) > 200 {
		return Stored{}, false, Fail(http.StatusBadRequest, "Idempotency-Key must be 1-200 characters")
	}
	sum := sha256.Sum256(body)
	cutoff := s.now().Add(-IdempotencyTTL)
	lookup := func() (idemRow, bool, error) {
		var rows []idemRow
		err := s.db(ctx).Raw(`SELECT body_hash, status, response FROM control.api_idempotency
			WHERE user_id = ? AND key = ? AND route = ? AND created_at > ?`, userID, key, route, cutoff).Scan(&rows).Error
		if err != nil || len(rows) == 0 {
			return idemRow{}, false, err
		}
		return rows[0], true, nil
	}
	replay := func(r idemRow) (Stored, bool, error) {
		if !bytes.Equal(r.BodyHash, sum[:]) {
			return Stored{}, false, Fail(http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request body")
		}
		return Stored{Status: r.Status, Response: r.Response}, true, nil
	}
	r, found, err := lookup()
	if err != nil {
		return Stored{}, false, fmt.Errorf("reading idempotency key: %w", err)
	}
	if found {
		return replay(r)
	}
	out, err := create()
	if err != nil || out.Status >= 300 {
		return out, false, err
	}
	// On a failure to remember, the resource exists all the same; failing now
	// would invite a retry that meets only a conflict, so the error is dropped.
	_ = s.db(ctx).Transaction(func(tx *gorm.DB) error {
		// Expired keys go on the next write: no sweeper job for a tiny table.
		if err := tx.Exec(`DELETE FROM control.api_idempotency WHERE created_at <= ?`, cutoff).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO control.api_idempotency (user_id, key, route, body_hash, status, response, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, userID, key, route, sum[:], out.Status, out.Response, s.now()).Error
	})
	return out, false, nil
}
