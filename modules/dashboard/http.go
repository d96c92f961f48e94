package dashboard

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/sync/errgroup"

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
		view, err := queueViewOf(c.QueryParam("sort"), c.QueryParam("mine"))
		if err != nil {
			return err
		}
		ids, err := s.tenants.VisibleIDs(c, a)
		if err != nil {
			return err
		}
		opts := QueueOptions{Sort: view.Sort, Limit: queueSize, Reach: queueSize, Now: time.Now()}
		if view.Mine {
			sub, _ := authz.SubjectFrom(ctx)
			if sub.Email == "" {
				return echo.NewHTTPError(http.StatusBadRequest, "My alerts needs a signed-in staff user with an e-mail address.")
			}
			opts.Assignee, opts.Reach = sub.Email, mineReach
		}
		timing := serverTiming{start: time.Now()}
		asked := pageOf(c.QueryParam("page"), -1)
		home, err := s.tenants.Home(ctx, ids, asked.From, homePageSize, opts.Reach)
		if err != nil {
			return err
		}
		page := pageOf(c.QueryParam("page"), home.Total)
		if page.From != asked.From { // past the end: show the last page
			if home, err = s.tenants.Home(ctx, ids, page.From, homePageSize, opts.Reach); err != nil {
				return err
			}
		}
		counts := map[string]int{"critical": home.Critical, "warning": home.Warning}
		for status, n := range home.ByStatus {
			counts[status] = n
		}
		timing.lap("clients")
		// The queue and the trend read different servers' tables: at once.
		var (
			queue []QueueItem
			read  int
			trend OpenTrend
		)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() (err error) {
			queue, read, err = s.WorkQueue(gctx, home.Urgent, opts)
			return err
		})
		g.Go(func() (err error) {
			trend, err = s.OpenTrend(gctx, ids, opts.Now, home.Critical, home.Warning)
			return err
		})
		if err := g.Wait(); err != nil {
			return err
		}
		timing.lap("queue-and-trend")
		c.Response().Header().Set("Server-Timing", timing.String())
		view.link(page.Number)
		view.Read, view.Reach = read, opts.Reach
		return web.Render(c, http.StatusOK, "console/home.html", "Clients",
			map[string]any{"Tenants": home.Page, "Total": home.Total, "Page": page,
				"Counts": counts, "Queue": queue, "SchemasRead": read, "Busy": home.Critical+home.Warning > 0,
				"View": view, "Trend": trend, "Mine": view.Mine,
				"PrevHref": homeURL(view.Sort, view.Mine, page.Prev), "NextHref": homeURL(view.Sort, view.Mine, page.Next)})
	}
}

// queueSize is how many alerts the all-clients queue shows (and so how
// many of the most urgent clients it reads).
const queueSize = 25

// mineReach is how many of the most urgent clients "My alerts" reads: the
// viewer's alerts may be at clients quieter than the queueSize busiest,
// and each read returns only their own alerts.
const mineReach = 100

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

// serverTiming collects the parts of a page's server time for the
// Server-Timing header, which browsers' developer tools and the bench show.
type serverTiming struct {
	start, last time.Time
	parts       []string
}

// lap records the time since the previous lap (or the start) as name.
func (t *serverTiming) lap(name string) {
	now := time.Now()
	from := t.last
	if from.IsZero() {
		from = t.start
	}
	t.last = now
	t.parts = append(t.parts, fmt.Sprintf("%s;dur=%.2f", name, float64(now.Sub(from).Microseconds())/1000))
}

func (t *serverTiming) String() string { return strings.Join(t.parts, ", ") }
