package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"switchboard/modules/identity"
	"switchboard/platform/tenancy"
)

// Portal load: how fast a signed-in client user's overview page answers.
// Every request resolves the host, loads the session from the client's
// schema, reads the brand and fans out to alerts, endpoints and the SLA
// report, so it is the heaviest page a client sees.
const (
	portalBenchTenants  = 50 // clients whose users sign in (argon2id costs ~50 ms per sign-in)
	portalBenchPassword = "bench-portal-password-1"
)

// benchPortal signs one user in on each of a few clients' portal hosts
// through the real login form, then loads their overview pages.
func benchPortal(ctx context.Context, b *benchEnv, base string, opts benchOptions, t *benchTable, stderr io.Writer) error {
	total := min(opts.loadRequests/5, 5000)
	if total == 0 {
		return nil
	}
	list, err := b.load.tenants.List(ctx)
	if err != nil {
		return err
	}
	list = list[:min(len(list), portalBenchTenants)]
	fmt.Fprintf(stderr, "bench: portal overview load, %d requests over %d clients' hosts\n", total, len(list))
	type visitor struct{ host, cookie string }
	visitors := make([]visitor, 0, len(list))
	for _, tn := range list {
		host := tn.Slug + ".portal.bench.test"
		if _, err := b.load.tenants.TrustDomain(ctx, tn.Slug, host); err != nil {
			return fmt.Errorf("portal bench: %w", err)
		}
		email := "user@" + tn.Slug + ".example"
		if _, _, err := b.load.identity.CreateClientUser(ctx, b.load.tenants.Scope(tn), identity.ClientInput{Email: email, Role: identity.RoleClientUser, Password: portalBenchPassword}); err != nil {
			return fmt.Errorf("portal bench: %w", err)
		}
		cookie, err := portalSignIn(ctx, base, host, email)
		if err != nil {
			return fmt.Errorf("portal bench: signing in on %s: %w", host, err)
		}
		visitors = append(visitors, visitor{host, cookie})
	}
	overview := func(ctx context.Context, r *rand.Rand) *http.Request {
		v := visitors[r.IntN(len(visitors))]
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/", nil)
		req.Host = v.host
		req.Header.Set("Accept", "text/html")
		req.Header.Set("Cookie", v.cookie)
		return req
	}
	waits := cellWaits(b.load.cluster)
	lat, failed, elapsed, err := runLoad(ctx, total, min(opts.loadConcurrency, 16), overview)
	if err != nil {
		return err
	}
	waits = cellWaits(b.load.cluster).minus(waits)
	t.info(fmt.Sprintf("portal overview pages over %d clients", len(visitors)), fmt.Sprintf("%.0f /s (%d requests, %d failed)", float64(len(lat))/elapsed.Seconds(), len(lat), failed))
	t.info("portal overview latency p50", fmtDuration(percentile(lat, 0.50)))
	t.info("portal overview latency p99", fmtDuration(percentile(lat, 0.99)))
	t.info("portal overview: waits for a cell connection", fmt.Sprintf("%d, %s in all", waits.count, waits.total.Round(time.Millisecond)))
	return nil
}

// poolWaits is how often, and how long in all, work waited for a cell
// connection: a pool too small for the load shows here first.
type poolWaits struct {
	count int64
	total time.Duration
}

func (w poolWaits) minus(o poolWaits) poolWaits {
	return poolWaits{w.count - o.count, w.total - o.total}
}

// cellWaits sums the waits of every cell pool opened so far.
func cellWaits(c *tenancy.Cluster) poolWaits {
	var w poolWaits
	for _, cell := range c.Cells() {
		st := cell.Stats()
		w.count += st.WaitCount
		w.total += st.WaitDuration
	}
	return w
}

// portalSignIn signs in through the portal's form as a browser would and
// returns the Cookie header of the new session.
func portalSignIn(ctx context.Context, base, host, email string) (string, error) {
	client := newFormClient()
	resp, err := signInByForm(ctx, client, base, host, url.Values{"email": {email}, "password": {portalBenchPassword}})
	if err != nil {
		return "", err
	}
	for _, c := range resp.Cookies() {
		if c.Name == "portal_session" && resp.StatusCode == http.StatusSeeOther {
			return "portal_session=" + c.Value, nil
		}
	}
	return "", fmt.Errorf("sign-in answered %d without a session", resp.StatusCode)
}
