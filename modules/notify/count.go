package notify

import (
	"fmt"

	"gorm.io/gorm"
)

// ChannelCount counts the tenant's notification channels, enabled or not,
// inside the caller's tenancy.Do transaction tx.
func (s *Service) ChannelCount(tx *gorm.DB) (int, error) {
	var n int
	if err := tx.Raw(`SELECT count(*) FROM notification_channels`).Scan(&n).Error; err != nil {
		return 0, fmt.Errorf("counting notification channels: %w", err)
	}
	return n, nil
}
