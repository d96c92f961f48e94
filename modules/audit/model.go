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
	// Before continues a listing after its last entry: only entries older
	// than it (by time, then id) are listed. Zero means from the newest.
	Before Cursor
}

// Cursor is where a listing stopped: the time and id of its last entry.
// Entries are ordered by time, not id: a transaction that started earlier
// can commit (and take its id) after one that started later.
type Cursor struct {
	At time.Time
	ID int64
}

// CursorOf is the cursor that continues after e.
func CursorOf(e Entry) Cursor { return Cursor{At: e.At, ID: e.ID} }
