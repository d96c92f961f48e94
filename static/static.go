// Package static embeds the CSS, scripts and images served under /static/.
package static

import "embed"

// FS holds the static assets.
//
//go:embed *.css *.js
var FS embed.FS
