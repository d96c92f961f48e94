// Package branding is how a client's portal looks: display name, logo,
// favicon, colours, support contacts and the e-mail sender name, stored in
// the tenant's own schema (tables branding and brand_assets) and edited in
// the console with a live preview. Images are validated by their bytes (the
// file name and declared type are ignored), SVGs with active content are
// refused, and every asset is served under its content hash with a year of
// caching and a Content-Security-Policy that keeps an SVG inert even if
// opened directly. A tenant that has set nothing wears neutral defaults made
// from its own name: nothing on a client's portal names the MSP.
package branding

import (
	"time"

	"switchboard/platform/fault"
)

// Errors the service returns; the web layer maps their fault kinds to status.
var (
	ErrInvalid     = fault.Kind(fault.Invalid, "invalid branding")           // 400: a field, or an SVG with active content
	ErrTooLarge    = fault.Kind(fault.TooLarge, "file too large")            // 413
	ErrUnsupported = fault.Kind(fault.Unsupported, "unsupported image type") // 415: the bytes are no image type allowed here
	ErrNotFound    = fault.Kind(fault.NotFound, "no such branding asset")    // 404
)

// Default colours: neutral slate and teal-blue, both readable (white on the
// primary, the accent on white) at WCAG AA.
const (
	DefaultPrimary = "#334155"
	DefaultAccent  = "#1d4ed8"
)

// Brand is what a portal page needs to wear a tenant's brand.
type Brand struct {
	DisplayName, PrimaryColor, AccentColor string // colours as #rrggbb
	LogoURL, FaviconURL                    string // "" when none; portal-relative, e.g. /brand/<sha256>.svg
	SupportEmail, SupportPhone, SenderName string
	Default                                bool // true when the tenant has set nothing
}

// Settings is the stored branding row: what the tenant chose, "" (or nil)
// where it chose nothing and the default applies.
type Settings struct {
	DisplayName   string    `gorm:"column:display_name"`
	PrimaryColor  string    `gorm:"column:primary_color"`
	AccentColor   string    `gorm:"column:accent_color"`
	LogoSHA256    *string   `gorm:"column:logo_sha256"`
	FaviconSHA256 *string   `gorm:"column:favicon_sha256"`
	SupportEmail  string    `gorm:"column:support_email"`
	SupportPhone  string    `gorm:"column:support_phone"`
	SenderName    string    `gorm:"column:sender_name"`
	UpdatedAt     time.Time `gorm:"column:updated_at"`

	// Asset types, for URLs (filled from brand_assets when loaded).
	LogoType    string `gorm:"column:logo_type;->"`
	FaviconType string `gorm:"column:favicon_type;->"`
}

// empty reports whether nothing is set, so the brand is the default one.
func (s Settings) empty() bool {
	return s.DisplayName == "" && s.PrimaryColor == "" && s.AccentColor == "" && s.LogoSHA256 == nil &&
		s.FaviconSHA256 == nil && s.SupportEmail == "" && s.SupportPhone == "" && s.SenderName == ""
}

// Asset is one stored image.
type Asset struct {
	SHA256      string    `gorm:"column:sha256;primaryKey"`
	ContentType string    `gorm:"column:content_type"`
	Bytes       []byte    `gorm:"column:bytes"`
	Size        int       `gorm:"column:size"`
	CreatedAt   time.Time `gorm:"column:created_at"`
}

// TableName is unqualified: the tenant's search_path picks the schema.
func (Asset) TableName() string { return "brand_assets" }

// File is the asset's file name in URLs: hash and the extension of its sniffed type.
func (a Asset) File() string { return fileName(a.SHA256, a.ContentType) }

// Input is a branding change from the console form. Empty text fields mean
// "use the default". A nil Logo or Favicon keeps the current one.
type Input struct {
	DisplayName, PrimaryColor, AccentColor string
	SupportEmail, SupportPhone, SenderName string
	Logo, Favicon                          []byte
	RemoveLogo, RemoveFavicon              bool
}

// Saved is the outcome of a successful save.
type Saved struct {
	Brand    Brand
	Warnings []string // contrast below WCAG AA: shown, not refused
	Changed  bool     // false when the input matched what was stored
}
