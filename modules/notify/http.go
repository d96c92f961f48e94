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
	// Technicians may test: it sends to a destination admins chose, and
	// telling a broken receiver from a quiet one is their daily work.
	a.Route(e, http.MethodPost, "/t/:slug/channels/:name/test", authz.TenantManage, s.testChannel)
}

// inboxShown is how many inbox messages the page lists.
const inboxShown = 20

type channelsPage struct {
	Channels []Channel
	Form     ChannelInput
	Secret   string // a webhook secret just generated, shown once
	Name     string
	Warning  string            // the new channel's address warning, shown with its secret
	Refused  map[string]string // channel name → why its deliveries will be refused
	Events   []string          // every event a channel can receive, for the form
	Inbox    []InboxMessage    // the newest messages inbox channels received
	HasInbox bool
}

// InboxShown is how many inbox messages the page lists, for its text.
func (channelsPage) InboxShown() int { return inboxShown }

// Words names an event for people, for the template.
func (channelsPage) Words(event string) string { return EventWords(event) }

// newForm is the create form as first shown.
func newForm() ChannelInput {
	return ChannelInput{Kind: KindWebhook, Events: DefaultEvents}
}

func (s *Service) channelsPage(c echo.Context) error {
	return s.renderChannels(c, http.StatusOK, channelsPage{Form: newForm()}, "")
}

func (s *Service) renderChannels(c echo.Context, status int, p channelsPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	list, err := s.List(c.Request().Context(), t)
	if err != nil {
		return err
	}
	p.Channels, p.Events, p.Refused = list, AllEvents, map[string]string{}
	if len(p.Form.Events) == 0 {
		p.Form.Events = DefaultEvents
	}
	for _, ch := range list {
		p.HasInbox = p.HasInbox || ch.Kind == KindInbox
		if why := literalRefusal(ch.URL); ch.Kind == KindWebhook && why != "" && !s.opts.AllowPrivateNetworks {
			p.Refused[ch.Name] = "Deliveries will be refused: " + why + "."
		}
	}
	if p.HasInbox {
		if p.Inbox, err = s.Inbox(c.Request().Context(), t, inboxShown); err != nil {
			return err
		}
	}
	return c.Render(status, "console/channels.html", web.Page{Title: "Notifications · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) createChannel(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "could not read the form")
	}
	in := ChannelInput{Name: strings.TrimSpace(form.Get("name")), Kind: form.Get("kind"), Events: form["events"],
		ClientFacing: form.Get("client_facing") == "true"}
	// The form shows every kind's fields (scripts hide the others); only
	// the chosen kind's are read, so a value typed before switching kinds
	// does not make the channel invalid.
	switch in.Kind {
	case KindWebhook:
		in.URL = strings.TrimSpace(form.Get("url"))
	case KindEmail:
		for _, addr := range strings.Split(form.Get("email_to"), ",") {
			if a := strings.TrimSpace(addr); a != "" {
				in.EmailTo = append(in.EmailTo, a)
			}
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
	return s.renderChannels(c, http.StatusCreated, channelsPage{Form: newForm(), Secret: ch.Secret, Name: ch.Name, Warning: ch.Warning}, "")
}

// testChannel sends a test message now and shows how it went: a notice on
// success; on failure the page again with the receiver's answer or the
// reason (200: the test ran, and its result is the page's news).
func (s *Service) testChannel(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	name := c.Param("name")
	out, err := s.SendTest(c.Request().Context(), t, name)
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "This client has no such channel.")
	}
	if err != nil {
		return err
	}
	if !out.OK {
		return s.renderChannels(c, http.StatusOK, channelsPage{Form: newForm()}, "Test of "+name+" failed: "+out.Detail)
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/channels", "Test of "+name+" sent: "+out.Detail+".")
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
