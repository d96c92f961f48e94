package notify

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/web"
)

// hookLogShown is how many deliveries the webhooks page lists.
const hookLogShown = 50

// PlatformRoutes registers the MSP-wide webhooks page: owners and admins
// add and delete webhooks, read the delivery log and redeliver.
func (h *Hooks) PlatformRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/platform/webhooks", authz.PlatformManage, h.page)
	a.Route(e, http.MethodPost, "/platform/webhooks", authz.PlatformManage, h.create)
	a.Route(e, http.MethodPost, "/platform/webhooks/:id/delete", authz.PlatformManage, h.delete)
	a.Route(e, http.MethodPost, "/platform/webhooks/deliveries/:id/redeliver", authz.PlatformManage, h.redeliver)
}

type hooksPage struct {
	Hooks      []Hook
	Deliveries []Delivery
	Form       HookInput
	Created    *Hook    // just created: its secret, shown once
	Events     []string // every event a webhook can receive, for the form
}

// Words names an event for people, for the template.
func (hooksPage) Words(event string) string { return EventWords(event) }

// LogShown is how many deliveries the page lists, for its text.
func (hooksPage) LogShown() int { return hookLogShown }

func (h *Hooks) page(c echo.Context) error {
	return h.render(c, http.StatusOK, hooksPage{Form: HookInput{Events: []string{AlertCreated, AlertAcknowledged, AlertResolved}}}, "")
}

func (h *Hooks) render(c echo.Context, status int, p hooksPage, errMsg string) error {
	ctx := c.Request().Context()
	var err error
	if p.Hooks, err = h.List(ctx); err != nil {
		return err
	}
	if p.Deliveries, err = h.Deliveries(ctx, 0, hookLogShown); err != nil {
		return err
	}
	p.Events = HookEvents
	return c.Render(status, "console/webhooks.html", web.Page{Title: "Webhooks", Error: errMsg, Data: p})
}

func (h *Hooks) create(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the form")
	}
	in := HookInput{URL: strings.TrimSpace(form.Get("url")), Events: form["events"], Description: form.Get("description")}
	hook, err := h.Create(c.Request().Context(), in)
	if status, msg, ok := web.Refusal(err); ok {
		return h.render(c, status, hooksPage{Form: in}, msg)
	}
	if err != nil {
		return err
	}
	return h.render(c, http.StatusCreated, hooksPage{Form: HookInput{Events: hook.Events}, Created: &hook}, "")
}

func (h *Hooks) delete(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such webhook.")
	}
	err = h.Delete(c.Request().Context(), id)
	if errors.Is(err, ErrHookNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such webhook.")
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/platform/webhooks", "Webhook #"+c.Param("id")+" deleted with its delivery log.")
}

func (h *Hooks) redeliver(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such delivery.")
	}
	d, err := h.Redeliver(c.Request().Context(), id)
	if errors.Is(err, ErrHookNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "There is no such delivery.")
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/platform/webhooks", "Delivery "+d.Delivery+" queued again (round "+strconv.Itoa(d.Round)+").")
}
