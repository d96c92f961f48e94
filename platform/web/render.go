package web

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"switchboard/platform/humane"
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
	// Zone is the viewer's time zone, in which every time on the page is
	// shown: the staff user's own setting on the console, the client's
	// time zone on its portal. Nil is UTC.
	Zone *time.Location
	// Locale is the tag of the viewer's date and number formats
	// (humane.Locales): the client's setting on its portal; "" is the
	// default (ISO dates), as on the console.
	Locale string
	// Permits answers Can; the app sets it from the authorizer. Nil permits nothing.
	Permits func(method, route string) bool
}

// Can reports whether the viewer may use the route template route with
// method (as in {{if .Chrome.Can "POST" "/t/:slug/branding"}}), so pages
// show only the forms and links their viewer can submit or follow.
func (c Chrome) Can(method, route string) bool {
	return c.Permits != nil && c.Permits(method, route)
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

type zoneKey struct{}

// WithZone returns ctx carrying the viewer's time zone, for the middleware
// that knows who is signed in (the staff user's own setting); pages whose
// chrome names no zone are rendered in it.
func WithZone(ctx context.Context, loc *time.Location) context.Context {
	return context.WithValue(ctx, zoneKey{}, loc)
}

// ZoneFrom returns the zone WithZone stored, or nil.
func ZoneFrom(ctx context.Context) *time.Location {
	loc, _ := ctx.Value(zoneKey{}).(*time.Location)
	return loc
}

// ChromeFunc builds the frame for a request; the app wires it at start-up.
type ChromeFunc func(c echo.Context) Chrome

// Renderer renders "layout" around a page's "content". Each page template is
// parsed together with the layout once, at start-up.
type Renderer struct {
	pages  map[string]*template.Template // as parsed; never executed, only cloned
	chrome ChromeFunc
	now    func() time.Time // for relative times ("3 min ago")

	mu    sync.Mutex
	zoned map[string]map[string]*template.Template // "zone locale" → page → clone
}

// Funcs are the helpers every template may use. The time helpers here show
// UTC; each page is rendered with zoneFuncs of the viewer's zone over them.
var Funcs = template.FuncMap{
	"when":    func(t time.Time) string { return humane.At(t, time.UTC) },
	"whenPtr": func(t *time.Time) string { return whenPtr(t, time.UTC) },
	"ago":     func(t any) string { return ago(t, time.Now()) },
	"stamps":  func(s string) string { return humane.Stamps(s, time.UTC) },
	// dur spells a duration for people: "24 min 42 s", "4 h"; an int is a
	// count of seconds (agents report uptime so).
	"dur": duration,
	// portalStatus is an alert status in the client's words ("Being worked
	// on"); status is any status identifier as a word for staff.
	"portalStatus": humane.PortalStatus,
	"status":       humane.Status,
	// event names an alert timeline entry ("Notification failed"), and
	// systemActor tells the platform's own workers from people.
	"event":       humane.Event,
	"systemActor": humane.SystemActor,
	// durInput is a duration as a form field's value: "15m", not "15m0s".
	"durInput": humane.Input,
	// share is a fraction as a percentage: 0.75 is "75%".
	"share": humane.Share,
	// plural is "1 client", "2 clients".
	"plural": humane.Plural,
	"query":  QueryString,
	"join":   strings.Join,
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

// zoneFuncs are the time and number helpers bound to the viewer's zone and
// locale and the renderer's clock, overriding those of Funcs in the pages
// rendered for it: templates write {{when .At}} and get the reader's wall
// clock in the reader's date format, including in partials that never see
// the page's chrome.
func zoneFuncs(loc *time.Location, lc humane.Locale, now func() time.Time) template.FuncMap {
	return template.FuncMap{
		"when": func(t time.Time) string { return lc.At(t, loc) },
		"whenPtr": func(t *time.Time) string {
			if t == nil {
				return humane.None
			}
			return lc.At(*t, loc)
		},
		"ago": func(t any) string { return ago(t, now()) },
		// stamps shows the timestamps inside stored text (audit summaries,
		// the platform's own alert summaries) on the viewer's clock.
		"stamps": func(s string) string { return lc.Stamps(s, loc) },
		// zoneName says which zone the page's times are in.
		"zoneName": loc.String,
		// num writes a number in the viewer's locale: {{num .Count}},
		// {{num .Percent 1}} for one decimal.
		"num": func(v any, decimals ...int) string { return localeNumber(lc, v, decimals...) },
		"pct": func(v any) string {
			switch x := v.(type) {
			case *float64:
				if x != nil {
					return lc.Percent(*x, 0)
				}
			case float64:
				return lc.Percent(x, 0)
			}
			return humane.None
		},
		"share": func(f float64) string { return lc.Percent(f*100, 0) },
	}
}

// localeNumber is num: an integer or float (or a pointer to one; nil is
// None) with the given decimals, 0 when none are given.
func localeNumber(lc humane.Locale, v any, decimals ...int) string {
	d := 0
	if len(decimals) > 0 {
		d = decimals[0]
	}
	switch x := v.(type) {
	case int:
		return lc.Number(float64(x), d)
	case int64:
		return lc.Number(float64(x), d)
	case float64:
		return lc.Number(x, d)
	case *float64:
		if x != nil {
			return lc.Number(*x, d)
		}
	case *int64:
		if x != nil {
			return lc.Number(float64(*x), d)
		}
	}
	return humane.None
}

func whenPtr(t *time.Time, loc *time.Location) string {
	if t == nil {
		return humane.None
	}
	return humane.At(*t, loc)
}

// ago is a relative time for a time or a *time.Time (nil: never).
func ago(v any, now time.Time) string {
	switch t := v.(type) {
	case time.Time:
		return humane.Relative(t, now)
	case *time.Time:
		if t != nil {
			return humane.Relative(*t, now)
		}
	}
	return humane.None
}

// duration formats a time.Duration, a *time.Duration (nil: none) or whole
// seconds for people.
func duration(v any) string {
	switch d := v.(type) {
	case time.Duration:
		return humane.Duration(d)
	case *time.Duration:
		if d != nil {
			return humane.Duration(*d)
		}
	case int:
		return humane.Seconds(int64(d))
	case int64:
		return humane.Seconds(d)
	case *int64:
		if d != nil {
			return humane.Seconds(*d)
		}
	}
	return humane.None
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
	r := &Renderer{pages: map[string]*template.Template{}, chrome: chrome, now: time.Now,
		zoned: map[string]map[string]*template.Template{}}
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
			t, err := template.New(name).Funcs(Funcs).Funcs(zoneFuncs(time.UTC, humane.LocaleFor(""), time.Now)).ParseFS(fsys, files...)
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

// page returns the page template bound to the viewer's zone and locale.
// Each zone and locale gets its own clone of the parsed pages on first use
// (html/template clones only templates that never ran, so the parsed ones
// are kept for that), with the time helpers bound to them: viewers of one
// zone and locale share one set.
func (r *Renderer) page(name string, loc *time.Location, locale string) (*template.Template, error) {
	if loc == nil {
		loc = time.UTC
	}
	lc := humane.LocaleFor(locale)
	key := loc.String() + " " + lc.Tag
	r.mu.Lock()
	defer r.mu.Unlock()
	set := r.zoned[key]
	if set == nil {
		set = map[string]*template.Template{}
		r.zoned[key] = set
	}
	if t, ok := set[name]; ok {
		return t, nil
	}
	parsed, ok := r.pages[name]
	if !ok {
		return nil, fmt.Errorf("no template %q", name)
	}
	t, err := parsed.Clone()
	if err != nil {
		return nil, fmt.Errorf("template %q for zone %s: %w", name, loc, err)
	}
	t.Funcs(zoneFuncs(loc, lc, r.now))
	set[name] = t
	return t, nil
}

// Render implements echo.Renderer. data may be a Page (the frame is filled
// in when empty) or anything else (wrapped into a Page).
func (r *Renderer) Render(w io.Writer, name string, data any, c echo.Context) error {
	p, ok := data.(Page)
	if !ok {
		p = Page{Data: data}
	}
	if r.chrome != nil && c != nil && p.Chrome.User == "" {
		p.Chrome = r.chrome(c)
	}
	if c != nil && p.Flash == "" {
		p.Flash = popFlash(c) // from the session only: a ?flash= in the URL is never shown
	}
	if p.Chrome.Zone == nil && c != nil {
		p.Chrome.Zone = ZoneFrom(c.Request().Context())
	}
	t, err := r.page(name, p.Chrome.Zone, p.Chrome.Locale)
	if err != nil {
		return err
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
