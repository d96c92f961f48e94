package tenants

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// settingsRoutes registers the console's page of a client's settings:
// anyone who works in the client may read them, tenant admins change them.
func (s *Service) settingsRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/settings", authz.TenantView, s.settingsPage)
	a.Route(e, http.MethodPost, "/t/:slug/settings", authz.TenantAdmin, s.saveSettingsForm)
}

// settingsPage is the page's data: the form's values (as saved, or as
// entered when refused), the refused fields, and how portal times read.
type settingsPage struct {
	DisplayName, TimeZone, Locale string
	Errors                        SettingsErrors
	Locales                       []humane.Locale
	Zones                         []string // suggestions; any IANA name is accepted
	Example                       string   // now, as the portal shows a time with the saved settings
	UpdatedAt                     time.Time
}

// commonZones are the time zone suggestions of the form's list.
var commonZones = []string{"UTC", "Europe/London", "Europe/Dublin", "Europe/Amsterdam", "Europe/Berlin", "Europe/Paris",
	"Europe/Oslo", "Europe/Stockholm", "Europe/Madrid", "Europe/Rome", "Europe/Warsaw", "Europe/Helsinki",
	"America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/Toronto",
	"America/Sao_Paulo", "Asia/Dubai", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland"}

func (s *Service) settingsPage(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	cs, err := s.SettingsNow(c.Request().Context(), t)
	if err != nil {
		return err
	}
	return s.renderSettings(c, http.StatusOK, cs, settingsPage{DisplayName: cs.DisplayName, TimeZone: cs.TimeZone, Locale: cs.Locale}, "")
}

// renderSettings shows the form with p's values; saved is what is stored,
// for the example and the last change.
func (s *Service) renderSettings(c echo.Context, status int, saved ClientSettings, p settingsPage, errMsg string) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	p.Locales, p.Zones, p.UpdatedAt = humane.Locales(), commonZones, saved.UpdatedAt
	p.Example = humane.LocaleFor(saved.Locale).At(time.Now(), saved.Zone())
	return c.Render(status, "console/settings.html", web.Page{Title: "Settings · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) saveSettingsForm(c echo.Context) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	p := settingsPage{DisplayName: c.FormValue("display_name"), TimeZone: c.FormValue("timezone"), Locale: c.FormValue("locale")}
	_, changed, err := s.SaveSettings(ctx, t, SettingsInput{DisplayName: &p.DisplayName, TimeZone: &p.TimeZone, Locale: &p.Locale})
	var bad SettingsErrors
	if errors.As(err, &bad) {
		// The form comes back as entered, each refused field marked; 422:
		// the request was understood, its content is what must change.
		p.Errors = bad
		saved, rerr := s.SettingsNow(ctx, t)
		if rerr != nil {
			return rerr
		}
		return s.renderSettings(c, http.StatusUnprocessableEntity, saved, p, web.Sentence(bad.Error())+".")
	}
	if err != nil {
		return err
	}
	msg := "Nothing changed."
	if changed {
		msg = "Settings saved: the portal shows them from its next page."
	}
	return web.RedirectFlash(c, "/t/"+t.Slug+"/settings", msg)
}
