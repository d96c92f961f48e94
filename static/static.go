// Package static embeds the CSS, scripts and images served under /static/:
// the console's at the top level, and a client portal's in portal/, which
// is all a portal serves, so no asset of the portal names anything but the
// client (no platform name, no console features in its text or comments).
package static

import (
	"embed"
	"io/fs"
)

// FS holds the console's assets.
//
//go:embed *.css *.js
var FS embed.FS

//go:embed portal
var portalFiles embed.FS

// Portal holds the assets of client portals, served there as /static/<name>.
var Portal = mustSub(portalFiles, "portal")

func mustSub(fsys fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // dir is embedded above: only a broken build gets here
	}
	return sub
}
