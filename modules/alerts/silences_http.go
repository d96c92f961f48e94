package alerts

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// silenceRoutes registers the silences page and its actions.
func (s *Service) silenceRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/silences", authz.TenantView, s.silencesPage)
	a.Route(e, http.MethodPost, "/t/:slug/silences", authz.TenantManage, s.silenceForm)
	a.Route(e, http.MethodPost, "/t/:slug/silences/:id/expire", authz.TenantManage, s.expireSilence)
	a.Route(e, http.MethodPost, "/t/:slug/silences/:id/delete", authz.TenantManage, s.deleteSilence)
}

type silencesPage struct {
	Active, Upcoming, Expired []SilenceView
	ExpiredFor                string // how far back ended silences are listed, in words
}

func (s *Service) silencesPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.Silences(c.Request().Context(), t, time.Now())
	if err != nil {
		return err
	}
	p := silencesPage{ExpiredFor: humane.Duration(ExpiredListed)}
	for _, v := range list {
		switch v.State {
		case SilenceActive:
			p.Active = append(p.Active, v)
		case SilenceUpcoming:
			p.Upcoming = append(p.Upcoming, v)
		default:
			p.Expired = append(p.Expired, v)
		}
	}
	return web.Render(c, http.StatusOK, "console/silences.html", "Silences · "+t.Name, p)
}

// silenceForm creates a silence from "name=value, name=~regex" matchers and
// a duration starting now.
func (s *Service) silenceForm(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	ms, err := ParseMatchers(strings.Split(c.FormValue("matchers"), ","))
	if err != nil {
		return err // invalid: 400 with its message
	}
	d, err := ParseSilenceDuration(c.FormValue("duration"))
	if err != nil {
		return err
	}
	now := time.Now()
	sil, err := s.CreateSilence(c.Request().Context(), t, ms, now, now.Add(d), c.FormValue("comment"))
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/silences",
		fmt.Sprintf("Silence #%d created: matching alerts are recorded as suppressed for %s.", sil.ID, humane.Duration(d)))
}

func (s *Service) expireSilence(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	id, err := silenceID(c)
	if err != nil {
		return err
	}
	_, changed, err := s.ExpireSilence(c.Request().Context(), t, id)
	if err != nil {
		return silenceRefusal(err)
	}
	msg := fmt.Sprintf("Silence #%d expired: matching alerts are no longer suppressed.", id)
	if !changed {
		msg = fmt.Sprintf("Silence #%d had already ended.", id)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/silences", msg)
}

func (s *Service) deleteSilence(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	id, err := silenceID(c)
	if err != nil {
		return err
	}
	if _, err := s.DeleteSilence(c.Request().Context(), t, id); err != nil {
		return silenceRefusal(err)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/silences", fmt.Sprintf("Silence #%d deleted.", id))
}

func silenceID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, echo.NewHTTPError(http.StatusNotFound, "No such silence.")
	}
	return id, nil
}

// silenceRefusal answers a missing silence with a plain 404; other errors
// keep their kind (a conflict is 409 with its message).
func silenceRefusal(err error) error {
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such silence.")
	}
	return err
}
