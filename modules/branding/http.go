package branding

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/authz"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// AssetCSP is sent with every asset. An SVG opened directly (not through an
// <img>) is a document that could run script; this keeps it inert even if a
// check were missed: nothing loads, nothing runs, and it has no origin.
const AssetCSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"

// PortalRoutes registers the brand's images on the client portal (the tenant
// comes from the Host).
func (s *Service) PortalRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/brand/:file", authz.Public, s.portalAsset)
}

// ConsoleRoutes registers a client's branding page and its image previews.
// Changing the brand is a client setting like its channels and policy, so it
// takes TenantAdmin; looking takes TenantView.
func (s *Service) ConsoleRoutes(a *authz.Authorizer, e *echo.Echo) {
	a.Route(e, http.MethodGet, "/t/:slug/branding", authz.TenantView, s.page)
	a.Route(e, http.MethodPost, "/t/:slug/branding", authz.TenantAdmin, s.save)
	a.Route(e, http.MethodGet, "/t/:slug/branding/assets/:file", authz.TenantView, s.consoleAsset)
}

func (s *Service) portalAsset(c echo.Context) error {
	t, ok := tenancy.FromContext(c.Request().Context())
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	return s.serveAsset(c, t)
}

func (s *Service) consoleAsset(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	return s.serveAsset(c, t)
}

// serveAsset answers with the image named by the :file parameter. Its URL
// carries its content hash, so it may be cached for a year.
func (s *Service) serveAsset(c echo.Context, t tenancy.Tenant) error {
	a, err := s.Asset(c.Request().Context(), t, c.Param("file"))
	if errors.Is(err, ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	if err != nil {
		return err
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, a.ContentType)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", `"`+a.SHA256+`"`)
	h.Set("Content-Security-Policy", AssetCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Response(), c.Request(), "", time.Time{}, bytes.NewReader(a.Bytes))
	return nil
}

// pageData is what templates/console/branding.html shows.
type pageData struct {
	Form                Input // the form's values: stored ones, or the refused submission
	Brand               Brand // the saved brand with defaults, asset URLs for the console
	Warnings            []string
	Defaults            Brand // what empty fields fall back to
	LogoMax, FaviconMax string
}

func (s *Service) page(c echo.Context) error {
	return s.render(c, http.StatusOK, nil, "")
}

// render shows the page; form is the refused submission to show again (nil:
// the stored values).
func (s *Service) render(c echo.Context, status int, form *Input, errMsg string) error {
	ctx := c.Request().Context()
	t, _ := tenancy.FromContext(ctx)
	st, err := s.Settings(ctx, t)
	if err != nil {
		return err
	}
	b := brandOf(t, st, "/t/"+t.Slug+"/branding/assets/")
	p := pageData{Brand: b, Warnings: ContrastWarnings(b.PrimaryColor, b.AccentColor),
		Defaults: brandOf(t, Settings{}, ""),
		LogoMax:  kib(Logo.MaxBytes), FaviconMax: kib(Favicon.MaxBytes)}
	if form != nil {
		p.Form = *form
		p.Form.Logo, p.Form.Favicon = nil, nil
	} else {
		p.Form = Input{DisplayName: st.DisplayName, PrimaryColor: st.PrimaryColor, AccentColor: st.AccentColor,
			SupportEmail: st.SupportEmail, SupportPhone: st.SupportPhone, SenderName: st.SenderName}
	}
	return c.Render(status, "console/branding.html", web.Page{Title: "Branding · " + t.Name, Error: errMsg, Data: p})
}

func (s *Service) save(c echo.Context) error {
	t, _ := tenancy.FromContext(c.Request().Context())
	in, err := readForm(c)
	if err == nil {
		var saved Saved
		saved, err = s.Save(c.Request().Context(), t, in)
		if err == nil {
			flash := "Branding saved."
			if !saved.Changed {
				flash = "Nothing changed."
			}
			return web.RedirectFlash(c, "/t/"+t.Slug+"/branding", flash)
		}
	}
	if status, msg, ok := web.Refusal(err); ok {
		return s.render(c, status, &in, msg+".")
	}
	return err
}

// readForm reads the branding form, multipart (with images) or not.
func readForm(c echo.Context) (Input, error) {
	req := c.Request()
	var err error
	if strings.HasPrefix(req.Header.Get(echo.HeaderContentType), echo.MIMEMultipartForm) {
		err = req.ParseMultipartForm(2 << 20)
	} else {
		err = req.ParseForm()
	}
	if web.TooLarge(err) {
		return Input{}, fault.Newf(ErrTooLarge, "the upload is larger than the %sB request limit", web.MaxBodyBytes)
	}
	if err != nil {
		return Input{}, fault.New(ErrInvalid, "the form could not be read")
	}
	in := Input{DisplayName: req.FormValue("display_name"), PrimaryColor: req.FormValue("primary_color"),
		AccentColor: req.FormValue("accent_color"), SupportEmail: req.FormValue("support_email"),
		SupportPhone: req.FormValue("support_phone"), SenderName: req.FormValue("sender_name"),
		RemoveLogo: req.FormValue("remove_logo") != "", RemoveFavicon: req.FormValue("remove_favicon") != ""}
	if in.Logo, err = formFile(req, "logo"); err != nil {
		return in, err
	}
	if in.Favicon, err = formFile(req, "favicon"); err != nil {
		return in, err
	}
	return in, nil
}

// formFile returns an uploaded file's bytes, nil when none was chosen. The
// request body limit bounds how much is read.
func formFile(req *http.Request, field string) ([]byte, error) {
	if req.MultipartForm == nil || len(req.MultipartForm.File[field]) == 0 {
		return nil, nil
	}
	f, err := req.MultipartForm.File[field][0].Open()
	if err != nil {
		return nil, fmt.Errorf("opening the uploaded %s: %w", field, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("reading the uploaded %s: %w", field, err)
	}
	if data == nil {
		data = []byte{} // chosen but empty: refused as empty, not ignored
	}
	return data, nil
}
