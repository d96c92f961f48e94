package tenancy

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"
)

// A backend that has entered its share of tenants is closed after the Do
// that reached the limit, and the next Do gets a fresh backend; a
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
		{"the first again (not counted twice)", same[0], false},
		{"the third tenant: its share, served, then closed", same[2], false},
		{"the next Do", same[3], true},
	} {
		if pid := backend(step.tenant); (pid != first) != step.changed {
			t.Fatalf("%s: backend %d, first %d; want changed %v", step.name, pid, first, step.changed)
		}
	}
}

// Build reuses its connection for schemasPerBuilder builds, then a fresh
// backend takes over; a failed build never hands its connection on.
func TestBuilderIsReplacedAfterItsShareOfSchemas(t *testing.T) {
	ctx := context.Background()
	c := openCluster(t, 1) // one connection: every build gets the same one while it lives
	srv := c.control
	srv.builders = newBackendTenants(schemasPerBuilder, 1)
	build := func(fail bool) int {
		t.Helper()
		var pid int
		err := srv.Build(ctx, func(tx *gorm.DB) error {
			if err := tx.Raw("SELECT pg_backend_pid()").Scan(&pid).Error; err != nil {
				return err
			}
			if fail {
				return errBuildFailed
			}
			return nil
		})
		if (err != nil) != fail {
			t.Fatalf("build (fail %v): %v", fail, err)
		}
		return pid
	}
	first := build(false)
	for i := 2; i <= schemasPerBuilder; i++ {
		if pid := build(false); pid != first {
			t.Fatalf("build %d ran on backend %d, want the first builder %d", i, pid, first)
		}
	}
	second := build(false)
	if second == first {
		t.Fatalf("build %d still ran on the first builder", schemasPerBuilder+1)
	}
	if pid := build(false); pid != second {
		t.Fatalf("the second builder was replaced after one build")
	}
	build(true)
	if third := build(false); third == second {
		t.Fatal("the build after a failed one ran on the failed build's backend")
	}
}

var errBuildFailed = errors.New("this build fails")
