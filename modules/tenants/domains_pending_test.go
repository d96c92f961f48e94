package tenants

import (
	"context"
	"testing"

	"switchboard/platform/dnstest"
)

// TestVerifyPending: the background re-check verifies a domain whose record
// has appeared, records (without auditing) why another is still pending,
// leaves both alone until they are due again, and gives up on old ones.
func TestVerifyPending(t *testing.T) {
	ctx := context.Background()
	srv := dnstest.Start(t)
	s := dnsService(t, srv, Options{})
	slug := uniqueSlug("pending")
	if _, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Pending"}); err != nil {
		t.Fatal(err)
	}
	ready, err := s.AddDomain(ctx, slug, "ready."+slug+".example")
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := s.AddDomain(ctx, slug, "waiting."+slug+".example")
	if err != nil {
		t.Fatal(err)
	}
	old, err := s.AddDomain(ctx, slug, "old."+slug+".example")
	if err != nil {
		t.Fatal(err)
	}
	var touched string
	if err := admin(t, `UPDATE control.tenant_domains SET created_at = now() - interval '8 days' WHERE hostname = $1 RETURNING hostname`, old.Hostname).Scan(&touched); err != nil {
		t.Fatal(err)
	}
	srv.SetTXT(ready.ChallengeName(), ready.VerifyToken)
	srv.SetTXT(old.ChallengeName(), old.VerifyToken)

	// Other tests' pending domains may be claimed too; only ours are asserted.
	if _, _, err := s.VerifyPending(ctx); err != nil {
		t.Fatal(err)
	}
	byHost := map[string]Domain{}
	list, err := s.ListDomains(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range list {
		byHost[d.Hostname] = d
	}
	if d := byHost[ready.Hostname]; !d.Verified || d.CheckedAt == nil {
		t.Errorf("ready domain after the re-check: %+v, want verified", d)
	}
	if d := byHost[waiting.Hostname]; d.Verified || d.CheckedAt == nil || d.CheckError == nil {
		t.Errorf("waiting domain after the re-check: %+v, want unverified with the reason recorded", d)
	}
	if d := byHost[old.Hostname]; d.Verified || d.CheckedAt != nil {
		t.Errorf("a domain added 8 days ago was re-checked: %+v", d)
	}
	if got, err := s.Directory().ByHost(ctx, ready.Hostname); err != nil || got.Slug != slug {
		t.Errorf("the verified domain does not route: %+v, %v", got, err)
	}
	if n := platformAudits(t, slug, "domain.verified"); n != 1 {
		t.Errorf("%d domain.verified audit entries, want 1", n)
	}
	if n := platformAudits(t, slug, "domain.check_failed"); n != 0 {
		t.Errorf("automatic failed checks wrote %d audit entries, want none", n)
	}

	// Not due again yet: the record appearing now waits for the next round.
	srv.SetTXT(waiting.ChallengeName(), waiting.VerifyToken)
	if _, _, err := s.VerifyPending(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.domain(ctx, slug, waiting.Hostname); d.Verified {
		t.Error("a domain checked moments ago was checked again at once")
	}
	if err := admin(t, `UPDATE control.tenant_domains SET checked_at = now() - interval '6 minutes' WHERE hostname = $1 RETURNING hostname`, waiting.Hostname).Scan(&touched); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.VerifyPending(ctx); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.domain(ctx, slug, waiting.Hostname); !d.Verified {
		t.Errorf("a due domain whose record appeared is still unverified: %+v", d)
	}
}
