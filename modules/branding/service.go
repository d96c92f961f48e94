package branding

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Options configures the service; the zero value is usable.
type Options struct {
	// CacheTTL is how long For keeps a tenant's stored branding in memory
	// (default 30 s; negative: no cache). Saves through this service drop
	// the entry at once; other replicas catch up within the TTL.
	CacheTTL time.Duration
}

// Service owns a tenant's branding and brand_assets tables.
type Service struct {
	ttl   time.Duration
	mu    sync.Mutex
	cache map[int64]cached
}

type cached struct {
	s       Settings
	expires time.Time
}

// NewService returns the branding service.
func NewService(opts Options) *Service {
	if opts.CacheTTL == 0 {
		opts.CacheTTL = 30 * time.Second
	}
	return &Service{ttl: opts.CacheTTL, cache: map[int64]cached{}}
}

// For returns the brand a tenant's portal wears: what the tenant set, with
// defaults for the rest (its own name, neutral colours, no logo).
func (s *Service) For(ctx context.Context, t tenancy.Tenant) (Brand, error) {
	st, err := s.cachedSettings(ctx, t)
	if err != nil {
		return Brand{}, err
	}
	return brandOf(t, st, "/brand/"), nil
}

// brandOf fills the defaults in; asset URLs start with prefix.
func brandOf(t tenancy.Tenant, st Settings, prefix string) Brand {
	b := Brand{DisplayName: st.DisplayName, PrimaryColor: st.PrimaryColor, AccentColor: st.AccentColor,
		SupportEmail: st.SupportEmail, SupportPhone: st.SupportPhone, SenderName: st.SenderName, Default: st.empty()}
	if b.DisplayName == "" {
		b.DisplayName = t.Name
	}
	if b.PrimaryColor == "" {
		b.PrimaryColor = DefaultPrimary
	}
	if b.AccentColor == "" {
		b.AccentColor = DefaultAccent
	}
	if b.SenderName == "" {
		b.SenderName = b.DisplayName
	}
	if st.LogoSHA256 != nil {
		b.LogoURL = prefix + fileName(*st.LogoSHA256, st.LogoType)
	}
	if st.FaviconSHA256 != nil {
		b.FaviconURL = prefix + fileName(*st.FaviconSHA256, st.FaviconType)
	}
	return b
}

func (s *Service) cachedSettings(ctx context.Context, t tenancy.Tenant) (Settings, error) {
	now := time.Now()
	s.mu.Lock()
	c, ok := s.cache[t.ID]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.s, nil
	}
	st, err := s.Settings(ctx, t)
	if err != nil {
		return Settings{}, err
	}
	if s.ttl > 0 {
		s.mu.Lock()
		s.cache[t.ID] = cached{s: st, expires: now.Add(s.ttl)}
		s.mu.Unlock()
	}
	return st, nil
}

func (s *Service) invalidate(t tenancy.Tenant) {
	s.mu.Lock()
	delete(s.cache, t.ID)
	s.mu.Unlock()
}

// Settings returns what the tenant stored (the zero Settings when nothing).
func (s *Service) Settings(ctx context.Context, t tenancy.Tenant) (Settings, error) {
	var st Settings
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var err error
		st, err = load(tx)
		return err
	})
	if err != nil {
		return Settings{}, fmt.Errorf("reading the branding of %s: %w", t.Slug, err)
	}
	return st, nil
}

func load(tx *gorm.DB) (Settings, error) {
	var rows []Settings
	err := tx.Raw(`SELECT b.display_name, b.primary_color, b.accent_color, b.logo_sha256, b.favicon_sha256,
			b.support_email, b.support_phone, b.sender_name, b.updated_at,
			coalesce(l.content_type, '') AS logo_type, coalesce(f.content_type, '') AS favicon_type
		FROM branding b
		LEFT JOIN brand_assets l ON l.sha256 = b.logo_sha256
		LEFT JOIN brand_assets f ON f.sha256 = b.favicon_sha256`).Scan(&rows).Error
	if err != nil || len(rows) == 0 {
		return Settings{}, err
	}
	return rows[0], nil
}

// Asset returns one of the tenant's images by its URL file name
// ("<sha256>.<ext>"). Unknown hashes, and a known hash with the wrong
// extension, are ErrNotFound: the tenant's schema is the only place looked
// in, so another tenant's hash is unknown here.
func (s *Service) Asset(ctx context.Context, t tenancy.Tenant, file string) (Asset, error) {
	sum, ext, ok := parseFileName(file)
	if !ok {
		return Asset{}, ErrNotFound
	}
	var list []Asset
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Where("sha256 = ?", sum).Limit(1).Find(&list).Error
	})
	if err != nil {
		return Asset{}, fmt.Errorf("reading brand asset %s: %w", file, err)
	}
	if len(list) == 0 || extensions[list[0].ContentType] != ext {
		return Asset{}, ErrNotFound
	}
	return list[0], nil
}

// Save validates in completely, then stores it, its images and an audit
// entry in one transaction: a refused field leaves everything as it was.
func (s *Service) Save(ctx context.Context, t tenancy.Tenant, in Input) (Saved, error) {
	next, logo, favicon, err := normalize(in)
	if err != nil {
		return Saved{}, err
	}
	var saved Settings
	var changes []string
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		// One save at a time per tenant, so that each audit entry's "before"
		// is what that save replaced. Readers are not blocked.
		if err := tx.Exec(`LOCK TABLE branding IN SHARE ROW EXCLUSIVE MODE`).Error; err != nil {
			return fmt.Errorf("locking the branding: %w", err)
		}
		prev, err := load(tx)
		if err != nil {
			return err
		}
		next.LogoSHA256, next.FaviconSHA256 = prev.LogoSHA256, prev.FaviconSHA256
		next.LogoType, next.FaviconType = prev.LogoType, prev.FaviconType
		for _, img := range []struct {
			a      *Asset
			remove bool
			sum    **string
			typ    *string
		}{{logo, in.RemoveLogo, &next.LogoSHA256, &next.LogoType}, {favicon, in.RemoveFavicon, &next.FaviconSHA256, &next.FaviconType}} {
			switch {
			case img.a != nil:
				// Content-addressed: the same bytes are the same row.
				if err := tx.Exec(`INSERT INTO brand_assets (sha256, content_type, bytes, size) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING`,
					img.a.SHA256, img.a.ContentType, img.a.Bytes, img.a.Size).Error; err != nil {
					return fmt.Errorf("storing an image: %w", err)
				}
				*img.sum, *img.typ = &img.a.SHA256, img.a.ContentType
			case img.remove:
				*img.sum, *img.typ = nil, ""
			}
		}
		changes = diff(prev, next)
		if len(changes) == 0 {
			saved = prev
			return nil
		}
		err = tx.Exec(`INSERT INTO branding (id, display_name, primary_color, accent_color, logo_sha256, favicon_sha256, support_email, support_phone, sender_name)
			VALUES (true, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET display_name = EXCLUDED.display_name, primary_color = EXCLUDED.primary_color,
				accent_color = EXCLUDED.accent_color, logo_sha256 = EXCLUDED.logo_sha256, favicon_sha256 = EXCLUDED.favicon_sha256,
				support_email = EXCLUDED.support_email, support_phone = EXCLUDED.support_phone, sender_name = EXCLUDED.sender_name,
				updated_at = now()`,
			next.DisplayName, next.PrimaryColor, next.AccentColor, next.LogoSHA256, next.FaviconSHA256,
			next.SupportEmail, next.SupportPhone, next.SenderName).Error
		if err != nil {
			return fmt.Errorf("storing the branding: %w", err)
		}
		// Images no longer used go: the table holds what the brand shows.
		// Browsers that cached an old URL keep their copy; nothing links to it.
		if err := tx.Exec(`DELETE FROM brand_assets a WHERE NOT EXISTS
			(SELECT 1 FROM branding b WHERE a.sha256 IN (b.logo_sha256, b.favicon_sha256))`).Error; err != nil {
			return fmt.Errorf("deleting unused images: %w", err)
		}
		saved = next
		return audit.Record(ctx, tx, "branding.updated", "branding", strings.Join(changes, "; "))
	})
	if err != nil {
		return Saved{}, fmt.Errorf("saving the branding of %s: %w", t.Slug, err)
	}
	s.invalidate(t)
	b := brandOf(t, saved, "/brand/")
	return Saved{Brand: b, Warnings: ContrastWarnings(b.PrimaryColor, b.AccentColor), Changed: len(changes) > 0}, nil
}

// normalize checks every field and image of in before anything is written.
func normalize(in Input) (next Settings, logo, favicon *Asset, err error) {
	if next.DisplayName, err = oneLine("display name", in.DisplayName, 100); err != nil {
		return
	}
	if next.SenderName, err = oneLine("e-mail sender name", in.SenderName, 100); err != nil {
		return
	}
	if next.PrimaryColor, err = NormalizeColor(in.PrimaryColor); err != nil {
		err = fault.Newf(ErrInvalid, "the primary colour %q is not of the form #rrggbb", in.PrimaryColor)
		return
	}
	if next.AccentColor, err = NormalizeColor(in.AccentColor); err != nil {
		err = fault.Newf(ErrInvalid, "the accent colour %q is not of the form #rrggbb", in.AccentColor)
		return
	}
	if next.SupportEmail, err = normalizeEmail(in.SupportEmail); err != nil {
		return
	}
	if next.SupportPhone, err = normalizePhone(in.SupportPhone); err != nil {
		return
	}
	for _, img := range []struct {
		data   []byte
		remove bool
		kind   Kind
		out    **Asset
	}{{in.Logo, in.RemoveLogo, Logo, &logo}, {in.Favicon, in.RemoveFavicon, Favicon, &favicon}} {
		if img.data == nil {
			continue
		}
		if img.remove {
			err = fault.Newf(ErrInvalid, "choose either a new %s or removing it, not both", img.kind.Name)
			return
		}
		a, cerr := CheckImage(img.kind, img.data)
		if cerr != nil {
			err = cerr
			return
		}
		*img.out = &a
	}
	return
}

// oneLine trims s and checks it is printable text on one line of at most n characters.
func oneLine(field, s string, n int) (string, error) {
	s = strings.TrimSpace(s)
	if len([]rune(s)) > n {
		return "", fault.Newf(ErrInvalid, "the %s is longer than %d characters", field, n)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) && r != ' ' {
			return "", fault.Newf(ErrInvalid, "the %s must be plain text on one line", field)
		}
	}
	return s, nil
}

// normalizeEmail accepts "" or one bare address whose domain has a dot.
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	a, err := mail.ParseAddress(s)
	_, domain, _ := strings.Cut(s, "@")
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(domain, ".") {
		return "", fault.Newf(ErrInvalid, "%q is not a valid e-mail address", s)
	}
	return s, nil
}

var phoneChars = regexp.MustCompile(`^\+?[0-9 ()./-]+$`)

// normalizePhone accepts "" or a phone number written with digits, spaces
// and the usual punctuation (+44 20 7946 0000, (555) 010-2000).
func normalizePhone(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", nil
	}
	digits := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits++
		}
	}
	if !phoneChars.MatchString(s) || digits < 3 || digits > 20 || len(s) > 40 {
		return "", fault.Newf(ErrInvalid, "%q is not a phone number (digits, spaces, + ( ) - . / only)", s)
	}
	return s, nil
}

// diff lists what changed, for the audit entry.
func diff(a, b Settings) []string {
	var out []string
	for _, f := range []struct{ name, from, to string }{
		{"display name", a.DisplayName, b.DisplayName},
		{"primary colour", a.PrimaryColor, b.PrimaryColor},
		{"accent colour", a.AccentColor, b.AccentColor},
		{"support e-mail", a.SupportEmail, b.SupportEmail},
		{"support phone", a.SupportPhone, b.SupportPhone},
		{"sender name", a.SenderName, b.SenderName},
		{"logo", deref(a.LogoSHA256), deref(b.LogoSHA256)},
		{"favicon", deref(a.FaviconSHA256), deref(b.FaviconSHA256)},
	} {
		if f.from != f.to {
			out = append(out, audit.Changed(f.name, orDefault(short(f.from)), orDefault(short(f.to))))
		}
	}
	return out
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// short abbreviates a content hash for the audit log.
func short(s string) string {
	if len(s) == 64 && assetFile.MatchString(s+".png") {
		return "sha256:" + s[:12]
	}
	return s
}

func orDefault(s string) string {
	if s == "" {
		return "(default)"
	}
	return s
}

// IsUserError reports whether err is the client's fault (a 4xx), not ours.
func IsUserError(err error) bool {
	return errors.Is(err, ErrInvalid) || errors.Is(err, ErrTooLarge) || errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotFound)
}
