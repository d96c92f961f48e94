package authz

import (
	"sync"
	"sync/atomic"
)

// maxDecisions bounds the decision cache. Keys are subject × domain × route,
// which for busy staff across many tenants grows without limit otherwise.
const maxDecisions = 100_000

type decisionKey struct{ sub, dom, obj, act string }

// decisions caches Enforce answers for one enforcer. A fresh one comes with
// every change to routes or grants, and it is only read and written under
// the Authorizer's read lock, which changes wait for: so an answer computed
// from old grants can never land in the cache of new ones (the race that
// Casbin's CachedEnforcer has between Enforce and InvalidateCache).
type decisions struct {
	m sync.Map // decisionKey -> bool
	n atomic.Int64
}

func (d *decisions) get(k decisionKey) (allowed, found bool) {
	v, found := d.m.Load(k)
	if !found {
		return false, false
	}
	return v.(bool), true
}

func (d *decisions) put(k decisionKey, allowed bool) {
	if d.n.Add(1) > maxDecisions {
		// Start over rather than track recency: cheap, and misses are only slower.
		d.m.Clear()
		d.n.Store(0)
	}
	d.m.Store(k, allowed)
}
