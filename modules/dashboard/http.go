package dashboard

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// ConsoleRoutes registers the cross-client home.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/", authz.ConsoleView, s.home(a))
}

func (s *Service) home(a *authz.Authorizer) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		ids, err := s.tenants.VisibleIDs(c, a)
		if err != nil {
			return err
		}
		asked := pageOf(c.QueryParam("page"), -1)
		home, err := s.tenants.Home(ctx, ids, asked.From, homePageSize, queueSize)
		if err != nil {
			return err
		}
		page := pageOf(c.QueryParam("page"), home.Total)
		if page.From != asked.From { // past the end: show the last page
			if home, err = s.tenants.Home(ctx, ids, page.From, homePageSize, queueSize); err != nil {
				return err
			}
		}
		counts := map[string]int{"critical": home.Critical, "warning": home.Warning}
		for status, n := range home.ByStatus {
			counts[status] = n
		}
		queue, read, err := s.Queue(ctx, home.Urgent, queueSize)
		if err != nil {
			return err
		}
		return web.Render(c, http.StatusOK, "console/home.html", "Clients",
			map[string]any{"Tenants": home.Page, "Total": home.Total, "Page": page,
				"Counts": counts, "Queue": queue, "SchemasRead": read})
	}
}

// queueSize is how many alerts the all-clients queue shows (and so how
// many of the most urgent clients it reads).
const queueSize = 25

// homePageSize is how many clients one page of the home lists: with
// thousands of clients, rendering every row would be most of the page's
// cost and none of its use.
const homePageSize = 200

// homePage is which slice of the clients a page of the home shows; First
// is From counted from 1, Prev and Next are 0 when there is none.
type homePage struct {
	Number, Pages, From, To, First, Prev, Next int
}

// pageOf reads ?page= (1-based; anything else is the first page) for n
// clients; n < 0 means the total is not known yet.
func pageOf(param string, n int) homePage {
	number, err := strconv.Atoi(param)
	if err != nil || number < 1 {
		number = 1
	}
	if n < 0 { // the total is not known yet: take the number as asked
		from := (number - 1) * homePageSize
		return homePage{Number: number, From: from, First: from + 1}
	}
	pages := max(1, (n+homePageSize-1)/homePageSize)
	number = min(number, pages)
	from := (number - 1) * homePageSize
	p := homePage{Number: number, Pages: pages, From: from, To: min(from+homePageSize, n), First: from + 1}
	if number > 1 {
		p.Prev = number - 1
	}
	if number < pages {
		p.Next = number + 1
	}
	return p
}
