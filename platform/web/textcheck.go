package web

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"switchboard/platform/fault"
)

// checkText refuses a request whose text would fail or be changed on its
// way to the database, with 400 naming the field: a NUL byte or invalid
// UTF-8 in a path parameter, query parameter or form text field (file parts
// are bytes, not text), and in a JSON body also a \u0000 escape or an
// unpaired UTF-16 surrogate escape. PostgreSQL's text type cannot hold NUL
// and refuses invalid UTF-8 (the handler would answer 500), and
// encoding/json silently replaces invalid UTF-8 and lone surrogates with
// U+FFFD (the text would be stored changed). Checking once here means no
// handler has to remember.
//
// Form bodies are parsed here (handlers read the parsed values, as Echo's
// FormValue does anyway); every other body is buffered, within the body
// limit, checked as JSON text and handed on unchanged.
func checkText(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := checkRequestText(c); err != nil {
			return err
		}
		return next(c)
	}
}

// Why a text is refused.
const (
	whyNUL       = "contains a NUL byte, which text cannot hold"
	whyNULEscape = `contains a NUL character (\u0000), which text cannot hold`
	whyUTF8      = "is not valid UTF-8"
	whySurrogate = "contains an unpaired UTF-16 surrogate escape, which is no character"
)

// multipartMemory is more than the body limit: form files stay in memory.
const multipartMemory = 4 << 20

func checkRequestText(c echo.Context) error {
	req := c.Request()
	// Path parameters by name, then the whole path (a wildcard's value, or a
	// path that matched no route).
	names, values := c.ParamNames(), c.ParamValues()
	for i, name := range names {
		if i < len(values) {
			if why := badText(values[i]); why != "" {
				return refuse("path parameter %s: %s", name, why)
			}
		}
	}
	if why := badText(req.URL.Path); why != "" {
		return refuse("path: %s", why)
	}
	if mayHideBadText(req.URL.RawQuery) {
		if err := checkValues("query parameter", c.QueryParams()); err != nil {
			return err
		}
	}
	switch req.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
	default:
		return nil // bodies of other methods are never read
	}
	if req.Body == nil || req.Body == http.NoBody {
		return nil
	}
	mediaType, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType))
	switch {
	case mediaType == echo.MIMEApplicationForm:
		if req.Method == http.MethodDelete {
			return nil // net/http parses no DELETE form, so no handler sees one
		}
		if err := req.ParseForm(); err != nil {
			return formError(err)
		}
		return checkValues("form field", req.PostForm)
	case mediaType == echo.MIMEMultipartForm:
		if req.Method == http.MethodDelete {
			return nil
		}
		if err := req.ParseMultipartForm(multipartMemory); err != nil {
			return formError(err)
		}
		return checkValues("form field", req.MultipartForm.Value)
	case binaryMedia(mediaType):
		return nil
	}
	return checkBody(c.Echo(), req.Method, c.Path(), req)
}

// refuse is the 400 of a text check.
func refuse(format string, args ...any) error {
	return fault.Newf(fault.Invalid, format, args...)
}

// badText says why s cannot be stored as text, or "".
func badText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return whyNUL
	}
	if !utf8.ValidString(s) {
		return whyUTF8
	}
	return ""
}

// mayHideBadText reports whether a raw query string could decode to a NUL
// byte or invalid UTF-8: only through a %-escape or a byte outside ASCII.
// Most queries are plain, and skip the parse.
func mayHideBadText(raw string) bool {
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b == '%' || b == 0 || b >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

// checkValues checks the names and values of a query or form, naming the
// first bad field in name order (so the answer does not depend on map order).
func checkValues(what string, vals map[string][]string) error {
	var bad []string
	for name, vs := range vals {
		if badText(name) != "" {
			return refuse("a %s name: %s", what, badText(name))
		}
		for _, v := range vs {
			if badText(v) != "" {
				bad = append(bad, name)
				break
			}
		}
	}
	if len(bad) == 0 {
		return nil
	}
	slices.Sort(bad)
	for _, v := range vals[bad[0]] {
		if why := badText(v); why != "" {
			return refuse("%s %s: %s", what, bad[0], why)
		}
	}
	return nil
}

// tooLargeMessage is the 413 of a body over MaxBodyBytes.
const tooLargeMessage = "the body is larger than the 1 MB limit"

// formError answers a form body that could not be read.
func formError(err error) error {
	if TooLarge(err) {
		return fault.New(fault.TooLarge, tooLargeMessage)
	}
	return fault.Newf(fault.Invalid, "the form could not be read: %v", err)
}

// binaryMedia reports whether a body of this media type is bytes, not text:
// nothing here reads it as text, so it is not checked.
func binaryMedia(mediaType string) bool {
	switch {
	case mediaType == "application/octet-stream", mediaType == "application/pdf",
		mediaType == "application/zip", mediaType == "application/gzip":
		return true
	}
	for _, prefix := range []string{"image/", "audio/", "video/", "font/"} {
		if strings.HasPrefix(mediaType, prefix) {
			return true
		}
	}
	return false
}

// checkBody buffers the body (the body limit bounds it), checks it as JSON
// text and puts it back for the handler. Any body that is not a form and
// not declared binary is checked: handlers decode JSON whatever the
// Content-Type says (or it is missing), so the check must not depend on it.
func checkBody(e *echo.Echo, method, route string, req *http.Request) error {
	var buf bytes.Buffer
	if n := req.ContentLength; n > 0 && n <= 1<<20 {
		buf.Grow(int(n) + bytes.MinRead) // one allocation when the length is declared
	}
	_, err := buf.ReadFrom(req.Body)
	req.Body.Close()
	data := buf.Bytes()
	req.Body = readCloser{bytes.NewReader(data)}
	if err != nil {
		if TooLarge(err) {
			return fault.New(fault.TooLarge, tooLargeMessage)
		}
		return fault.Newf(fault.Invalid, "the body could not be read: %v", err)
	}
	if at, why := scanJSONText(data); at >= 0 && !ChecksOwnBody(e, method, route) {
		if field := jsonFieldAt(data, at); field != "body" {
			return refuse("field %s: %s", field, why)
		}
		return refuse("body: %s", why)
	}
	return nil
}

// ownBody holds, per Echo instance, the routes ("METHOD /path") whose
// handlers check their body's text themselves.
var ownBody sync.Map // *echo.Echo → *sync.Map of string → bool

// CheckOwnBody exempts one route's body from the boundary check: its
// handler checks the text itself, because refusing the whole request would
// be wrong for it (a webhook whose sender resends a refused batch forever
// can reject one bad member alone and store the rest). Its query and path
// parameters are still checked. Call it where the route is registered.
func CheckOwnBody(e *echo.Echo, method, path string) {
	routes, _ := ownBody.LoadOrStore(e, &sync.Map{})
	routes.(*sync.Map).Store(method+" "+path, true)
}

// ChecksOwnBody reports whether CheckOwnBody exempted the route (path is
// the route's template, as c.Path() and Echo.Routes() give it).
func ChecksOwnBody(e *echo.Echo, method, path string) bool {
	routes, ok := ownBody.Load(e)
	if !ok {
		return false
	}
	_, ok = routes.(*sync.Map).Load(method + " " + path)
	return ok
}

// readCloser is a buffered body.
type readCloser struct{ *bytes.Reader }

// Close implements io.Closer; there is nothing to release.
func (readCloser) Close() error { return nil }

// scanJSONText finds the first byte of JSON text that would not survive
// decoding unchanged into a PostgreSQL text: a raw NUL, invalid UTF-8, a
// \u0000 escape or an unpaired surrogate escape. It returns its offset and
// why, or -1. One pass over the bytes and no allocation: it runs on every
// API request, the alert ingest among them.
func scanJSONText(b []byte) (int, string) {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, whyUTF8
			}
			i += size
		case c == 0:
			return i, whyNUL
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u':
			v, ok := hex4(b[i+2:])
			if !ok {
				i += 2 // malformed: the decoder refuses it
				continue
			}
			switch {
			case v == 0:
				return i, whyNULEscape
			case v >= 0xDC00 && v <= 0xDFFF:
				return i, whySurrogate // a low surrogate with no high one before it
			case v >= 0xD800 && v <= 0xDBFF:
				if len(b) >= i+12 && b[i+6] == '\\' && b[i+7] == 'u' {
					if lo, ok := hex4(b[i+8:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
						i += 12 // a pair: one character outside the BMP
						continue
					}
				}
				return i, whySurrogate
			}
			i += 6
		case c == '\\':
			i += 2 // any other escape, including \\ (so \\u0000 is text, not an escape)
		default:
			i++
		}
	}
	return -1, ""
}

// hex4 reads four hex digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var v rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// jsonFieldAt names the field whose name or value holds offset at, like
// alerts[2].labels.host, walking the document's tokens. "body" is the
// document itself (a bare string, or text that is no JSON). Only refused
// requests get here, so it may allocate.
func jsonFieldAt(data []byte, at int) string {
	type frame struct {
		object  bool
		key     string // object: the current field's name
		index   int    // array: the current element's index
		wantKey bool   // object: the next token is a field name
	}
	var stack []frame
	pathOf := func(frames []frame) string {
		var b strings.Builder
		for _, f := range frames {
			if !f.object {
				b.WriteString("[" + strconv.Itoa(f.index) + "]")
				continue
			}
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
		return b.String()
	}
	// where names what the next token is: a field name, or a value.
	where := func() string {
		n := len(stack)
		if n > 0 && stack[n-1].object && stack[n-1].wantKey {
			if n == 1 {
				return "name at the top level"
			}
			return "name in " + pathOf(stack[:n-1])
		}
		if n == 0 {
			return "body"
		}
		return pathOf(stack)
	}
	// valueDone moves the enclosing container past a finished value.
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].wantKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	for {
		start, name := dec.InputOffset(), where()
		tok, err := dec.Token()
		if err != nil {
			return name // the text that stopped the decoder (a raw NUL in a string)
		}
		if end := dec.InputOffset(); int64(at) >= start && int64(at) < end {
			return name
		}
		n := len(stack)
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, wantKey: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:n-1]
			valueDone()
		default:
			if n > 0 && stack[n-1].object && stack[n-1].wantKey {
				stack[n-1].key, _ = tok.(string)
				stack[n-1].wantKey = false
			} else {
				valueDone()
			}
		}
	}
}
