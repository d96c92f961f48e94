package identity

import (
	"fmt"

	"gorm.io/gorm"
)

// ClientAdmins counts the tenant's enabled client admins inside the
// caller's tenancy.Do transaction tx.
func (s *Service) ClientAdmins(tx *gorm.DB) (int, error) {
	var n int
	if err := tx.Raw(`SELECT count(*) FROM users WHERE role = ? AND disabled_at IS NULL`, RoleClientAdmin).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("counting client admins: %w", err)
	}
	return n, nil
}
