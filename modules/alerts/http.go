package alerts

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers a client's alert pages in the console.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/alerts", authz.TenantView, s.listPage)
	a.Route(e, http.MethodPost, "/t/:slug/alerts/bulk", authz.TenantManage, s.bulk)
	s.silenceRoutes(a, e) // silences_http.go
	a.Route(e, http.MethodGet, "/t/:slug/alerts/:id", authz.TenantView, s.detailPage)
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/acknowledge", authz.TenantManage, s.transitionOne(ActionAcknowledge))
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/resolve", authz.TenantManage, s.transitionOne(ActionResolve))
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/wait", authz.TenantManage, s.transitionOne(ActionWait))
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/resume", authz.TenantManage, s.transitionOne(ActionResume))
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/notes", authz.TenantManage, s.note)
	a.Route(e, http.MethodPost, "/t/:slug/alerts/:id/assign", authz.TenantManage, s.assign)
}

type listPage struct {
	Filter Filter
	Alerts []Alert
}

func (s *Service) listPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	f := Filter{Status: c.QueryParam("status"), Severity: c.QueryParam("severity"), Endpoint: strings.TrimSpace(c.QueryParam("endpoint")),
		Text: strings.TrimSpace(c.QueryParam("q"))}
	if f.Severity != "" && f.Severity != SeverityCritical && f.Severity != SeverityWarning && f.Severity != SeverityInfo {
		return echo.NewHTTPError(http.StatusBadRequest, "severity must be critical, warning or info")
	}
	if len(f.Text) > 200 || len(f.Endpoint) > 200 {
		return echo.NewHTTPError(http.StatusBadRequest, "filter text is too long")
	}
	list, err := s.List(c.Request().Context(), t, f)
	if err != nil {
		return err
	}
	if f.Status == "" {
		f.Status = "open"
	}
	return web.Render(c, http.StatusOK, "console/alerts.html", "Alerts · "+t.Name, listPage{Filter: f, Alerts: list})
}

func (s *Service) bulk(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the form")
	}
	var ids []int64
	for _, v := range form["ids"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "alert ids must be numbers")
		}
		ids = append(ids, id)
	}
	action := c.FormValue("action")
	n, err := s.Transition(c.Request().Context(), t, ids, Action(action))
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/alerts", fmt.Sprintf("%s %sd.", humane.Plural(n, "alert", "alerts"), action))
}

func alertID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such alert.")
	}
	return id, nil
}

type detailPage struct {
	Alert   Alert
	Events  []Event
	SLA     *SLAPanel
	Waiting bool
	// Assignees are the staff who can see the client, for the assignee
	// picker; AssigneeGone says the current assignee is no longer one of them.
	Assignees    []Assignee
	AssigneeGone bool
}

// SLAPanel is what the alert page shows of its SLA clocks (filled by the
// slas module through NewService, which alerts cannot import).
type SLAPanel struct {
	Response, Resolution SLAClock
	Waiting              bool
	Origin               string
}

// Clocks lists the panel's clocks in the order the page shows them.
func (p SLAPanel) Clocks() []SLAClock {
	p.Response.Name, p.Resolution.Name = "Response", "Resolution"
	return []SLAClock{p.Response, p.Resolution}
}

// SLAClock is one clock as shown: target, used, paused, deadline, outcome.
type SLAClock struct {
	Name                 string
	Target, Used, Paused time.Duration
	Deadline             time.Time
	Stopped, Met         bool
	Breached             bool
}

// ByTime is a timeline in the order things happened, for reading. Events
// are stored in id order, which is commit order: an entry written by a
// delivery worker or a transaction that started earlier can carry an
// earlier time than the entry before it. The SLA clocks replay the stored
// order; people read the clock on the wall. Ties keep the stored order.
func ByTime(events []Event) []Event {
	out := slices.Clone(events)
	slices.SortStableFunc(out, func(a, b Event) int { return a.At.Compare(b.At) })
	return out
}

// SLASource computes the SLA panel of an alert from its timeline.
type SLASource func(ctx context.Context, t tenancy.Tenant, a Alert, events []Event) (*SLAPanel, error)

func (s *Service) detailPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	id, err := alertID(c)
	if err != nil {
		return err
	}
	a, events, err := s.Get(c.Request().Context(), t, id)
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such alert.")
	}
	if err != nil {
		return err
	}
	page := detailPage{Alert: a, Events: ByTime(events), Waiting: Waiting(events)}
	if page.SLA, err = s.sla(c.Request().Context(), t, a, events); err != nil {
		return err
	}
	if page.Assignees, err = s.Assignees(c.Request().Context(), t); err != nil {
		return err
	}
	page.AssigneeGone = a.Assignee != "" && !slices.ContainsFunc(page.Assignees, func(p Assignee) bool { return p.Email == a.Assignee })
	return web.Render(c, http.StatusOK, "console/alert.html", fmt.Sprintf("Alert #%d · %s", a.ID, t.Name), page)
}

func (s *Service) transitionOne(action Action) echo.HandlerFunc {
	return func(c echo.Context) error {
		t, _ := tenancy.FromContext(c.Request().Context())
		id, err := alertID(c)
		if err != nil {
			return err
		}
		if _, err := s.Transition(c.Request().Context(), t, []int64{id}, action); err != nil {
			return err
		}
		return web.RedirectFlash(c, fmt.Sprintf("/t/%s/alerts/%d", t.Slug, id), "")
	}
}

func (s *Service) note(c echo.Context) error {
	return s.onDetail(c, func(t tenancy.Tenant, id int64) error {
		return s.AddNote(c.Request().Context(), t, id, c.FormValue("note"), c.FormValue("client_visible") == "on")
	})
}

func (s *Service) assign(c echo.Context) error {
	return s.onDetail(c, func(t tenancy.Tenant, id int64) error {
		return s.Assign(c.Request().Context(), t, id, c.FormValue("assignee"))
	})
}

func (s *Service) onDetail(c echo.Context, fn func(tenancy.Tenant, int64) error) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	id, err := alertID(c)
	if err != nil {
		return err
	}
	err = fn(t, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return echo.NewHTTPError(http.StatusNotFound, "No such alert.")
	case err != nil:
		return err // invalid input answers 400 with its message (its fault kind)
	}
	return web.RedirectFlash(c, fmt.Sprintf("/t/%s/alerts/%d", t.Slug, id), "")
}
