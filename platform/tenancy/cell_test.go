package tenancy

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"gorm.io/gorm"
)

// A tenant whose home pool is fully busy is served from the next pool of
// its cell rather than queueing while that pool's connections stand idle;
// no further: a backend meets at most two pools' share of the tenants.
func TestBusyHomePoolSpillsToTheNextOne(t *testing.T) {
	ctx := context.Background()
	c := openCluster(t, 4)
	tn := newTenant(t, c)
	cell, err := c.Cell(ctx, tn.Cell)
	if err != nil {
		t.Fatal(err)
	}
	if len(cell.pools) < 3 {
		t.Fatalf("the cell has %d pools; the test needs 3 or more", len(cell.pools))
	}
	i := int(uint64(tn.ID) % uint64(len(cell.pools)))
	home, next := cell.pools[i], cell.pools[(i+1)%len(cell.pools)]
	if got := cell.poolFor(tn.ID); got != home {
		t.Fatal("an idle home pool was not chosen")
	}

	var held []*sql.Conn
	hold := func(p *Server) { // every connection of p
		for range p.Stats().MaxOpenConnections {
			conn, err := p.sql.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, conn)
		}
	}
	t.Cleanup(func() {
		for _, conn := range held {
			_ = conn.Close()
		}
	})
	hold(home)
	if got := cell.poolFor(tn.ID); got != next {
		t.Fatal("a saturated home pool did not hand over to the next pool, which had free connections")
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

	hold(next)
	if got := cell.poolFor(tn.ID); got != home {
		t.Fatal("with the home and next pools busy, a third pool was chosen: the tenant would reach every backend of the cell")
	}
}
