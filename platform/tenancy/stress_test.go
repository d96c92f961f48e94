package tenancy

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"
)

// TestStressNoForeignRows runs 64 goroutines × 2,000 operations over 50
// tenants; each operation writes a marker row naming its tenant and reads the
// newest rows back. Any row naming another tenant is a leak.
func TestStressNoForeignRows(t *testing.T) {
	goroutines, ops, tenantCount := 64, 2000, 50
	if testing.Short() {
		goroutines, ops = 16, 200
	}
	c := openCluster(t, 16)
	ctx := context.Background()
	tenants := make([]Tenant, tenantCount)
	for i := range tenants {
		tenants[i] = newTenant(t, c)
		if err := Do(ctx, tenants[i], func(tx *gorm.DB) error {
			return tx.Exec(`CREATE TABLE markers (id bigserial PRIMARY KEY, owner text NOT NULL, g int NOT NULL, seq int NOT NULL)`).Error
		}); err != nil {
			t.Fatal(err)
		}
	}

	var foreign, failures atomic.Int64
	written := make([]atomic.Int64, tenantCount)
	var firstErr sync.Once
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < ops; i++ {
				k := (g*7 + i*13) % tenantCount
				tn := tenants[k]
				err := Do(ctx, tn, func(tx *gorm.DB) error {
					if err := tx.Exec(`INSERT INTO markers (owner, g, seq) VALUES (?, ?, ?)`, tn.Slug, g, i).Error; err != nil {
						return err
					}
					var owners []string
					if err := tx.Raw(`SELECT owner FROM markers ORDER BY id DESC LIMIT 5`).Scan(&owners).Error; err != nil {
						return err
					}
					for _, o := range owners {
						if o != tn.Slug {
							foreign.Add(1)
						}
					}
					return nil
				})
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { t.Errorf("operation failed: %v", err) })
					continue
				}
				written[k].Add(1)
			}
		}(g)
	}
	wg.Wait()

	if n := foreign.Load(); n != 0 {
		t.Fatalf("saw %d foreign rows", n)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("%d operations failed", n)
	}
	var total int64
	for k, tn := range tenants {
		var mine, others int64
		err := Do(ctx, tn, func(tx *gorm.DB) error {
			return tx.Raw(`SELECT count(*) FILTER (WHERE owner = ?), count(*) FILTER (WHERE owner <> ?) FROM markers`, tn.Slug, tn.Slug).Row().Scan(&mine, &others)
		})
		if err != nil {
			t.Fatal(err)
		}
		if others != 0 || mine != written[k].Load() {
			t.Fatalf("%s: %d own rows (want %d), %d foreign", tn.Slug, mine, written[k].Load(), others)
		}
		total += mine
	}
	if total != int64(goroutines*ops) {
		t.Fatalf("total rows %d, want %d", total, goroutines*ops)
	}
	assertPoolClean(t, c)
	t.Logf("%d operations over %d tenants, 0 foreign rows", total, tenantCount)
}
