package dashboard

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/labstack/echo/v4"

	"switchboard/modules/tenants"
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
		list, err := s.tenants.Summaries(ctx, ids)
		if err != nil {
			return err
		}
		counts := map[string]int{}
		for _, t := range list {
			counts[t.Status]++
			counts["critical"] += t.OpenCritical
			counts["warning"] += t.OpenWarning
		}
		byUrgency(list)
		queue, read, err := s.Queue(ctx, list, 25)
		if err != nil {
			return err
		}
		page := pageOf(c.QueryParam("page"), len(list))
		return web.Render(c, http.StatusOK, "console/home.html", "Clients",
			map[string]any{"Tenants": list[page.From:page.To], "Total": len(list), "Page": page,
				"Counts": counts, "Queue": queue, "SchemasRead": read})
	}
}

// homePageSize is how many clients one page of the home lists: with
// thousands of clients, rendering every row would be most of the page's
// cost and none of its use.
const homePageSize = 200

// homePage is which slice of the clients a page of the home shows; First
// is From counted from 1, Prev and Next are 0 when there is none.
type homePage struct {
	Number, Pages, From, To, First, Prev, Next int
}

// pageOf reads ?page= (1-based; anything else is the first page) for n clients.
func pageOf(param string, n int) homePage {
	pages := max(1, (n+homePageSize-1)/homePageSize)
	number, err := strconv.Atoi(param)
	if err != nil || number < 1 {
		number = 1
	}
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

// byUrgency orders clients with open critical alerts first, then warnings,
// then by name (the order Summaries gives), so the first page is the one
// that needs someone.
func byUrgency(list []tenants.Summary) {
	sort.SliceStable(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.OpenCritical != b.OpenCritical {
			return a.OpenCritical > b.OpenCritical
		}
		return a.OpenWarning > b.OpenWarning
	})
}
