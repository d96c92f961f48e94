package notify

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// ConsoleRoutes registers a client's notification channels page.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/channels", authz.TenantView, s.channelsPage)
	a.Route(e, http.MethodPost, "/t/:slug/channels", authz.TenantAdmin, s.createChannel)
	a.Route(e, http.MethodPost, "/t/:slug/channels/:name/delete", authz.TenantAdmin, s.deleteChannel)
}

type channelsPage struct {
	Channels []Channel
	Form     ChannelInput
	Secret   string // a webhook secret just generated, shown once
	Name     string
}

func (s *Service) channelsPage(c echo.Context) error {
	return s.renderChannels(c, http.StatusOK, channelsPage{Form: ChannelInput{Kind: KindWebhook}}, "")
}

func (s *Service) renderChannels(c echo.Context, status int, p channelsPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.List(c.Request().Context(), t)
	if err != nil {
		return err
	}
	p.Channels = list
	return c.Render(status, "console/channels.html", web.Page{Title: "Notifications · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) createChannel(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	in := ChannelInput{Name: strings.TrimSpace(c.FormValue("name")), Kind: c.FormValue("kind"), URL: strings.TrimSpace(c.FormValue("url"))}
	for _, addr := range strings.Split(c.FormValue("email_to"), ",") {
		if a := strings.TrimSpace(addr); a != "" {
			in.EmailTo = append(in.EmailTo, a)
		}
	}
	ch, err := s.Create(c.Request().Context(), t, in)
	if errors.Is(err, ErrConflict) {
		return s.renderChannels(c, http.StatusConflict, channelsPage{Form: in}, "A channel with that name exists.")
	}
	if status, msg, ok := web.Refusal(err); ok {
		return s.renderChannels(c, status, channelsPage{Form: in}, msg)
	}
	if err != nil {
		return err
	}
	return s.renderChannels(c, http.StatusCreated, channelsPage{Form: ChannelInput{Kind: KindWebhook}, Secret: ch.Secret, Name: ch.Name}, "")
}

func (s *Service) deleteChannel(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	// A channel that does not exist (or no longer does) is a 404: saying
	// "deleted" about nothing would hide a mistyped or stale name.
	err := s.Delete(c.Request().Context(), t, c.Param("name"))
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "This client has no such channel.")
	}
	if err != nil {
		return err
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/channels", "Channel "+c.Param("name")+" deleted.")
}
