package tenants

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/humane"
	"switchboard/platform/tenancy"
)

// ClientSettings are a client's own settings, kept in its schema's settings
// table: the name its people see on their portal (unless the branding sets
// one), and the time zone and locale the portal shows times and numbers in.
// Locale changes formats only (date order, clock, separators); words stay
// English.
type ClientSettings struct {
	DisplayName string    `json:"display_name"`
	TimeZone    string    `json:"timezone"`
	Locale      string    `json:"locale"`
	UpdatedAt   time.Time `json:"updated_at"` // the latest change of the three
}

// Zone is the client's time zone, loaded (UTC when unset or unknown).
func (cs ClientSettings) Zone() *time.Location { return humane.Zone(cs.TimeZone) }

// SettingsInput is a change of client settings; a nil field is kept as it is.
type SettingsInput struct {
	DisplayName, TimeZone, Locale *string
	// Precondition, when set, sees the settings as they are, locked, in the
	// saving transaction; an error from it saves nothing and is returned
	// (the API's If-Match, with no window between the check and the write).
	Precondition func(current ClientSettings) error
}

// Setting keys in the tenant's settings table (see seedDefaults).
const (
	keyDisplayName = "display_name"
	keyTimeZone    = "timezone"
	keyLocale      = "locale"
)

// maxDisplayName bounds a display name, in characters.
const maxDisplayName = 100

// SettingsErrors are the refused fields of a settings change, by key
// (display_name, timezone, locale), each with the reason in words; it is
// ErrInvalid, so the web layer and the CLI treat it as the user's to fix.
type SettingsErrors map[string]string

// Error joins the reasons in a fixed order.
func (e SettingsErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	msgs := make([]string, len(keys))
	for i, k := range keys {
		msgs[i] = e[k]
	}
	return strings.Join(msgs, "; ")
}

// Unwrap makes SettingsErrors ErrInvalid.
func (e SettingsErrors) Unwrap() error { return ErrInvalid }

// settingsTTL bounds how long another replica shows a changed setting: the
// portal needs the settings on every page, and they change about never.
// Saves through this process drop the entry at once.
const settingsTTL = time.Minute

// settingsCache keeps each tenant's settings as read at a time; its zero
// value is ready.
type settingsCache struct {
	mu      sync.Mutex
	entries map[int64]cachedSettings
}

type cachedSettings struct {
	cs ClientSettings
	at time.Time
}

func (c *settingsCache) get(id int64, now time.Time) (ClientSettings, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok || now.Sub(e.at) >= settingsTTL || now.Before(e.at) {
		return ClientSettings{}, false
	}
	return e.cs, true
}

func (c *settingsCache) put(id int64, cs ClientSettings, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[int64]cachedSettings{}
	}
	c.entries[id] = cachedSettings{cs: cs, at: at}
}

func (c *settingsCache) forget(id int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, id)
}

// ClientSettings returns the client's settings for a page: read at most
// once a minute per process (settingsTTL), and at once after a save through
// this process. Pages that edit them use SettingsNow.
func (s *Service) ClientSettings(ctx context.Context, t tenancy.Tenant) (ClientSettings, error) {
	now := time.Now()
	if cs, ok := s.settings.get(t.ID, now); ok {
		return cs, nil
	}
	cs, err := s.SettingsNow(ctx, t)
	if err != nil {
		return cs, err
	}
	s.settings.put(t.ID, cs, now)
	return cs, nil
}

// SettingsNow reads the client's settings from its schema. A missing row
// reads as its default (the tenant's name, UTC, the default locale).
func (s *Service) SettingsNow(ctx context.Context, t tenancy.Tenant) (ClientSettings, error) {
	var cs ClientSettings
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var err error
		cs, err = loadSettings(tx, t, false)
		return err
	})
	if err != nil {
		return ClientSettings{DisplayName: t.Name, TimeZone: "UTC", Locale: humane.DefaultLocale},
			fmt.Errorf("reading the settings of %s: %w", t.Slug, err)
	}
	return cs, nil
}

// loadSettings reads the three settings in tx; lock holds their rows until
// the transaction ends, so two saves audit each other's results.
func loadSettings(tx *gorm.DB, t tenancy.Tenant, lock bool) (ClientSettings, error) {
	q := `SELECT key, value, updated_at FROM settings WHERE key IN (?, ?, ?)`
	if lock {
		q += ` FOR UPDATE`
	}
	var rows []struct {
		Key, Value string
		UpdatedAt  time.Time
	}
	if err := tx.Raw(q, keyDisplayName, keyTimeZone, keyLocale).Scan(&rows).Error; err != nil {
		return ClientSettings{}, fmt.Errorf("reading settings: %w", err)
	}
	cs := ClientSettings{DisplayName: t.Name, TimeZone: "UTC", Locale: humane.DefaultLocale}
	for _, r := range rows {
		switch r.Key {
		case keyDisplayName:
			cs.DisplayName = r.Value
		case keyTimeZone:
			cs.TimeZone = r.Value
		case keyLocale:
			cs.Locale = r.Value
		}
		if r.UpdatedAt.After(cs.UpdatedAt) {
			cs.UpdatedAt = r.UpdatedAt
		}
	}
	return cs, nil
}

// SaveSettings checks every field of in, then writes the changed ones and
// one audit entry naming each change, in one transaction: a refused field
// (SettingsErrors) writes nothing. It returns the settings as saved and
// whether anything changed. The portal of this process shows the change on
// its next page; other replicas within settingsTTL.
func (s *Service) SaveSettings(ctx context.Context, t tenancy.Tenant, in SettingsInput) (ClientSettings, bool, error) {
	next, err := normalizeSettings(in)
	if err != nil {
		return ClientSettings{}, false, err
	}
	var saved ClientSettings
	var changes []string
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		prev, err := loadSettings(tx, t, true)
		if err != nil {
			return err
		}
		if in.Precondition != nil {
			if err := in.Precondition(prev); err != nil {
				return err
			}
		}
		saved, changes = prev, nil
		for _, f := range []struct {
			key, label string
			to         *string
			cur        *string
		}{
			{keyDisplayName, "display name", next.DisplayName, &saved.DisplayName},
			{keyTimeZone, "time zone", next.TimeZone, &saved.TimeZone},
			{keyLocale, "locale", next.Locale, &saved.Locale},
		} {
			if f.to == nil || *f.to == *f.cur {
				continue
			}
			if err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, f.key, *f.to).Error; err != nil {
				return fmt.Errorf("saving setting %s: %w", f.key, err)
			}
			changes = append(changes, audit.Changed(f.label, *f.cur, *f.to))
			*f.cur = *f.to
		}
		if len(changes) == 0 {
			return nil
		}
		return audit.Record(ctx, tx, "settings.changed", t.Slug, strings.Join(changes, "; "))
	})
	if err != nil {
		return ClientSettings{}, false, err
	}
	s.settings.forget(t.ID)
	if len(changes) > 0 {
		s.log.InfoContext(ctx, "client settings changed", "tenant", t.Slug, "changes", strings.Join(changes, "; "))
	}
	return saved, len(changes) > 0, nil
}

// CheckSettings checks a change without saving it (SettingsErrors when
// refused), so a command can refuse bad input before it opens the database.
func CheckSettings(in SettingsInput) error {
	_, err := normalizeSettings(in)
	return err
}

// normalizeSettings trims the given fields and checks each, collecting every
// refusal so the form can mark them all at once.
func normalizeSettings(in SettingsInput) (SettingsInput, error) {
	bad := SettingsErrors{}
	var out SettingsInput
	if in.DisplayName != nil {
		v := strings.TrimSpace(*in.DisplayName)
		if msg := checkDisplayName(v); msg != "" {
			bad[keyDisplayName] = msg
		}
		out.DisplayName = &v
	}
	if in.TimeZone != nil {
		v := strings.TrimSpace(*in.TimeZone)
		if msg := checkTimeZone(v); msg != "" {
			bad[keyTimeZone] = msg
		}
		out.TimeZone = &v
	}
	if in.Locale != nil {
		v := strings.TrimSpace(*in.Locale)
		if !humane.ValidLocale(v) {
			bad[keyLocale] = fmt.Sprintf("locale %q is not supported; choose one of %s", clip(v), strings.Join(LocaleTags(), ", "))
		}
		out.Locale = &v
	}
	if len(bad) > 0 {
		return SettingsInput{}, bad
	}
	return out, nil
}

// checkDisplayName says what is wrong with a display name, or "".
func checkDisplayName(v string) string {
	n := utf8.RuneCountInString(v)
	switch {
	case !utf8.ValidString(v):
		return "display name must be valid UTF-8"
	case n == 0:
		return "display name must not be empty"
	case n > maxDisplayName:
		return fmt.Sprintf("display name must be at most %d characters, not %d", maxDisplayName, n)
	}
	for _, r := range v {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("display name must be printable characters only, not %U", r)
		}
	}
	return ""
}

// checkTimeZone says what is wrong with a time zone name, or "". "Local"
// would be the server's zone, which means nothing to a client.
func checkTimeZone(v string) string {
	if v == "" || v == "Local" || len(v) > 64 || !utf8.ValidString(v) || !humane.ValidZone(v) {
		return fmt.Sprintf("time zone %q is not an IANA time zone name such as Europe/Berlin or America/New_York", clip(v))
	}
	return ""
}

// clip shortens an echoed value, so a pasted essay does not fill the page.
func clip(v string) string {
	if utf8.RuneCountInString(v) <= 40 {
		return strings.ToValidUTF8(v, "?")
	}
	return string([]rune(strings.ToValidUTF8(v, "?"))[:40]) + "…"
}

// LocaleTags are the supported locales' tags, the default first.
func LocaleTags() []string {
	ls := humane.Locales()
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.Tag
	}
	return out
}
