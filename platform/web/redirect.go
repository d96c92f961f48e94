package web

import (
	"net/url"
	"strings"
)

// LocalPath returns next if it is a path on this site, else "/". It is what
// every redirect to a target named by the request (?next= after sign-in)
// goes through, because browsers read far more than "//host" as another
// site: a tab, newline or backslash after the first slash ("/\t/evil",
// "/\\evil"), and servers or proxies that decode "%2F" and "%5C" turn
// "/%2F/evil" into one too. So next must be printable ASCII (a path this
// site produced is always percent-encoded), start with exactly one slash
// both as given and once percent-decoded, and contain no backslash or
// control character even when decoded. Only the path and query are kept.
func LocalPath(next string) string {
	const home = "/"
	if next == "" || len(next) > 2048 {
		return home
	}
	for i := 0; i < len(next); i++ {
		if next[i] <= ' ' || next[i] >= 0x7f || next[i] == '\\' {
			return home
		}
	}
	path, query, _ := strings.Cut(next, "?")
	path, _, _ = strings.Cut(path, "#")
	decoded := path
	for range 3 { // "%252F" is "%2F" once decoded, and "/" twice
		d, err := url.PathUnescape(decoded)
		if err != nil {
			return home
		}
		if d == decoded {
			break
		}
		decoded = d
	}
	for _, p := range []string{path, decoded} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") ||
			strings.ContainsFunc(p, func(r rune) bool { return r < ' ' || r == 0x7f || r == '\\' }) {
			return home
		}
	}
	u, err := url.Parse(path)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return home
	}
	if query, _, _ = strings.Cut(query, "#"); query != "" {
		return path + "?" + query
	}
	return path
}
