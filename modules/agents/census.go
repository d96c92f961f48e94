package agents

import (
	"fmt"

	"gorm.io/gorm"
)

// Census is how a tenant's fleet stands: endpoints by status (offline as
// the offline sweep decided it, the status the endpoints page shows) and
// the enrollment tokens that can still enroll one.
type Census struct {
	Online, Offline int
	UsableTokens    int
}

// Census counts the tenant's endpoints and usable enrollment tokens inside
// the caller's tenancy.Do transaction tx.
func (s *Service) Census(tx *gorm.DB) (Census, error) {
	var c Census
	err := tx.Raw(`SELECT
			(SELECT count(*) FROM endpoints WHERE status = 'online') AS online,
			(SELECT count(*) FROM endpoints WHERE status = 'offline') AS offline,
			(SELECT count(*) FROM enrollment_tokens WHERE revoked_at IS NULL AND expires_at > ? AND uses < max_uses) AS usable_tokens`,
		s.now()).Scan(&c).Error
	if err != nil {
		return Census{}, fmt.Errorf("counting endpoints: %w", err)
	}
	return c, nil
}
