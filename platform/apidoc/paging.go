package apidoc

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Paging of list operations: ?limit= (1-MaxPageLimit, default
// DefaultPageLimit) and ?cursor= (the previous page's next).
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// PageParams documents a listing's limit and cursor query parameters.
func PageParams() []Param {
	return []Param{
		{Name: "limit", In: "query", Schema: Schema{"type": "integer", "minimum": 1, "maximum": MaxPageLimit}},
		{Name: "cursor", In: "query", Description: "the next of the previous page"},
	}
}

// PageLimit reads ?limit=; anything but a whole number in range is the
// caller's to fix (400).
func PageLimit(c echo.Context) (int, error) {
	l := c.QueryParam("limit")
	if l == "" {
		return DefaultPageLimit, nil
	}
	n, err := strconv.Atoi(l)
	if err != nil || n < 1 || n > MaxPageLimit {
		return 0, Fail(http.StatusBadRequest, "limit must be 1-500")
	}
	return n, nil
}
