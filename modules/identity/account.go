package identity

import (
	"context"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/humane"
	"switchboard/platform/web"
)

// SetTimeZone sets the zone the console shows the staff user's times in.
func (s *Service) SetTimeZone(ctx context.Context, id int64, zone string) error {
	zone = strings.TrimSpace(zone)
	if !humane.ValidZone(zone) {
		return invalid("%q is not a time zone: use a name such as Europe/Berlin, America/New_York or UTC", zone)
	}
	return s.root(ctx).Transaction(func(tx *gorm.DB) error {
		var email string
		if err := tx.Raw(`UPDATE control.staff_users SET time_zone = ? WHERE id = ? RETURNING email`, zone, id).Scan(&email).Error; err != nil {
			return err
		}
		if email == "" {
			return ErrNotFound
		}
		return audit.RecordPlatform(ctx, tx, "staff.time_zone_set", email, zone)
	})
}

// setTimeZone saves the signed-in staff user's time zone, from the
// sign-in security page (their own settings page).
func (m *MFA) setTimeZone(sm *scs.SessionManager) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, err := m.me(c)
		if err != nil {
			return err
		}
		zone := strings.TrimSpace(c.FormValue("time_zone"))
		if err := m.svc.SetTimeZone(c.Request().Context(), u.ID, zone); err != nil {
			return m.refuseOnPage(c, sm, err)
		}
		return web.RedirectFlash(c, securityPath, "Times are now shown in "+zone+".")
	}
}
