package tenancy

import (
	"context"
	"testing"

	"gorm.io/gorm"
)

// A backend that has entered more than its share of tenants is closed after
// the Do that passed the limit, and the next Do gets a fresh backend; a
// tenant entered again does not count twice.
func TestBackendIsReplacedAfterItsShareOfTenants(t *testing.T) {
	ctx := context.Background()
	c := openCluster(t, 4)
	cell, err := c.Cell(ctx, DefaultCell)
	if err != nil {
		t.Fatal(err)
	}
	// Four tenants with the same home pool, so that they share its backend.
	byPool := map[int][]Tenant{}
	var same []Tenant
	for len(same) < 4 {
		tn := newTenant(t, c)
		home := int(uint64(tn.ID) % uint64(len(cell.pools)))
		byPool[home] = append(byPool[home], tn)
		same = byPool[home]
	}
	pool := cell.poolFor(same[0].ID)
	pool.backends = newBackendTenants(3, 2)

	backend := func(tn Tenant) int {
		t.Helper()
		var pid int
		if err := Do(ctx, tn, func(tx *gorm.DB) error { return tx.Raw("SELECT pg_backend_pid()").Scan(&pid).Error }); err != nil {
			t.Fatal(err)
		}
		return pid
	}
	first := backend(same[0])
	for _, step := range []struct {
		name    string
		tenant  Tenant
		changed bool // a new backend from before this step
	}{
		{"the second tenant", same[1], false},
		{"the third tenant", same[2], false},
		{"the first again (not counted twice)", same[0], false},
		{"the fourth tenant: over the limit, served, then closed", same[3], false},
		{"the next Do", same[0], true},
	} {
		if pid := backend(step.tenant); (pid != first) != step.changed {
			t.Fatalf("%s: backend %d, first %d; want changed %v", step.name, pid, first, step.changed)
		}
	}
}
