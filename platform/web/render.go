package web

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Chrome is what the console's frame shows around every page: who is signed
// in, the client switcher and the CSRF token for forms.
type Chrome struct {
	User    string
	Role    string
	CSRF    string
	Current *SwitcherTenant // the client being worked in, if any
	Section string          // highlights the active navigation item
	Path    string          // the request path, for switching clients in place
	Brand   *Brand          // the client's look, on its portal only
}

// Brand is how a client's portal looks. Colours are #rrggbb; URLs are
// relative to the portal's host; empty fields mean "none".
type Brand struct {
	Name         string
	Primary      string
	Accent       string
	LogoURL      string
	FaviconURL   string
	SupportEmail string
	SupportPhone string
}

// SwitcherTenant is one entry of the client switcher.
type SwitcherTenant struct {
	Slug   string `json:"slug"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Page is what every full-page template receives.
type Page struct {
	Title  string
	Chrome Chrome
	Flash  string // one-off success message
	Error  string // one-off error message
	Data   any
}

// ChromeFunc builds the frame for a request; the app wires it at start-up.
type ChromeFunc func(c echo.Context) Chrome

// Renderer renders "layout" around a page's "content". Each page template is
// parsed together with the layout once, at start-up.
type Renderer struct {
	pages  map[string]*template.Template
	chrome ChromeFunc
}

// Funcs are the helpers every template may use.
var Funcs = template.FuncMap{
	"when": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"whenPtr": func(t *time.Time) string {
		if t == nil {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"query": QueryString,
	"join":  strings.Join,
	// pct formats a percentage, "—" when unknown.
	"pct": func(v any) string {
		switch x := v.(type) {
		case *float64:
			if x == nil {
				return "—"
			}
			return fmt.Sprintf("%.0f%%", *x)
		case float64:
			return fmt.Sprintf("%.0f%%", x)
		}
		return "—"
	},
	"list": func(v ...string) []string { return v },
	// dict builds a map from key, value pairs for ranging in a template.
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"has": func(list []string, v string) bool { return slices.Contains(list, v) },
	// roles lists the staff roles a viewer may hand out.
	"roles": func(canOwn bool) []string {
		if canOwn {
			return []string{"technician", "admin", "owner"}
		}
		return []string{"technician"}
	},
}

// QueryString builds "k1=v1&k2=v2" from pairs, leaving out empty values.
func QueryString(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	return v.Encode()
}

// NewRenderer parses layout.html with each page file matched by patterns.
func NewRenderer(fsys fs.FS, chrome ChromeFunc, patterns ...string) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}, chrome: chrome}
	for _, pattern := range patterns {
		names, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("listing templates %s: %w", pattern, err)
		}
		for _, name := range names {
			if isPartial(name) {
				continue // parsed into the pages of its folder
			}
			layout := "layout.html"
			switch {
			case strings.HasPrefix(name, "portal/"):
				layout = "layout_portal.html"
			case strings.HasPrefix(name, "public/"):
				layout = "layout_plain.html"
			}
			files := []string{layout, name}
			// Partials of the page's folder, and those shared by every folder.
			for _, pattern := range []string{path.Dir(name) + "/*_form.html", path.Dir(name) + "/*_part.html", "shared/*_part.html"} {
				partials, _ := fs.Glob(fsys, pattern)
				files = append(files, partials...)
			}
			t, err := template.New(name).Funcs(Funcs).ParseFS(fsys, files...)
			if err != nil {
				return nil, fmt.Errorf("parsing template %s: %w", name, err)
			}
			r.pages[name] = t
		}
	}
	return r, nil
}

// isPartial reports whether a template file is a piece shared by the pages
// of its folder, or of every folder when it lives in shared/ (named
// *_form.html or *_part.html), rather than a page.
func isPartial(name string) bool {
	return strings.HasSuffix(name, "_form.html") || strings.HasSuffix(name, "_part.html")
}

// Render implements echo.Renderer. data may be a Page (the frame is filled
// in when empty) or anything else (wrapped into a Page).
func (r *Renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	p, ok := data.(Page)
	if !ok {
		p = Page{Data: data}
	}
	if r.chrome != nil && c != nil && p.Chrome.User == "" {
		p.Chrome = r.chrome(c)
	}
	if c != nil {
		if p.Flash == "" {
			p.Flash = c.QueryParam("flash")
		}
	}
	return t.ExecuteTemplate(w, "layout", p)
}

// Render renders a full page with title and data.
func Render(c echo.Context, code int, name, title string, data any) error {
	return c.Render(code, name, Page{Title: title, Data: data})
}

// RenderError re-renders a form page with an error message and status code.
func RenderError(c echo.Context, code int, name, title, msg string, data any) error {
	return c.Render(code, name, Page{Title: title, Error: msg, Data: data})
}

// RedirectFlash sends the browser to path with a one-off success message
// (303, so a reload does not repeat the POST).
func RedirectFlash(c echo.Context, path, flash string) error {
	if flash != "" {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		path += sep + "flash=" + url.QueryEscape(flash)
	}
	return c.Redirect(http.StatusSeeOther, path)
}

// CSRFToken returns the request's CSRF token (set by Echo's CSRF middleware).
func CSRFToken(c echo.Context) string {
	s, _ := c.Get("csrf").(string)
	return s
}
