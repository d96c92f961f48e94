// Package audit keeps the append-only trail of every change: each tenant's
// own log in its schema, and the platform log in the control plane.
package audit

import "time"

// Entry is one audit record.
type Entry struct {
	ID       int64     `gorm:"column:id;primaryKey" json:"id"`
	At       time.Time `gorm:"column:at" json:"at"`
	Actor    string    `gorm:"column:actor" json:"actor"`
	Action   string    `gorm:"column:action" json:"action"`
	Target   string    `gorm:"column:target" json:"target"`
	Summary  string    `gorm:"column:summary" json:"summary"`
	ClientIP string    `gorm:"column:client_ip" json:"client_ip"`
}

// Filter narrows a listing. Zero values mean "any".
type Filter struct {
	Action string // prefix, e.g. "user." or "tenant.created"
	Actor  string // substring, case-insensitive
	Text   string // substring of target or summary, case-insensitive
	Since  time.Time
	Until  time.Time
	Limit  int // default 200, at most 10,000 (exports page through everything)
	Before int64
}
