package apidoc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"gorm.io/gorm"
)

// IdempotencyTTL is how long a creating POST's Idempotency-Key is remembered.
const IdempotencyTTL = 24 * time.Hour

// claimTimeout is how long a pending claim blocks its key: a request that
// died mid-way (its process killed) frees the key after it.
const claimTimeout = 2 * time.Minute

// maxIdempotentBody bounds the body an idempotent request may send.
const maxIdempotentBody = 1 << 20

// Idempotency remembers the responses of creating POSTs by their
// Idempotency-Key (control.api_idempotency), per user and request path.
type Idempotency struct {
	db   func(context.Context) *gorm.DB
	now  func() time.Time
	user func(context.Context) (int64, bool) // the authenticated user of a request
}

// NewIdempotency returns the store on the control plane handle db; user
// names the request's authenticated user (keys are per user).
func NewIdempotency(db func(context.Context) *gorm.DB, now func() time.Time, user func(context.Context) (int64, bool)) *Idempotency {
	return &Idempotency{db: db, now: now, user: user}
}

// remembered is a stored answer; Status 0 is a claim still running.
type remembered struct {
	BodyHash  []byte
	Status    int
	Response  []byte
	Location  string
	CreatedAt time.Time
}

// wrap makes h honour Idempotency-Key: the first request with a key claims
// it and runs; a repeat with the same body gets the first answer back
// (Idempotent-Replayed: true), with another body 422, while the first still
// runs 409. Only successful answers are remembered: a refused request frees
// its key to be corrected and retried. forget names top-level fields of the
// answer that are shown once and never stored (secrets): a replay lacks them.
func (s *Idempotency) wrap(h echo.HandlerFunc, forget []string) echo.HandlerFunc {
	return func(c echo.Context) error {
		key := c.Request().Header.Get("Idempotency-Key")
		if key == "" {
			return h(c)
		}
		if len(key) > 200 {
			return Fail(http.StatusBadRequest, "Idempotency-Key must be 1-200 characters")
		}
		ctx := c.Request().Context()
		user, ok := s.user(ctx)
		if !ok {
			return h(c) // no user to keep keys for (a public route)
		}
		body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxIdempotentBody+1))
		if err != nil {
			return Fail(http.StatusBadRequest, "the request body could not be read")
		}
		if len(body) > maxIdempotentBody {
			return Fail(http.StatusRequestEntityTooLarge, "the request body is too large")
		}
		c.Request().Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		route := c.Request().Method + " " + c.Request().URL.Path // names the client too
		prior, claimed, err := s.claim(ctx, user, key, route, sum[:])
		if err != nil {
			return err
		}
		if !claimed {
			return replay(c, prior, sum[:])
		}
		tee := &teeWriter{ResponseWriter: c.Response().Writer}
		c.Response().Writer = tee
		herr := h(c)
		res := c.Response()
		// The claim's fate must not depend on the caller still listening.
		bg := context.WithoutCancel(ctx)
		if herr != nil || res.Status < 200 || res.Status >= 300 {
			s.release(bg, user, key, route)
			return herr
		}
		// A failure to remember leaves the claim to time out; the resource
		// exists all the same, so the answer already sent stands.
		_ = s.db(bg).Exec(`UPDATE control.api_idempotency SET status = ?, response = ?, location = ?
			WHERE user_id = ? AND key = ? AND route = ?`,
			res.Status, without(tee.buf.Bytes(), forget), res.Header().Get(echo.HeaderLocation), user, key, route).Error
		return nil
	}
}

// claim inserts the key as pending, or returns the row that holds it.
// Expired keys, and claims whose request died, go on the way.
func (s *Idempotency) claim(ctx context.Context, user int64, key, route string, sum []byte) (remembered, bool, error) {
	now := s.now()
	var prior remembered
	claimed := false
	err := s.db(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`DELETE FROM control.api_idempotency WHERE created_at <= ?
			OR (user_id = ? AND key = ? AND route = ? AND status = 0 AND created_at <= ?)`,
			now.Add(-IdempotencyTTL), user, key, route, now.Add(-claimTimeout)).Error; err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO control.api_idempotency (user_id, key, route, body_hash, status, response, created_at)
			VALUES (?, ?, ?, ?, 0, '', ?) ON CONFLICT DO NOTHING`, user, key, route, sum, now)
		if res.Error != nil {
			return res.Error
		}
		if claimed = res.RowsAffected == 1; claimed {
			return nil
		}
		return tx.Raw(`SELECT body_hash, status, response, location, created_at FROM control.api_idempotency
			WHERE user_id = ? AND key = ? AND route = ?`, user, key, route).Scan(&prior).Error
	})
	if err != nil {
		return remembered{}, false, fmt.Errorf("claiming an idempotency key: %w", err)
	}
	return prior, claimed, nil
}

func (s *Idempotency) release(ctx context.Context, user int64, key, route string) {
	_ = s.db(ctx).Exec(`DELETE FROM control.api_idempotency WHERE user_id = ? AND key = ? AND route = ? AND status = 0`, user, key, route).Error
}

// replay answers a repeat from the row that holds its key.
func replay(c echo.Context, prior remembered, sum []byte) error {
	switch {
	case !bytes.Equal(prior.BodyHash, sum):
		return Fail(http.StatusUnprocessableEntity, "this Idempotency-Key was used with a different request body")
	case prior.Status == 0:
		c.Response().Header().Set(echo.HeaderRetryAfter, "1")
		return Fail(http.StatusConflict, "a request with this Idempotency-Key is still running; retry in a moment to get its answer")
	}
	if prior.Location != "" {
		c.Response().Header().Set(echo.HeaderLocation, prior.Location)
	}
	c.Response().Header().Set("Idempotent-Replayed", "true")
	return c.Blob(prior.Status, echo.MIMEApplicationJSON, prior.Response)
}

// without drops the named top-level fields from a JSON object (anything
// else is kept as it is).
func without(body []byte, fields []string) []byte {
	if len(fields) == 0 {
		return body
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return body
	}
	for _, f := range fields {
		delete(obj, f)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return b
}

// teeWriter keeps a copy of what the handler writes.
type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *teeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
