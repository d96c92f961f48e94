package tenants

import (
	"context"
	"errors"
	"strings"
	"testing"

	"switchboard/platform/tenancy"
)

// refusingResolver fails the test if DNS is asked at all.
type refusingResolver struct{ t *testing.T }

func (r refusingResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	r.t.Errorf("DNS asked for %s; a *.localhost name must never be looked up", name)
	return nil, errors.New("no DNS here")
}

// TestVerifyLocalhost: in development a *.localhost hostname verifies
// without DNS and the portal answers on it; in production it is refused,
// with the reason, and does not route. DNS is never asked either way.
func TestVerifyLocalhost(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		trust   bool
		want    string // in the error; "" means verified
		summary string // of the audit entry
	}{
		{"development", true, "", "verified without DNS"},
		{"production", false, "only in development", "is a *.localhost name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := dnsService(t, nil, Options{TrustLocalhost: tc.trust, Resolver: refusingResolver{t}})
			slug := uniqueSlug("local")
			tn, err := s.Create(ctx, CreateInput{Slug: slug, Name: "Local"})
			if err != nil {
				t.Fatal(err)
			}
			host := slug + ".localhost"
			if _, err := s.AddDomain(ctx, slug, host); err != nil {
				t.Fatal(err)
			}
			d, err := s.VerifyDomain(ctx, slug, host)
			resolved, rerr := s.Directory().ByHost(ctx, host)
			if tc.want == "" {
				if err != nil || !d.Verified {
					t.Fatalf("VerifyDomain = %+v, %v; want verified", d, err)
				}
				if rerr != nil || resolved.ID != tn.ID {
					t.Errorf("ByHost(%s) = %+v, %v; want the tenant", host, resolved, rerr)
				}
			} else {
				if !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), tc.want) || d.Verified {
					t.Fatalf("VerifyDomain = %+v, %v; want ErrUnverified saying %q", d, err, tc.want)
				}
				if !errors.Is(rerr, tenancy.ErrUnknownTenant) {
					t.Errorf("ByHost(%s) = %+v, %v; want ErrUnknownTenant", host, resolved, rerr)
				}
			}
			var summary string
			if err := admin(t, `SELECT summary FROM control.audit_log WHERE target = $1 AND action LIKE 'domain.%' ORDER BY id DESC LIMIT 1`, slug).Scan(&summary); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(summary, tc.summary) {
				t.Errorf("audit summary %q, want it to say %q", summary, tc.summary)
			}
		})
	}
}
