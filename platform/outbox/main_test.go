package outbox

import (
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"

	"switchboard/db/dbtest"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openCluster connects to the package's database with the control plane migrated.
func openCluster(t *testing.T) *tenancy.Cluster { return dbtest.Open(t, 8) }

// newTenant provisions a tenant as production does.
func newTenant(t *testing.T, c *tenancy.Cluster) tenancy.Tenant { return dbtest.NewTenant(t, c) }

// lookup is a TenantLookup over a fixed set of tenants.
type lookup = dbtest.Lookup

// pinged and ponged are test events of two kinds.
type pinged struct {
	N int `json:"n"`
}

func (pinged) EventKind() string { return "test.pinged" }

type ponged struct {
	N int `json:"n"`
}

func (ponged) EventKind() string { return "test.ponged" }

// seen collects what handlers received, in order.
type seen struct {
	mu  sync.Mutex
	got []string
}

func (s *seen) add(v string) {
	s.mu.Lock()
	s.got = append(s.got, v)
	s.mu.Unlock()
}

func (s *seen) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}
