package branding

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // registers JPEG for image.DecodeConfig
	_ "image/png"  // registers PNG for image.DecodeConfig
	"io"
	"net/http"
	"regexp"
	"strings"

	"switchboard/platform/fault"
)

// Image types, as stored and served.
const (
	TypePNG  = "image/png"
	TypeJPEG = "image/jpeg"
	TypeSVG  = "image/svg+xml"
	TypeICO  = "image/x-icon"
)

// Kind is what an uploaded image is for; each has its own size limit and types.
type Kind struct {
	Name     string // "logo" or "favicon", for messages
	MaxBytes int
	Types    []string
}

// The two kinds of image a brand has.
var (
	Logo    = Kind{Name: "logo", MaxBytes: 512 << 10, Types: []string{TypePNG, TypeJPEG, TypeSVG}}
	Favicon = Kind{Name: "favicon", MaxBytes: 128 << 10, Types: []string{TypePNG, TypeICO, TypeSVG}}
)

// maxPixels bounds a raster image's declared size: a tiny file may declare
// an enormous canvas that every visitor's browser would then allocate.
const maxPixels = 4096

var extensions = map[string]string{TypePNG: "png", TypeJPEG: "jpg", TypeSVG: "svg", TypeICO: "ico"}

// fileName is the URL file name of an asset: its hash and the extension of its type.
func fileName(sum, contentType string) string { return sum + "." + extensions[contentType] }

var assetFile = regexp.MustCompile(`^([0-9a-f]{64})\.(png|jpg|svg|ico)$`)

// parseFileName splits "<sha256>.<ext>"; ok is false for anything else.
func parseFileName(file string) (sum, ext string, ok bool) {
	m := assetFile.FindStringSubmatch(file)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// CheckImage validates an upload of kind k and returns it as an Asset. The
// type comes from the bytes alone: a PNG named logo.svg is a PNG, and text
// named logo.png is refused. SVGs must parse as XML with an <svg> root and
// contain nothing active (see checkSVG): they are refused rather than
// rewritten, so what is stored is exactly what the client uploaded.
func CheckImage(k Kind, data []byte) (Asset, error) {
	if len(data) == 0 {
		return Asset{}, fault.Newf(ErrUnsupported, "the %s file is empty", k.Name)
	}
	if len(data) > k.MaxBytes {
		return Asset{}, fault.Newf(ErrTooLarge, "the %s is %s; the limit is %s", k.Name, kib(len(data)), kib(k.MaxBytes))
	}
	ct, err := sniff(k.Name, data)
	if err != nil {
		return Asset{}, err
	}
	allowed := false
	for _, t := range k.Types {
		allowed = allowed || t == ct
	}
	if !allowed {
		return Asset{}, fault.Newf(ErrUnsupported, "the %s must be %s; this file is %s", k.Name, typeList(k.Types), typeName(ct))
	}
	sum := sha256.Sum256(data)
	return Asset{SHA256: hex.EncodeToString(sum[:]), ContentType: ct, Bytes: data, Size: len(data)}, nil
}

// sniff finds the type of an image from its bytes; name says which image
// it is in messages.
func sniff(name string, data []byte) (string, error) {
	switch ct := http.DetectContentType(data); ct {
	case TypePNG, TypeJPEG:
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return "", fault.Newf(ErrUnsupported, "the %s starts like a %s but is not a readable image", name, typeName(ct))
		}
		if cfg.Width > maxPixels || cfg.Height > maxPixels || cfg.Width == 0 || cfg.Height == 0 {
			return "", fault.Newf(ErrInvalid, "the %s is %d×%d pixels; at most %d×%d", name, cfg.Width, cfg.Height, maxPixels, maxPixels)
		}
		return ct, nil
	case TypeICO:
		if err := checkICO(name, data); err != nil {
			return "", err
		}
		return ct, nil
	}
	// Anything else may be SVG, which is text: only a parse can tell.
	if isSVG(data) {
		if err := checkSVG(name, data); err != nil {
			return "", err
		}
		return TypeSVG, nil
	}
	return "", fault.Newf(ErrUnsupported, "the %s is not a PNG, JPEG, ICO or SVG image", name)
}

// checkICO checks an ICO header: reserved 0, type 1 (icon, not cursor), and
// a directory of 1-64 entries that fits in the file.
func checkICO(name string, data []byte) error {
	bad := fault.Newf(ErrUnsupported, "the %s starts like an icon but is not a readable ICO", name)
	if len(data) < 6 || binary.LittleEndian.Uint16(data[2:]) != 1 {
		return bad
	}
	n := int(binary.LittleEndian.Uint16(data[4:]))
	if n == 0 || n > 64 || len(data) < 6+16*n {
		return bad
	}
	return nil
}

// svgNS is the SVG namespace; an <svg> root in no namespace is accepted too
// (browsers render such files when served as image/svg+xml only with it, but
// the check is about safety, not about whether it will display).
const svgNS = "http://www.w3.org/2000/svg"

// isSVG reports whether data parses as XML up to a first element named svg.
func isSVG(data []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se.Name.Local == "svg" && (se.Name.Space == svgNS || se.Name.Space == "")
		}
	}
}

// svgElements are the SVG elements a logo may use: shapes, text, paint
// servers, clipping, filters and structure. Not script, foreignObject (it
// embeds HTML), the animation elements (<set attributeName="href"
// to="javascript:…"> is a known way to script), nor a, image, iframe, etc.
var svgElements = setOf("svg", "g", "defs", "title", "desc", "metadata", "symbol", "use", "switch",
	"path", "rect", "circle", "ellipse", "line", "polyline", "polygon",
	"text", "tspan", "textPath",
	"linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker", "style",
	"filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix",
	"feDiffuseLighting", "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA",
	"feFuncB", "feFuncG", "feFuncR", "feGaussianBlur", "feMerge", "feMergeNode", "feMorphology",
	"feOffset", "fePointLight", "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence")

// editorNamespaces hold the inert bookkeeping drawing programs leave in
// their files (Inkscape's view settings, RDF licence metadata).
var editorNamespaces = setOf(
	"http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd",
	"http://www.inkscape.org/namespaces/inkscape",
	"http://www.w3.org/1999/02/22-rdf-syntax-ns#",
	"http://creativecommons.org/ns#",
	"http://purl.org/dc/elements/1.1/",
	"http://ns.adobe.com/AdobeIllustrator/10.0/",
	"http://ns.adobe.com/Extensibility/1.0/",
	"http://ns.adobe.com/SaveForWeb/1.0/",
)

// cssURL finds url(…) references in CSS; only same-document ones ("#id") are allowed.
var cssURL = regexp.MustCompile(`(?i)url\(\s*['"]?\s*([^'")\s]*)`)

// checkSVG refuses an SVG with anything that could run code or reach
// outside the file: a DOCTYPE or entity declarations, processing
// instructions other than the XML declaration, elements off the list above
// or in a namespace other than SVG and the editors', event-handler
// attributes (on…), links that are not "#fragment" (so no javascript:,
// data: or external URLs), and CSS that imports or points outside.
func checkSVG(name string, data []byte) error {
	refuse := func(format string, args ...any) error {
		return fault.Newf(ErrInvalid, "the %s (SVG) is refused because it %s; save it again without it (plain shapes, text and gradients are fine)", name, fmt.Sprintf(format, args...))
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true // undefined entities are errors, not text
	var open []string
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return refuse("is not well-formed XML (%v)", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return refuse("has a DOCTYPE or entity declaration")
		case xml.ProcInst:
			if t.Target != "xml" {
				return refuse("has a <?%s?> processing instruction", t.Target)
			}
		case xml.StartElement:
			name := t.Name.Local
			switch {
			case t.Name.Space == svgNS || t.Name.Space == "":
				if !svgElements[name] {
					return refuse("has a <%s> element", name)
				}
			case editorNamespaces[t.Name.Space]:
			default:
				return refuse("has a <%s> element from another vocabulary (%s)", name, t.Name.Space)
			}
			for _, a := range t.Attr {
				if err := checkSVGAttr(a); err != "" {
					return refuse("%s", err)
				}
			}
			open = append(open, name)
		case xml.EndElement:
			open = open[:len(open)-1]
		case xml.CharData:
			if len(open) > 0 && open[len(open)-1] == "style" {
				if err := checkCSS(string(t)); err != "" {
					return refuse("has a stylesheet that %s", err)
				}
			}
		}
	}
}

// checkSVGAttr says what is wrong with one attribute, "" when nothing.
func checkSVGAttr(a xml.Attr) string {
	local := strings.ToLower(a.Name.Local)
	switch {
	case strings.HasPrefix(local, "on"):
		return "has an event handler (" + a.Name.Local + ")"
	case a.Name.Space == "xmlns" || (a.Name.Space == "" && local == "xmlns"):
		return ""
	case local == "href" || local == "src":
		if !strings.HasPrefix(strings.TrimSpace(a.Value), "#") {
			return fmt.Sprintf("links outside the file (%s=%q)", a.Name.Local, truncate(a.Value, 40))
		}
	case local == "style":
		if err := checkCSS(a.Value); err != "" {
			return "has a style attribute that " + err
		}
	}
	// Any attribute value can be a URL somewhere (fill="url(…)", or an
	// attribute an animation would copy); look for schemes that run code.
	v := strings.ToLower(strings.Map(func(r rune) rune {
		if r <= ' ' {
			return -1 // browsers ignore whitespace and control characters inside schemes
		}
		return r
	}, a.Value))
	if strings.Contains(v, "javascript:") || strings.Contains(v, "vbscript:") {
		return fmt.Sprintf("has a script URL in %s", a.Name.Local)
	}
	if m := cssURL.FindAllStringSubmatch(a.Value, -1); m != nil {
		for _, u := range m {
			if !strings.HasPrefix(u[1], "#") {
				return fmt.Sprintf("points outside the file in %s (url(%s))", a.Name.Local, truncate(u[1], 40))
			}
		}
	}
	return ""
}

// checkCSS says what is wrong with a stylesheet or style attribute, "" when nothing.
func checkCSS(css string) string {
	lower := strings.ToLower(css)
	if strings.Contains(lower, "@import") {
		return "imports another stylesheet"
	}
	if strings.Contains(lower, "javascript:") || strings.Contains(lower, "expression(") || strings.Contains(lower, `\`) {
		return "has script or escaped text"
	}
	for _, u := range cssURL.FindAllStringSubmatch(css, -1) {
		if !strings.HasPrefix(u[1], "#") {
			return fmt.Sprintf("points outside the file (url(%s))", truncate(u[1], 40))
		}
	}
	return ""
}

func setOf(items ...string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

func typeList(types []string) string {
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = typeName(t)
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// typeName is a type as people call it: PNG, JPEG, SVG, ICO.
func typeName(ct string) string {
	if ct == TypeJPEG {
		return "JPEG"
	}
	return strings.ToUpper(extensions[ct])
}

func kib(n int) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d KiB", (n+(1<<10)-1)>>10)
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
