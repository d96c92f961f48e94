package web

import (
	"fmt"
	"html/template"
	"io"
	"io/fs"

	"github.com/labstack/echo/v4"
)

// Page is what every full page template receives.
type Page struct {
	Title   string
	Brand   string
	HomeURL string
	Data    any
}

// Renderer renders "layout" around a page's "content". Each page template is
// parsed together with the layout once, at start-up.
type Renderer struct {
	pages map[string]*template.Template
}

// NewRenderer parses layout.html with each page file matched by patterns.
func NewRenderer(fsys fs.FS, patterns ...string) (*Renderer, error) {
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, pattern := range patterns {
		names, err := fs.Glob(fsys, pattern)
		if err != nil {
			return nil, fmt.Errorf("listing templates %s: %w", pattern, err)
		}
		for _, name := range names {
			t, err := template.ParseFS(fsys, "layout.html", name)
			if err != nil {
				return nil, fmt.Errorf("parsing template %s: %w", name, err)
			}
			r.pages[name] = t
		}
	}
	return r, nil
}

// Render implements echo.Renderer.
func (r *Renderer) Render(w io.Writer, name string, data any, _ echo.Context) error {
	t, ok := r.pages[name]
	if !ok {
		return fmt.Errorf("no template %q", name)
	}
	return t.ExecuteTemplate(w, "layout", data)
}
