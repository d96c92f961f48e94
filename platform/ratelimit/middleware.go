package ratelimit

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Rule holds the requests of a route to one set of buckets, each request
// charged to the bucket Key names ("" exempts the request from the rule).
type Rule struct {
	Buckets *Buckets
	Key     func(echo.Context) string
	// PerUnit rules are charged by the handler, with Spend, once it knows
	// how many units (alerts in a batch) the request carries; the others
	// are charged one token per request before the handler runs.
	PerUnit bool
}

// unitsKey is where Middleware leaves the request's per-unit charges.
const unitsKey = "ratelimit.units"

// Middleware charges every request one token from each per-request rule's
// bucket, all or none, and answers 429 with Retry-After and the limit's
// description when one is empty: before the handler, so a refused request
// stores nothing and costs no database work. Routes that count units as
// well call Spend. Put it after whatever the keys need (tenant resolution,
// authentication); it is route middleware for that reason, reusable on any
// route and with any key (an API key, a staff token, an endpoint).
func Middleware(rules ...Rule) echo.MiddlewareFunc {
	var perRequest, perUnit []Rule
	for _, r := range rules {
		if r.PerUnit {
			perUnit = append(perUnit, r)
		} else {
			perRequest = append(perRequest, r)
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := Take(1, charges(c, perRequest)...); err != nil {
				return answer(c, err)
			}
			if len(perUnit) > 0 {
				c.Set(unitsKey, charges(c, perUnit))
			}
			return next(c)
		}
	}
}

// Gate names a limited route and the rule whose empty buckets Early
// refuses ahead of the rest of the middleware chain.
type Gate struct {
	Method, Path string // as registered: "POST", "/api/v1/alerts"
	Rule         Rule
}

// Early answers 429 at once for a request to a gated route whose bucket is
// already empty, so that a flood costs little more than reading its
// headers: it runs before sessions, tenant resolution and authorization,
// which the route's Middleware comes after. It only looks (Refusing): the
// route's Middleware still takes the tokens, so a request Early lets
// through is counted exactly as before, and a credential nobody has been
// charged under (a wrong one included) has no bucket and goes on to be
// authenticated. Keys must therefore come from the request alone
// (ByCredential), not from what later middleware finds.
func Early(gates ...Gate) echo.MiddlewareFunc {
	type route struct{ method, path string }
	routes := make(map[route]Rule, len(gates))
	for _, g := range gates {
		routes[route{g.Method, g.Path}] = g.Rule
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if r, ok := routes[route{c.Request().Method, c.Path()}]; ok {
				if refused := r.Buckets.Refusing(r.Key(c)); refused != nil {
					return answer(c, refused)
				}
			}
			return next(c)
		}
	}
}

// Spend charges n units to the request's per-unit rules (none when the
// route has no such rule) and returns the 429 to answer when they are
// used up. Call it before storing anything, so a refused batch stores
// nothing.
func Spend(c echo.Context, n int) error {
	cs, _ := c.Get(unitsKey).([]Charge)
	if err := Take(n, cs...); err != nil {
		return answer(c, err)
	}
	return nil
}

func charges(c echo.Context, rules []Rule) []Charge {
	cs := make([]Charge, 0, len(rules))
	for _, r := range rules {
		cs = append(cs, Charge{Buckets: r.Buckets, Key: r.Key(c)})
	}
	return cs
}

// answer sets Retry-After and returns the 429 the web layer's error handler
// sends, with the message that names the limit.
func answer(c echo.Context, err error) error {
	var r *Refused
	if !errors.As(err, &r) {
		return err
	}
	c.Response().Header().Set("Retry-After", strconv.Itoa(r.Seconds()))
	return echo.NewHTTPError(http.StatusTooManyRequests, r.Error())
}
