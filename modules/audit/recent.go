package audit

import (
	"fmt"
	"strings"

	"gorm.io/gorm"

	"switchboard/platform/humane"
)

// Recent returns the newest limit entries of the tenant log tx is scoped
// to (inside tenancy.Do, so the caller reads other things in the same
// transaction), in the order Tenant lists them.
func (s *Service) Recent(tx *gorm.DB, limit int) ([]Entry, error) {
	var out []Entry
	if err := (Filter{Limit: limit}).apply(tx.Table("audit_log")).Find(&out).Error; err != nil {
		return nil, fmt.Errorf("reading recent audit entries: %w", err)
	}
	return out, nil
}

// ActionWords is an action identifier as words: "user.password_reset" is
// "User password reset".
func ActionWords(action string) string {
	return humane.Capital(strings.NewReplacer(".", " ", "_", " ").Replace(action))
}
