// Package templates embeds the server-rendered HTML of the console and the portal.
package templates

import "embed"

// FS holds every template; names are paths like "console/home.html".
//
//go:embed *.html console/*.html portal/*.html public/*.html shared/*.html
var FS embed.FS
