package ratelimit

import (
	"crypto/sha256"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/tenancy"
)

// ByCredential keys a request by the secret it presents: X-API-Key, else
// the Authorization bearer token (an API key, an endpoint credential, a
// staff token). The key is a hash, so no secret is kept in memory, and a
// bucket can only be drained by someone who holds its secret: keying by an
// id in the credential would let a stranger exhaust an honest agent's
// bucket. "" (no rule applies) when the request presents none.
func ByCredential(c echo.Context) string {
	req := c.Request()
	secret := req.Header.Get("X-API-Key")
	if secret == "" {
		if auth := req.Header.Get(echo.HeaderAuthorization); len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
			secret = strings.TrimSpace(auth[7:])
		}
	}
	if secret == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(secret))
	return string(sum[:16])
}

// ByTenant keys a request by the client it was resolved to; "" when the
// request has none.
func ByTenant(c echo.Context) string {
	t, ok := tenancy.FromContext(c.Request().Context())
	if !ok {
		return ""
	}
	return strconv.FormatInt(t.ID, 10)
}
