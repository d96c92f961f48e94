package authz

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"

	"github.com/labstack/echo/v4"
)

const benchTenants = 500

// benchGrants are 1,000 staff grants over 500 tenants: 10 owners and 40
// admins over all, 150 technicians all-except 3, 800 technicians on 5 each.
func benchGrants() []Grant {
	var gs []Grant
	for i := range 1000 {
		sub := fmt.Sprintf("staff:%d", i)
		switch {
		case i < 10:
			gs = append(gs, Grant{sub, Owner, ScopeAll, nil})
		case i < 50:
			gs = append(gs, Grant{sub, Admin, ScopeAll, nil})
		case i < 200:
			gs = append(gs, Grant{sub, Technician, ScopeAllExcept, []int64{int64(i%benchTenants + 1), 7, 8}})
		default:
			var ids []int64
			for j := range 5 {
				ids = append(ids, int64((i*5+j)%benchTenants+1))
			}
			gs = append(gs, Grant{sub, Technician, ScopeList, ids})
		}
	}
	return gs
}

// benchAuthorizer declares 60 route templates × GET and POST (300 p rules:
// the ~60 routes × 5 roles the console is expected to reach) and sets benchGrants.
func benchAuthorizer(b *testing.B) *Authorizer {
	b.Helper()
	a, err := New()
	if err != nil {
		b.Fatal(err)
	}
	e := echo.New()
	plan := []struct {
		perm   Permission
		prefix string
		n      int
	}{
		{ConsoleView, "/console", 6}, {PlatformManage, "/staff", 3}, {PlatformOwner, "/owners", 1},
		{TenantView, "/t/:slug/view", 20}, {TenantManage, "/t/:slug/manage", 10}, {TenantAdmin, "/t/:slug/admin", 5},
		{PortalView, "/p/view", 10}, {PortalManage, "/p/manage", 5},
	}
	for _, p := range plan {
		for i := range p.n {
			for _, m := range []string{http.MethodGet, http.MethodPost} {
				a.Route(e, m, fmt.Sprintf("%s/%d/:id", p.prefix, i), p.perm, ok)
			}
		}
	}
	if err := a.SetGrants(benchGrants()); err != nil {
		b.Fatal(err)
	}
	if n := len(a.enforcer.GetModel()["p"]["p"].Policy); n != 300 {
		b.Fatalf("%d p rules, want 300", n)
	}
	return a
}

func BenchmarkAllowed(b *testing.B) {
	a := benchAuthorizer(b)
	// staff:200 is a technician listed on tenants 1..5; staff:20 an admin over
	// all; staff:100 a technician over all except 101, 7 and 8.
	tech, admin, except := staff(200), staff(20), staff(100)
	// cold is a tenant no grant names, new every call.
	cold := func(i int) string { return TenantDomain(int64(1000 + i)) }
	view := "/t/:slug/view/19/:id" // route 60 of 120: its p rules are about halfway through the 300
	cases := []struct {
		name   string
		s      Subject
		domain func(i int) string
		path   string
		method string
		want   bool
	}{
		{"technician/listed tenant", tech, func(int) string { return "3" }, view, "POST", true},
		{"technician/other tenant (denied, full scan)", tech, func(int) string { return "300" }, view, "POST", false},
		{"admin/same tenant", admin, func(int) string { return "42" }, view, "POST", true},
		{"admin/new tenant every call (cold)", admin, cold, view, "POST", true},
		{"all_except technician/new tenant every call (cold)", except, cold, view, "POST", true},
		{"all_except technician/excepted tenant", except, func(int) string { return "7" }, view, "POST", false},
		{"technician/new tenant every call (cold, denied)", tech, cold, view, "POST", false},
		{"technician/platform page", tech, func(int) string { return PlatformDomain }, "/console/5/:id", "GET", true},
		{"client admin/portal", client(4, 1, ClientAdmin), func(int) string { return "4" }, "/p/manage/4/:id", "POST", true},
	}
	for _, tc := range cases {
		// Allowed: what a request pays; after the first call, a decision-cache hit
		// (except in the cold case, whose domain is new every time).
		b.Run(tc.name, func(b *testing.B) {
			if a.Allowed(tc.s, tc.domain(0), tc.path, tc.method) != tc.want {
				b.Fatalf("Allowed != %v", tc.want)
			}
			i := 0
			for b.Loop() {
				i++
				a.Allowed(tc.s, tc.domain(i), tc.path, tc.method)
			}
		})
		// Casbin alone: a decision-cache miss (Casbin's own g() memo is warm).
		b.Run(tc.name+"/uncached", func(b *testing.B) {
			sub, _ := casbinSubject(tc.s, tc.domain(0))
			i := 0
			for b.Loop() {
				i++
				if got, _ := a.enforcer.Enforce(sub, tc.domain(i), tc.path, tc.method); got != tc.want {
					b.Fatalf("Enforce != %v", tc.want)
				}
			}
		})
	}
	b.Run("technician/listed tenant/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a.Allowed(tech, "3", view, "POST")
			}
		})
	})
}

func BenchmarkVisibleTenants(b *testing.B) {
	a := benchAuthorizer(b)
	ids := make([]int64, benchTenants)
	for i := range ids {
		ids[i] = int64(i + 1)
	}
	for _, s := range []Subject{staff(20), staff(100), staff(200)} { // all, all_except, list
		b.Run(s.Key, func(b *testing.B) {
			for b.Loop() {
				a.VisibleTenants(s, ids)
			}
		})
		b.Run(s.Key+"/uncached", func(b *testing.B) {
			for b.Loop() {
				a.mu.Lock()
				a.decisions = &decisions{}
				a.mu.Unlock()
				a.VisibleTenants(s, ids)
			}
		})
	}
}

// BenchmarkSetGrants measures replacing the bench grants, and reports the
// heap one Authorizer with the bench routes and grants keeps live
// (MB-retained, 10^6 bytes): what every server process holds, and what
// SetGrants builds anew each time.
func BenchmarkSetGrants(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	a := benchAuthorizer(b)
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := float64(after.HeapAlloc) - float64(before.HeapAlloc)

	gs := benchGrants()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.SetGrants(gs); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(retained/1e6, "MB-retained")
}
