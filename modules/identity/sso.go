package identity

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/labstack/echo/v4"
	"golang.org/x/oauth2"

	"switchboard/platform/fault"
)

// Single sign-on with OpenID Connect, shared by the console (staff, one
// identity provider from the configuration) and every portal (each client's
// own provider, from its schema): the authorization code flow with PKCE,
// state and nonce kept in the visitor's pre-sign-in session and used once,
// and an ID token verified for the issuer and audience of the relying party
// the callback's host names — never of the one the flow claims to be for.

// SSOOptions configures single sign-on; the zero value is staff SSO off and
// portal SSO with https issuers on public networks only.
type SSOOptions struct {
	Staff StaffSSOConfig
	// SecretKey (32 bytes) encrypts portal client secrets at rest; nil:
	// they are stored as given.
	SecretKey []byte
	// MFAMethods are the amr values that count as a second factor at the IdP.
	MFAMethods []string
	// AllowInsecureIssuers accepts http:// issuers and providers on loopback
	// or private networks (tests and labs).
	AllowInsecureIssuers bool
	// HTTPS makes redirect URLs derived from a request's host https://.
	HTTPS bool
	// Now is the verifier's clock (nil: time.Now); tests move it to see
	// expired tokens refused without waiting.
	Now func() time.Time
}

// StaffSSOConfig is the console's relying party at the MSP's identity provider.
type StaffSSOConfig struct {
	Issuer, ClientID, ClientSecret string
	ConsoleURL                     string // empty: the request's scheme and console host
	Label                          string // "Sign in with <Label>"
	RoleClaim                      string
	Roles                          map[string]string // claim value → owner, admin or technician
	GrantClaim                     string
	Grants                         map[string][]string // claim value → client slugs ("*": all)
	CreateUsers                    bool                // just-in-time staff users
	DisablePassword                bool                // no password sign-in once signed in with SSO
}

// WithSSO configures single sign-on.
func WithSSO(o SSOOptions) Option { return func(s *Service) { s.sso = newSSORuntime(o) } }

// ssoRuntime is SSOOptions plus what single sign-on keeps between requests:
// the providers' discovery documents (and with them their signing keys).
type ssoRuntime struct {
	opts SSOOptions
	now  func() time.Time
	// guarded calls the providers client admins name (no loopback or
	// private addresses unless allowed); trusted calls the staff provider
	// of the configuration, which may well be on the MSP's own network.
	guarded, trusted *http.Client

	mu        sync.Mutex
	providers map[string]cachedProvider
}

type cachedProvider struct {
	p  *oidc.Provider
	at time.Time
}

// providerTTL is how long a discovery document is trusted before it is
// fetched again (key rotation is handled by go-oidc on an unknown key id).
const providerTTL = 10 * time.Minute

func newSSORuntime(o SSOOptions) *ssoRuntime {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	if len(o.MFAMethods) == 0 {
		o.MFAMethods = []string{"mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm", "pin"}
	}
	return &ssoRuntime{opts: o, now: now, guarded: idpClient(o.AllowInsecureIssuers), trusted: idpClient(true), providers: map[string]cachedProvider{}}
}

// errIdPAddress is an identity provider on a network the server may not call.
var errIdPAddress = errors.New("the identity provider's address is loopback, private or link-local (sso.allow_insecure_issuers)")

// idpClient is the HTTP client for discovery, keys and the token endpoint.
// Issuers come from client admins, so unless insecure issuers are allowed
// it refuses loopback, private and link-local addresses after resolution,
// on the very address dialled, and never follows redirects.
func idpClient(allowPrivate bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	proxy := http.ProxyFromEnvironment
	if !allowPrivate {
		proxy = nil // a proxy would be dialled instead of the provider, past the check
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errIdPAddress, address)
			}
			ip := ap.Addr().Unmap()
			if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
				return fmt.Errorf("%w: %s", errIdPAddress, ip)
			}
			return nil
		}
	}
	return &http.Client{
		Timeout:       10 * time.Second,
		Transport:     &http.Transport{Proxy: proxy, DialContext: dialer.DialContext, TLSHandshakeTimeout: 5 * time.Second},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// clientFor is the HTTP client for the provider of rp.
func (r *ssoRuntime) clientFor(rp relyingParty) *http.Client {
	if rp.tenantID == 0 && rp.issuer == r.opts.Staff.Issuer {
		return r.trusted
	}
	return r.guarded
}

// provider returns the discovered provider of rp's issuer, cached for
// providerTTL (per issuer and client: a client admin naming the staff
// provider's issuer still reaches it through the guarded client).
func (r *ssoRuntime) provider(ctx context.Context, rp relyingParty) (*oidc.Provider, error) {
	client := r.clientFor(rp)
	cacheKey := rp.issuer
	if client == r.trusted {
		cacheKey = "trusted " + rp.issuer
	}
	r.mu.Lock()
	c, ok := r.providers[cacheKey]
	r.mu.Unlock()
	if ok && time.Since(c.at) < providerTTL {
		return c.p, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), rp.issuer)
	if err != nil {
		return nil, fault.Newf(fault.Unavailable, "the identity provider %s does not answer OpenID Connect discovery (%v)", rp.issuer, unwrapURLError(err))
	}
	r.mu.Lock()
	for k, old := range r.providers { // forget the stale ones: issuers come and go with clients
		if time.Since(old.at) >= providerTTL {
			delete(r.providers, k)
		}
	}
	r.providers[cacheKey] = cachedProvider{p: p, at: time.Now()}
	r.mu.Unlock()
	return p, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// checkIssuerURL accepts an https:// issuer (http:// when insecure issuers
// are allowed) with no query, fragment or credentials.
func (r *ssoRuntime) checkIssuerURL(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		(u.Scheme != "https" && !(r.opts.AllowInsecureIssuers && u.Scheme == "http")) {
		return invalid("the issuer must be an https:// URL like https://login.microsoftonline.com/<tenant>/v2.0, not %q", issuer)
	}
	return nil
}

// relyingParty is one client registration at one identity provider: the
// console's, or one client's portal's.
type relyingParty struct {
	issuer, clientID, clientSecret string
	tenantID                       int64 // 0: the console
}

// ssoFlow is a sign-in in progress, kept in the visitor's session between
// the redirect to the provider and the callback, and removed at the callback
// whatever its outcome: state, nonce and PKCE verifier are used once.
type ssoFlow struct {
	State    string `json:"state"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	Redirect string `json:"redirect"` // the redirect_uri sent, sent again at the token endpoint
	Next     string `json:"next"`     // where to go after sign-in (already made local)
	Issuer   string `json:"issuer"`
	ClientID string `json:"client_id"`
	TenantID int64  `json:"tenant_id"`
	Started  int64  `json:"started"` // unix seconds
}

const (
	ssoFlowKey = "sso_flow"
	// ssoFlowTTL bounds how long a visitor may stay at the provider.
	ssoFlowTTL = 10 * time.Minute
	// mfaByIdPKey records in a session that the provider vouched for a
	// second factor at this sign-in (its amr claim).
	mfaByIdPKey = "mfa_idp"
	// signInMethodKey is "sso" on a session signed in with single sign-on;
	// ssoStartedKey is that sign-in's startedKey, so that a later sign-in
	// in the same browser session does not inherit either flag.
	signInMethodKey = "sign_in_method"
	ssoStartedKey   = "sso_started"
)

// ErrSSO is a single sign-on refused because of what the browser or the
// provider sent (400 with the reason).
var ErrSSO = fault.Kind(fault.Invalid, "single sign-on refused")

// ErrSSOAccount is a sign-in the provider vouched for but this site refuses
// (no such user here, disabled, no role): 403 with the reason.
var ErrSSOAccount = fault.Kind(fault.Forbidden, "no access")

func ssoRefused(format string, args ...any) error { return fault.Newf(ErrSSO, format, args...) }

// beginSSO stores a new flow in the session and returns the provider's
// authorization URL (code flow, PKCE S256, state, nonce).
func (s *Service) beginSSO(ctx context.Context, sm *scs.SessionManager, rp relyingParty, redirectURL, next string) (string, error) {
	p, err := s.sso.provider(ctx, rp)
	if err != nil {
		return "", err
	}
	f := ssoFlow{State: newSecret(), Nonce: newSecret(), Verifier: oauth2.GenerateVerifier(), Redirect: redirectURL,
		Next: next, Issuer: rp.issuer, ClientID: rp.clientID, TenantID: rp.tenantID, Started: time.Now().Unix()}
	b, err := json.Marshal(f)
	if err != nil {
		return "", fmt.Errorf("keeping the sign-in flow: %w", err)
	}
	sm.Put(ctx, ssoFlowKey, string(b))
	cfg := oauth2Config(p, rp, redirectURL)
	return cfg.AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oidc.Nonce(f.Nonce)), nil
}

func oauth2Config(p *oidc.Provider, rp relyingParty, redirectURL string) oauth2.Config {
	return oauth2.Config{ClientID: rp.clientID, ClientSecret: rp.clientSecret, Endpoint: p.Endpoint(), RedirectURL: redirectURL,
		Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// ssoIdentity is who the provider says signed in, from a verified ID token.
type ssoIdentity struct {
	Issuer, Subject string
	Email           string
	EmailVerified   bool
	AMR             []string
	Claims          map[string]any
	Next            string
}

// providerErrorCode is the shape of an OAuth error code worth repeating to
// the visitor; its free-text description is never shown (a link could make
// this site say anything).
var providerErrorCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// finishSSO completes a flow at the callback. The flow is taken out of the
// session first, so a replayed callback finds none. rpNow is the relying
// party of the surface the callback arrived on (the console's, or the
// portal's of the host's client): the ID token must be issued by its issuer
// for its client id, whatever the flow recorded. Every refusal is ErrSSO.
func (s *Service) finishSSO(c echo.Context, sm *scs.SessionManager, rpNow relyingParty) (ssoIdentity, error) {
	ctx := c.Request().Context()
	raw := sm.PopString(ctx, ssoFlowKey)
	q := c.Request().URL.Query()
	var f ssoFlow
	if raw == "" || json.Unmarshal([]byte(raw), &f) != nil || q.Get("state") == "" ||
		subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		return ssoIdentity{}, ssoRefused("This sign-in is unknown here, was already used, or belongs to another browser. Start again from the sign-in page.")
	}
	if time.Since(time.Unix(f.Started, 0)) > ssoFlowTTL {
		return ssoIdentity{}, ssoRefused("This sign-in took too long. Start again from the sign-in page.")
	}
	if code := q.Get("error"); code != "" {
		if !providerErrorCode.MatchString(code) {
			code = "error"
		}
		return ssoIdentity{}, ssoRefused("The identity provider did not sign you in (%s).", code)
	}
	if f.TenantID != rpNow.tenantID || f.Issuer != rpNow.issuer || f.ClientID != rpNow.clientID {
		return ssoIdentity{}, ssoRefused("This sign-in was started for another site or another configuration. Start again from the sign-in page.")
	}
	code := q.Get("code")
	if code == "" {
		return ssoIdentity{}, ssoRefused("The identity provider sent no authorization code.")
	}
	p, err := s.sso.provider(ctx, rpNow)
	if err != nil {
		return ssoIdentity{}, err
	}
	cfg := oauth2Config(p, rpNow, f.Redirect)
	tok, err := cfg.Exchange(oidc.ClientContext(ctx, s.sso.clientFor(rpNow)), code, oauth2.VerifierOption(f.Verifier))
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		reason := re.ErrorCode
		if !providerErrorCode.MatchString(reason) {
			reason = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		return ssoIdentity{}, ssoRefused("The identity provider did not accept this sign-in (%s). Start again from the sign-in page.", reason)
	case err != nil:
		return ssoIdentity{}, fault.Newf(fault.Unavailable, "the identity provider's token endpoint did not answer (%v)", unwrapURLError(err))
	}
	rawID, _ := tok.Extra("id_token").(string)
	if rawID == "" {
		return ssoIdentity{}, ssoRefused("The identity provider sent no ID token.")
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: rpNow.clientID, Now: s.sso.now}).Verify(ctx, rawID)
	if err != nil {
		s.log.WarnContext(ctx, "single sign-on: ID token refused", "issuer", rpNow.issuer, "tenant", rpNow.tenantID, "err", err)
		return ssoIdentity{}, ssoRefused("%s", verifyReason(err))
	}
	if idt.Nonce == "" || subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		s.log.WarnContext(ctx, "single sign-on: ID token of another sign-in (nonce)", "issuer", rpNow.issuer, "tenant", rpNow.tenantID)
		return ssoIdentity{}, ssoRefused("The identity provider's token belongs to another sign-in (nonce). Start again from the sign-in page.")
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return ssoIdentity{}, ssoRefused("The identity provider's token could not be read.")
	}
	id := ssoIdentity{Issuer: idt.Issuer, Subject: idt.Subject, Claims: claims, Next: f.Next, AMR: claimValues(claims, "amr")}
	id.Email, _ = claims["email"].(string)
	switch v := claims["email_verified"].(type) {
	case bool:
		id.EmailVerified = v
	case string: // some providers send "true"
		id.EmailVerified = v == "true"
	}
	if id.Subject == "" {
		return ssoIdentity{}, ssoRefused("The identity provider's token names nobody (no subject).")
	}
	return id, nil
}

// verifyReason says in plain words why an ID token was refused.
func verifyReason(err error) string {
	var expired *oidc.TokenExpiredError
	msg := err.Error()
	switch {
	case errors.As(err, &expired):
		return "The identity provider's token has expired. Start again from the sign-in page."
	case strings.Contains(msg, "issued by a different provider"):
		return "The token was issued by another identity provider than the one configured here."
	case strings.Contains(msg, "expected audience"):
		return "The token was issued for another application than this site."
	case strings.Contains(msg, "before the nbf"):
		return "The identity provider's token is not valid yet."
	default:
		return "The identity provider's token could not be verified."
	}
}

// claimValues reads a claim that is a string or a list of strings.
func claimValues(claims map[string]any, name string) []string {
	switch v := claims[name].(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// mfaDoneAtIdP reports whether the provider's amr names a second factor.
func (r *ssoRuntime) mfaDoneAtIdP(amr []string) bool {
	for _, m := range amr {
		if slices.Contains(r.opts.MFAMethods, m) {
			return true
		}
	}
	return false
}

// recordSSOSignIn notes on the freshly started session that it signed in
// with SSO and whether the provider did a second factor. When it did, the
// session has proved a second factor (MarkSecondFactor): the MFA
// requirement is met at the provider. When it did not, a staff user who has
// factors here still owes one (the second-factor step of sign-in), and one
// whose role requires a factor and who has none is sent to enrol.
func recordSSOSignIn(ctx context.Context, sm *scs.SessionManager, mfa bool) {
	sm.Put(ctx, signInMethodKey, "sso")
	sm.Put(ctx, ssoStartedKey, sm.GetInt64(ctx, startedKey))
	sm.Put(ctx, mfaByIdPKey, mfa)
	if mfa {
		MarkSecondFactor(ctx, sm)
	} else {
		sm.Remove(ctx, mfaVerifiedKey) // nothing proved earlier in this browser's session counts for this sign-in
	}
}

// MFAByIdP reports whether the current session signed in with single
// sign-on and the identity provider reported a second factor (amr, RFC
// 8176, one of sso.mfa_methods); such a session counts as having passed its
// second factor.
func MFAByIdP(ctx context.Context, sm *scs.SessionManager) bool {
	return sm.GetString(ctx, signInMethodKey) == "sso" && sm.GetInt64(ctx, ssoStartedKey) == sm.GetInt64(ctx, startedKey) &&
		sm.GetBool(ctx, mfaByIdPKey)
}

// redirectURL is base (a configured URL, or empty for the request's own
// scheme and host, which resolution has already checked is a console host
// or a verified domain of the client) followed by the callback path.
func (s *Service) redirectURL(c echo.Context, base string) string {
	if base != "" {
		return strings.TrimSuffix(base, "/") + SSOCallbackPath
	}
	scheme := "http"
	if s.sso.opts.HTTPS || c.Request().TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + c.Request().Host + SSOCallbackPath
}

// SSO paths, on the console and on every portal.
const (
	SSOStartPath    = "/login/sso"
	SSOCallbackPath = "/login/sso/callback"
)

// newSecret is 256 random bits, URL-safe.
func newSecret() string {
	return oauth2.GenerateVerifier() // 32 random bytes, base64url: what a state or nonce needs too
}
