package tenants

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/certcache"
	"switchboard/platform/fault"
)

// ChallengePrefix is the label in front of a custom domain where its
// ownership TXT record lives: _switchboard-challenge.<host>.
const ChallengePrefix = "_switchboard-challenge."

// maxDomains bounds one tenant's hostnames; a portal needs a handful.
const maxDomains = 50

// defaultLookupTimeout bounds one verification lookup, retries included.
const defaultLookupTimeout = 5 * time.Second

// ErrUnverified means a domain's ownership check failed: the TXT record is
// missing, holds another value, or DNS did not answer. The domain is kept,
// unverified, with the reason recorded.
var ErrUnverified = errors.New("domain not verified")

// TXTResolver looks up TXT records. *net.Resolver satisfies it.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// DNSResolver returns the resolver verification uses: the system resolver
// when addr is empty, otherwise the DNS server at addr (HOST:PORT), asked
// over UDP with TCP fallback like any stub resolver.
func DNSResolver(addr string) TXTResolver {
	if addr == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{
		PreferGo: true, // the cgo resolver would ignore Dial and ask the system's servers
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

// ChallengeName is the DNS name whose TXT record proves ownership of the domain.
func (d Domain) ChallengeName() string { return ChallengePrefix + d.Hostname }

// AddDomain adds host to the tenant's portal hostnames, unverified, with a
// fresh token; it routes only once VerifyDomain has found the token in DNS.
// The tenant's first domain becomes its primary one.
func (s *Service) AddDomain(ctx context.Context, slug, host string) (Domain, error) {
	return s.addDomain(ctx, slug, host, false)
}

// TrustDomain adds host as already verified, without asking DNS. It exists
// for the demo (*.localhost names that no DNS can prove) and tests; neither
// the console nor the CLI reaches it.
func (s *Service) TrustDomain(ctx context.Context, slug, host string) (Domain, error) {
	return s.addDomain(ctx, slug, host, true)
}

func (s *Service) addDomain(ctx context.Context, slug, host string, trusted bool) (Domain, error) {
	h, err := s.checkHost(host)
	if err != nil {
		return Domain{}, err
	}
	token, err := newVerifyToken()
	if err != nil {
		return Domain{}, err
	}
	var d Domain
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := lockTenant(tx, slug)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT count(*) FROM control.tenant_domains WHERE tenant_id = ?`, t.ID).Scan(&n).Error; err != nil {
			return fmt.Errorf("counting domains: %w", err)
		}
		if n >= maxDomains {
			return invalid("client %q already has %d domains, the most allowed", slug, maxDomains)
		}
		if err := insertDomain(tx, t.ID, h, token, n == 0, trusted); err != nil {
			return err
		}
		summary := h + " added, awaiting TXT " + ChallengePrefix + h
		if trusted {
			summary = h + " added as verified without a DNS check"
		}
		if err := audit.RecordPlatform(ctx, tx, "domain.added", slug, summary); err != nil {
			return err
		}
		return tx.Where("hostname = ?", h).Take(&d).Error
	})
	if err != nil {
		return Domain{}, s.hostConflict(ctx, err, slug, h)
	}
	s.log.InfoContext(ctx, "domain added", "tenant", slug, "host", h, "verified", trusted)
	return d, nil
}

// insertDomain writes a domain row; a taken hostname is the caller's to explain.
func insertDomain(tx *gorm.DB, tenantID int64, host, token string, primary, verified bool) error {
	err := tx.Exec(`INSERT INTO control.tenant_domains (hostname, tenant_id, is_primary, verified, verified_at, verify_token)
		VALUES (?, ?, ?, ?, CASE WHEN ? THEN now() END, ?)`, host, tenantID, primary, verified, verified, token).Error
	if err != nil {
		return fmt.Errorf("adding domain %s: %w", host, err)
	}
	return nil
}

// hostConflict turns a unique violation on the hostname into ErrConflict
// saying whether this tenant already has it, without naming another tenant.
func (s *Service) hostConflict(ctx context.Context, err error, slug, host string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" || pgErr.ConstraintName != "tenant_domains_pkey" {
		return err
	}
	var owner string
	_ = s.root(ctx).Raw(`SELECT t.slug FROM control.tenant_domains d JOIN control.tenants t ON t.id = d.tenant_id
		WHERE d.hostname = ?`, host).Scan(&owner).Error
	if owner == slug {
		return fault.Newf(ErrConflict, "hostname %q is already a domain of %s", host, slug)
	}
	return fault.Newf(ErrConflict, "hostname %q belongs to another tenant", host)
}

// VerifyDomain looks up the TXT record at _switchboard-challenge.<host> and,
// if one of its values is the domain's token, marks the domain verified so
// the portal answers on it. Either way the check's time and outcome are
// recorded; a failed check returns the domain and an error wrapping
// ErrUnverified that says what DNS has and what it should have. A failed
// re-check leaves an already verified domain verified: a DNS hiccup must not
// take a client's portal down (remove the domain for that).
func (s *Service) VerifyDomain(ctx context.Context, slug, host string) (Domain, error) {
	d, err := s.domain(ctx, slug, host)
	if err != nil {
		return Domain{}, err
	}
	return s.recordCheck(ctx, slug, d, s.checkTXT(ctx, d), true)
}

// recordCheck writes the outcome of a TXT check: verified, or the reason it
// is not. A verification is always audited; a failure only when staff asked
// (the automatic re-checks of VerifyPending would fill the log otherwise).
func (s *Service) recordCheck(ctx context.Context, slug string, d Domain, checkErr error, auditFailure bool) (Domain, error) {
	var d2 Domain
	err := s.root(ctx).Transaction(func(tx *gorm.DB) error {
		var res *gorm.DB
		action, summary := "domain.verified", d.Hostname+" verified by TXT "+d.ChallengeName()
		if isLocalhost(d.Hostname) {
			summary = d.Hostname + " verified without DNS (a *.localhost name, in development)"
		}
		if checkErr == nil {
			res = tx.Exec(`UPDATE control.tenant_domains SET verified = true, verified_at = coalesce(verified_at, now()),
				checked_at = now(), check_error = NULL WHERE hostname = ? AND tenant_id = ?`, d.Hostname, d.TenantID)
		} else {
			action, summary = "domain.check_failed", d.Hostname+": "+checkErr.Error()
			res = tx.Exec(`UPDATE control.tenant_domains SET checked_at = now(), check_error = left(?, 1000)
				WHERE hostname = ? AND tenant_id = ?`, checkErr.Error(), d.Hostname, d.TenantID)
		}
		if res.Error != nil {
			return fmt.Errorf("recording the check of %s: %w", d.Hostname, res.Error)
		}
		if res.RowsAffected == 0 { // removed while DNS was asked
			return noDomain(slug, d.Hostname)
		}
		if checkErr == nil || auditFailure {
			if err := audit.RecordPlatform(ctx, tx, action, slug, summary); err != nil {
				return err
			}
		}
		return tx.Where("hostname = ?", d.Hostname).Take(&d2).Error
	})
	if err != nil {
		return Domain{}, err
	}
	s.log.InfoContext(ctx, "domain checked", "tenant", slug, "host", d.Hostname, "verified", checkErr == nil)
	if checkErr != nil {
		return d2, fmt.Errorf("%w: %w", ErrUnverified, checkErr)
	}
	return d2, nil
}

// checkTXT asks DNS for the domain's challenge record and says, in words an
// operator can act on, what is wrong with it.
func (s *Service) checkTXT(ctx context.Context, d Domain) error {
	if isLocalhost(d.Hostname) {
		return s.checkLocalhost(d)
	}
	name := d.ChallengeName()
	ctx, cancel := context.WithTimeout(ctx, s.lookupTimeout)
	defer cancel()
	values, err := s.dns.LookupTXT(ctx, name+".") // rooted: no search-list suffixes
	var dnsErr *net.DNSError
	switch {
	case err == nil:
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("no TXT record at %s: create one holding %q", name, d.VerifyToken)
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout, errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("DNS lookup of %s timed out after %s; try again later", name, s.lookupTimeout)
	case errors.As(err, &dnsErr):
		// dnsErr.Error() names the server from resolv.conf even when
		// dns.resolver redirects the query; its Err says what happened.
		return fmt.Errorf("DNS lookup of %s failed: %s", name, dnsErr.Err)
	default:
		return fmt.Errorf("DNS lookup of %s failed: %v", name, err)
	}
	for _, v := range values {
		if strings.TrimSpace(v) == d.VerifyToken {
			return nil
		}
	}
	if len(values) == 0 {
		return fmt.Errorf("no TXT record at %s: create one holding %q", name, d.VerifyToken)
	}
	shown := make([]string, 0, 3)
	for i, v := range values {
		if i == 3 {
			shown = append(shown, "…")
			break
		}
		if len(v) > 80 {
			v = v[:80] + "…"
		}
		shown = append(shown, fmt.Sprintf("%q", v))
	}
	return fmt.Errorf("TXT record at %s holds %s, not the expected %q", name, strings.Join(shown, ", "), d.VerifyToken)
}

// RemoveDomain deletes one of the tenant's hostnames and, in the same
// transaction, its stored certificates, so no replica serves or renews them.
// The table's trigger tells every replica, so the portal stops answering on
// it at once.
func (s *Service) RemoveDomain(ctx context.Context, slug, host string) error {
	h, err := NormalizeHostname(host)
	if err != nil {
		return err
	}
	return s.root(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := lockTenant(tx, slug)
		if err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM control.tenant_domains WHERE hostname = ? AND tenant_id = ?`, h, t.ID)
		if res.Error != nil {
			return fmt.Errorf("removing domain %s: %w", h, res.Error)
		}
		if res.RowsAffected == 0 {
			return noDomain(slug, h)
		}
		if err := certcache.New(tx).ForgetHost(ctx, h); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "domain.removed", slug, h+" removed")
	})
}

// SetPrimary makes host the tenant's primary domain (the one links to the
// portal use).
func (s *Service) SetPrimary(ctx context.Context, slug, host string) error {
	h, err := NormalizeHostname(host)
	if err != nil {
		return err
	}
	return s.root(ctx).Transaction(func(tx *gorm.DB) error {
		t, err := lockTenant(tx, slug)
		if err != nil {
			return err
		}
		var n int64
		if err := tx.Raw(`SELECT count(*) FROM control.tenant_domains WHERE hostname = ? AND tenant_id = ?`, h, t.ID).Scan(&n).Error; err != nil {
			return fmt.Errorf("reading domain %s: %w", h, err)
		}
		if n == 0 {
			return noDomain(slug, h)
		}
		// Two statements: the partial unique index allows one primary at a time.
		if err := tx.Exec(`UPDATE control.tenant_domains SET is_primary = false WHERE tenant_id = ? AND is_primary AND hostname <> ?`, t.ID, h).Error; err != nil {
			return fmt.Errorf("setting primary domain: %w", err)
		}
		if err := tx.Exec(`UPDATE control.tenant_domains SET is_primary = true WHERE hostname = ?`, h).Error; err != nil {
			return fmt.Errorf("setting primary domain: %w", err)
		}
		return audit.RecordPlatform(ctx, tx, "domain.primary_set", slug, h+" is the primary domain")
	})
}

// ListDomains returns the tenant's hostnames, primary first.
func (s *Service) ListDomains(ctx context.Context, slug string) ([]Domain, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return nil, err
	}
	var list []Domain
	if err := s.root(ctx).Where("tenant_id = ?", t.ID).Order("is_primary DESC, hostname").Find(&list).Error; err != nil {
		return nil, fmt.Errorf("listing domains of %q: %w", slug, err)
	}
	return list, nil
}

// domain returns one of the tenant's domains.
func (s *Service) domain(ctx context.Context, slug, host string) (Domain, error) {
	h, err := NormalizeHostname(host)
	if err != nil {
		return Domain{}, err
	}
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Domain{}, err
	}
	for _, d := range t.Domains {
		if d.Hostname == h {
			return d, nil
		}
	}
	return Domain{}, noDomain(slug, h)
}

// checkHost normalises a hostname and refuses the console's own hosts, which
// must never be handed to a client's portal.
func (s *Service) checkHost(host string) (string, error) {
	h, err := NormalizeHostname(host)
	if err != nil {
		return "", err
	}
	if s.consoleHosts[h] {
		return "", invalid("hostname %q is the staff console's own host", h)
	}
	return h, nil
}

// lockTenant reads the tenant for a domain change and holds its row until
// the transaction ends, so domain changes of one tenant happen one at a time
// (the primary flag and the domain count stay right) and the tenant cannot
// be deleted underneath.
func lockTenant(tx *gorm.DB, slug string) (Tenant, error) {
	var t Tenant
	err := tx.Raw(`SELECT id, slug FROM control.tenants WHERE slug = ? FOR NO KEY UPDATE`, slug).Scan(&t).Error
	if err != nil {
		return Tenant{}, fmt.Errorf("reading tenant %q: %w", slug, err)
	}
	if t.ID == 0 {
		return Tenant{}, fault.Newf(ErrNotFound, "%q", slug)
	}
	return t, nil
}

// noDomainError is ErrNotFound for a hostname, worded for it (ErrNotFound's
// own text speaks of tenants).
type noDomainError struct{ slug, host string }

func (e noDomainError) Error() string { return fmt.Sprintf("%s has no domain %q", e.slug, e.host) }
func (e noDomainError) Unwrap() error { return ErrNotFound }

func noDomain(slug, host string) error { return noDomainError{slug, host} }

// newVerifyToken returns 128 random bits as 32 hex digits: unguessable, and
// plain enough to paste into any DNS provider's TXT field.
func newVerifyToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating domain token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
