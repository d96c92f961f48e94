package branding_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"

	"switchboard/modules/branding"
)

// pngBytes encodes a real w×h PNG.
func pngBytes(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// icoBytes is a one-entry ICO directory with a PNG image inside.
func icoBytes(t testing.TB) []byte {
	t.Helper()
	img := pngBytes(t, 16, 16)
	var buf bytes.Buffer
	_ = binary.Write(&buf, binary.LittleEndian, []uint16{0, 1, 1})
	buf.Write([]byte{16, 16, 0, 0})
	_ = binary.Write(&buf, binary.LittleEndian, []uint16{1, 32})
	_ = binary.Write(&buf, binary.LittleEndian, []uint32{uint32(len(img)), 22})
	buf.Write(img)
	return buf.Bytes()
}

const cleanSVG = `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 100 40">
  <title>Acme</title>
  <defs><linearGradient id="g"><stop offset="0" stop-color="#036"/><stop offset="1" stop-color="#69c"/></linearGradient></defs>
  <style>.t { font: bold 20px sans-serif; fill: url(#g) }</style>
  <rect width="100" height="40" rx="6" fill="url(#g)" style="stroke: #000"/>
  <use xlink:href="#g"/>
  <text x="10" y="28" class="t">Acme</text>
</svg>`

// inkscapeSVG carries the bookkeeping a drawing program leaves behind.
const inkscapeSVG = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"
  xmlns:inkscape="http://www.inkscape.org/namespaces/inkscape" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
  xmlns:cc="http://creativecommons.org/ns#" inkscape:version="1.3" width="10" height="10">
  <sodipodi:namedview id="nv" inkscape:zoom="1"/>
  <metadata><rdf:RDF><cc:Work rdf:about=""/></rdf:RDF></metadata>
  <circle cx="5" cy="5" r="4" inkscape:label="dot"/>
</svg>`

func svg(body string) []byte {
	return []byte(`<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" viewBox="0 0 10 10">` + body + `</svg>`)
}

// TestCheckImage: the type comes from the bytes, never from a name or a
// declared type (CheckImage is not even told them), and every refusal says why.
func TestCheckImage(t *testing.T) {
	png1 := pngBytes(t, 2, 2)
	cases := []struct {
		name     string
		kind     branding.Kind
		data     []byte
		wantType string // "" when refused
		wantErr  error
		reason   string
	}{
		{"PNG logo", branding.Logo, png1, branding.TypePNG, nil, ""},
		{"JPEG logo", branding.Logo, jpegBytes(t), branding.TypeJPEG, nil, ""},
		{"SVG logo", branding.Logo, []byte(cleanSVG), branding.TypeSVG, nil, ""},
		{"SVG without XML declaration", branding.Logo, svg(`<path d="M0 0h10v10z"/>`), branding.TypeSVG, nil, ""},
		{"SVG from Inkscape", branding.Logo, []byte(inkscapeSVG), branding.TypeSVG, nil, ""},
		{"PNG favicon", branding.Favicon, pngBytes(t, 32, 32), branding.TypePNG, nil, ""},
		{"ICO favicon", branding.Favicon, icoBytes(t), branding.TypeICO, nil, ""},
		{"SVG favicon", branding.Favicon, svg(`<circle r="4"/>`), branding.TypeSVG, nil, ""},
		{"logo exactly at the limit is not refused for size", branding.Logo, append(bytes.Clone(png1), make([]byte, 512<<10-len(png1))...), branding.TypePNG, nil, ""},

		{"empty", branding.Logo, []byte{}, "", branding.ErrUnsupported, "empty"},
		{"oversize logo", branding.Logo, make([]byte, 512<<10+1), "", branding.ErrTooLarge, "limit is 512 KiB"},
		{"oversize favicon", branding.Favicon, append(pngBytes(t, 2, 2), make([]byte, 128<<10)...), "", branding.ErrTooLarge, "limit is 128 KiB"},
		{"text pretending to be a PNG", branding.Logo, []byte("this is logo.png, honest"), "", branding.ErrUnsupported, "not a PNG, JPEG, ICO or SVG"},
		{"PNG signature then garbage", branding.Logo, append([]byte("\x89PNG\r\n\x1a\n"), "garbage garbage garbage"...), "", branding.ErrUnsupported, "not a readable image"},
		{"HTML", branding.Logo, []byte("<!doctype html><html><script>alert(1)</script></html>"), "", branding.ErrUnsupported, "not a PNG"},
		{"ICO as a logo", branding.Logo, icoBytes(t), "", branding.ErrUnsupported, "must be PNG, JPEG or SVG; this file is ICO"},
		{"JPEG as a favicon", branding.Favicon, jpegBytes(t), "", branding.ErrUnsupported, "must be PNG, ICO or SVG; this file is JPEG"},
		{"cursor, not icon", branding.Favicon, []byte("\x00\x00\x02\x00\x01\x00" + strings.Repeat("\x00", 16)), "", branding.ErrUnsupported, "not a readable ICO"},
		{"canvas too large", branding.Logo, pngBytes(t, 5000, 1), "", branding.ErrInvalid, "5000×1"},
		{"XML but not SVG", branding.Logo, []byte(`<?xml version="1.0"?><note><to>x</to></note>`), "", branding.ErrUnsupported, "not a PNG"},
		{"svg element in another namespace", branding.Logo, []byte(`<svg xmlns="http://example.com/not-svg"/>`), "", branding.ErrUnsupported, "not a PNG"},

		// SVGs with active content or outside references are refused, not cleaned.
		{"script", branding.Logo, svg(`<script>alert(1)</script>`), "", branding.ErrInvalid, "<script>"},
		{"script in CDATA", branding.Logo, svg(`<script><![CDATA[alert(1)]]></script>`), "", branding.ErrInvalid, "<script>"},
		{"XHTML script", branding.Logo, svg(`<h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script>`), "", branding.ErrInvalid, "another vocabulary"},
		{"foreignObject", branding.Logo, svg(`<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>`), "", branding.ErrInvalid, "<foreignObject>"},
		{"onload", branding.Logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`), "", branding.ErrInvalid, "event handler (onload)"},
		{"ONCLICK upper case", branding.Logo, svg(`<rect ONCLICK="alert(1)"/>`), "", branding.ErrInvalid, "event handler"},
		{"javascript: href", branding.Logo, svg(`<use href="javascript:alert(1)"/>`), "", branding.ErrInvalid, "links outside the file"},
		{"javascript: with a tab in xlink:href", branding.Logo, svg(`<use xlink:href="java&#x09;script:alert(1)"/>`), "", branding.ErrInvalid, "links outside the file"},
		{"data: href", branding.Logo, svg(`<use href="data:image/svg+xml;base64,PHN2Zy8+"/>`), "", branding.ErrInvalid, "links outside the file"},
		{"external href", branding.Logo, svg(`<use href="https://tracker.example/x.svg#a"/>`), "", branding.ErrInvalid, "links outside the file"},
		{"image element", branding.Logo, svg(`<image href="#a"/>`), "", branding.ErrInvalid, "<image>"},
		{"anchor element", branding.Logo, svg(`<a href="#a"><rect/></a>`), "", branding.ErrInvalid, "<a>"},
		{"set animation", branding.Logo, svg(`<set attributeName="href" to="javascript:alert(1)"/>`), "", branding.ErrInvalid, "<set>"},
		{"iframe", branding.Logo, svg(`<iframe src="https://x.example"/>`), "", branding.ErrInvalid, "<iframe>"},
		{"external fill", branding.Logo, svg(`<rect fill="url(https://x.example/p.svg#g)"/>`), "", branding.ErrInvalid, "points outside the file"},
		{"script URL in any attribute", branding.Logo, svg(`<rect class="javascript:alert(1)"/>`), "", branding.ErrInvalid, "script URL"},
		{"style import", branding.Logo, svg(`<style>@import "https://x.example/a.css";</style>`), "", branding.ErrInvalid, "imports"},
		{"style external url", branding.Logo, svg(`<style>rect { fill: url('https://x.example/a') }</style>`), "", branding.ErrInvalid, "points outside"},
		{"style attribute external url", branding.Logo, svg(`<rect style="background: url(//x.example/a)"/>`), "", branding.ErrInvalid, "points outside"},
		{"CSS escapes", branding.Logo, svg(`<style>rect { fill: u\72l(https://x.example) }</style>`), "", branding.ErrInvalid, "escaped"},
		{"entity declaration", branding.Logo, []byte(`<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>`), "", branding.ErrInvalid, "DOCTYPE"},
		{"stylesheet processing instruction", branding.Logo, []byte(`<?xml-stylesheet href="https://x.example/a.css"?><svg xmlns="http://www.w3.org/2000/svg"/>`), "", branding.ErrInvalid, "xml-stylesheet"},
		{"not well-formed", branding.Logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg"><rect></svg>`), "", branding.ErrInvalid, "well-formed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := branding.CheckImage(tc.kind, tc.data)
			if tc.wantErr == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if a.ContentType != tc.wantType || a.Size != len(tc.data) || len(a.SHA256) != 64 || !strings.HasSuffix(a.File(), "."+map[string]string{
					branding.TypePNG: "png", branding.TypeJPEG: "jpg", branding.TypeSVG: "svg", branding.TypeICO: "ico"}[tc.wantType]) {
					t.Fatalf("got %s (%d bytes, %s), want %s", a.ContentType, a.Size, a.File(), tc.wantType)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %v; want %v saying %q", err, tc.wantErr, tc.reason)
			}
		})
	}
}
