package tenancy

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gorm.io/gorm"
)

// A tenant whose home pool is fully busy is served from another pool of its
// cell rather than queueing while the cell's other connections stand idle.
func TestBusyHomePoolSpillsToAFreeOne(t *testing.T) {
	ctx := context.Background()
	c := openCluster(t, 4)
	tn := newTenant(t, c)
	cell, err := c.Cell(ctx, tn.Cell)
	if err != nil {
		t.Fatal(err)
	}
	home := cell.pools[int(uint64(tn.ID)%uint64(len(cell.pools)))]
	if got := cell.poolFor(tn.ID); got != home {
		t.Fatal("an idle home pool was not chosen")
	}

	// Hold every connection of the home pool.
	var held []*sql.Conn
	for range home.Stats().MaxOpenConnections {
		conn, err := home.sql.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, conn)
	}
	t.Cleanup(func() {
		for _, conn := range held {
			_ = conn.Close()
		}
	})
	if got := cell.poolFor(tn.ID); got == home {
		t.Fatal("a saturated home pool was chosen while other pools had free connections")
	}
	// The deadline only bounds a failure: without spilling, Do would wait for
	// a held connection forever.
	deadline, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var schema string
	if err := Do(deadline, tn, func(tx *gorm.DB) error {
		return tx.Raw("SELECT current_schema()").Scan(&schema).Error
	}); err != nil {
		t.Fatalf("Do with its home pool busy: %v", err)
	}
	if schema != tn.Schema() {
		t.Fatalf("Do on another pool ran in %q, want %q", schema, tn.Schema())
	}
}
