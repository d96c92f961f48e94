// Package oidctest runs a real OpenID Connect provider (the OP of
// github.com/zitadel/oidc/v3) on a loopback port for tests: discovery,
// keys, an authorization endpoint with a small username and password form,
// the token endpoint (authorization code with PKCE) and userinfo. Tests
// register clients and users, and can make the provider misbehave on
// purpose for one token answer: claims changed and re-signed with its own
// key (another audience, another issuer), or the previous ID token sent
// again (a replayed nonce).
package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account at the provider.
type User struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Password      string
	AMR           []string       // how the user authenticated, e.g. {"pwd", "otp"}
	Claims        map[string]any // more ID token claims, e.g. "groups"
}

// Client is an application registered at the provider (a confidential web
// client: secret by HTTP Basic or form post, authorization code flow).
type Client struct {
	ID, Secret   string
	RedirectURIs []string
}

// Provider is a running OpenID provider; it stops when the test ends.
type Provider struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:<port>.
	Issuer string

	op      *op.Provider
	storage *storage
	login   *template.Template

	mu           sync.Mutex
	tamper       func(claims map[string]any) // applied to the next token answer's ID token
	replay       bool                        // the next token answer carries the previous ID token
	previousID   string
	lastCallback string
}

// New starts a provider on a free loopback port.
func New(t testing.TB) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{Issuer: "http://" + ln.Addr().String(), login: loginPage,
		storage: &storage{clients: map[string]*client{}, users: map[string]*User{}, requests: map[string]*authRequest{}, codes: map[string]string{},
			tokens: map[string]*token{}, key: key, keyID: "k" + strconv.FormatInt(time.Now().UnixNano(), 36)}}
	cfg := &op.Config{
		CryptoKey:                sha256.Sum256([]byte(p.Issuer)),
		DefaultLogoutRedirectURI: "/",
		CodeMethodS256:           true,
		AuthMethodPost:           true,
		SupportedUILocales:       []language.Tag{language.English},
	}
	p.op, err = op.NewProvider(cfg, p.storage, op.StaticIssuer(p.Issuer), op.WithAllowInsecure())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.loginForm)
	mux.HandleFunc("POST /login", p.checkLogin)
	mux.Handle("/", p.op)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: p.intercept(mux), ReadHeaderTimeout: 10 * time.Second}}
	srv.Start()
	t.Cleanup(srv.Close)
	return p
}

// AddClient registers (or replaces) a client.
func (p *Provider) AddClient(c Client) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.clients[c.ID] = &client{c}
}

// AddUser adds (or replaces) a user; Subject defaults to the e-mail address.
func (p *Provider) AddUser(u User) {
	if u.Subject == "" {
		u.Subject = u.Email
	}
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.users[u.Email] = &u
}

// TamperNextIDToken makes the next token answer carry an ID token whose
// claims f changed, signed again with the provider's own key: a token that
// is genuine in every respect but the ones f changed.
func (p *Provider) TamperNextIDToken(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tamper = f
}

// ReplayNextIDToken makes the next token answer carry the ID token of the
// answer before it (its nonce is that earlier sign-in's).
func (p *Provider) ReplayNextIDToken() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replay = true
}

// LastCallback is the last redirect the provider sent a browser back to a
// client with (redirect URI, code and state).
func (p *Provider) LastCallback() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastCallback
}

// intercept records redirects back to clients and applies the token
// answer's requested misbehaviour.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if loc := rec.Header().Get("Location"); loc != "" && strings.Contains(loc, "code=") && p.storage.isRedirect(loc) {
			p.mu.Lock()
			p.lastCallback = loc
			p.mu.Unlock()
		}
		if r.Method == http.MethodPost && r.URL.Path == "/oauth/token" && rec.Code == http.StatusOK {
			var err error
			if body, err = p.misbehave(body); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		maps.Copy(w.Header(), rec.Header())
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	})
}

func (p *Provider) misbehave(body []byte) ([]byte, error) {
	var answer map[string]any
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, err
	}
	idToken, _ := answer["id_token"].(string)
	p.mu.Lock()
	defer p.mu.Unlock()
	previous := p.previousID
	p.previousID = idToken
	switch {
	case p.replay && previous != "":
		p.replay = false
		answer["id_token"] = previous
	case p.tamper != nil:
		f := p.tamper
		p.tamper = nil
		signed, err := jose.ParseSignedCompact(idToken, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil {
			return nil, err
		}
		var claims map[string]any
		if err := json.Unmarshal(signed.UnsafePayloadWithoutVerification(), &claims); err != nil {
			return nil, err
		}
		f(claims)
		if answer["id_token"], err = p.storage.sign(claims); err != nil {
			return nil, err
		}
	default:
		return body, nil
	}
	return json.Marshal(answer)
}

// loginPage is the provider's own sign-in form.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Test identity provider</title></head>
<body><h1>Test identity provider</h1>{{if .Error}}<p id="idp-error">{{.Error}}</p>{{end}}
<form method="post" action="/login"><input type="hidden" name="id" value="{{.ID}}">
<label>Username <input name="username" id="idp-username"></label>
<label>Password <input type="password" name="password" id="idp-password"></label>
<button type="submit" id="idp-submit">Continue</button></form></body></html>`))

func (p *Provider) loginForm(w http.ResponseWriter, r *http.Request) {
	_ = p.login.Execute(w, map[string]string{"ID": r.URL.Query().Get("authRequestID")})
}

func (p *Provider) checkLogin(w http.ResponseWriter, r *http.Request) {
	id := r.FormValue("id")
	if err := p.storage.authenticate(id, r.FormValue("username"), r.FormValue("password")); err != nil {
		w.WriteHeader(http.StatusUnauthorized)
		_ = p.login.Execute(w, map[string]string{"ID": id, "Error": err.Error()})
		return
	}
	http.Redirect(w, r, op.AuthCallbackURL(p.op)(r.Context(), id), http.StatusFound)
}

// storage is the provider's memory: clients, users, auth requests, codes
// and access tokens. It implements op.Storage.
type storage struct {
	mu       sync.Mutex
	clients  map[string]*client
	users    map[string]*User // by e-mail
	requests map[string]*authRequest
	codes    map[string]string // code → auth request id
	tokens   map[string]*token
	key      *rsa.PrivateKey
	keyID    string
}

var _ op.Storage = (*storage)(nil)

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func (s *storage) isRedirect(loc string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.clients {
		for _, uri := range c.Client.RedirectURIs {
			if strings.HasPrefix(loc, uri+"?") {
				return true
			}
		}
	}
	return false
}

func (s *storage) authenticate(requestID, username, password string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[requestID]
	if !ok {
		return errors.New("unknown sign-in request")
	}
	u, ok := s.users[username]
	if !ok || u.Password != password {
		return errors.New("wrong username or password")
	}
	req.user, req.done, req.authTime = u, true, time.Now()
	return nil
}

func (s *storage) sign(claims map[string]any) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key, KeyID: s.keyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

func (s *storage) CreateAuthRequest(_ context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req := &authRequest{id: newID(), r: *r}
	s.requests[req.id] = req
	return req, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	req, ok := s.requests[id]
	if !ok {
		return nil, errors.New("auth request not found")
	}
	return req, nil
}

func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	id, ok := s.codes[code]
	s.mu.Unlock()
	if !ok {
		return nil, errors.New("code invalid or already used")
	}
	return s.AuthRequestByID(ctx, id)
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest runs once the code was exchanged: the code is used up.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.requests, id)
	for code, rid := range s.codes {
		if rid == id {
			delete(s.codes, code)
		}
	}
	return nil
}

func (s *storage) CreateAccessToken(_ context.Context, r op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := &token{id: newID(), subject: r.GetSubject(), scopes: r.GetScopes(), expires: time.Now().Add(5 * time.Minute)}
	if req, ok := r.(*authRequest); ok {
		t.user = req.user
	}
	s.tokens[t.id] = t
	return t.id, t.expires, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error { return nil }

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("unknown client")
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[id]; !ok || c.Secret != secret {
		return errors.New("invalid client credentials")
	}
	return nil
}

func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest puts the user's e-mail, name and extra claims in
// the ID token.
func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, r op.IDTokenRequest, _ []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var u *User
	if req, ok := r.(*authRequest); ok {
		u = req.user
	}
	if u == nil {
		return errors.New("the sign-in has no user")
	}
	setUserinfo(info, u)
	return nil
}

func setUserinfo(info *oidc.UserInfo, u *User) {
	info.Subject = u.Subject
	info.Email = u.Email
	info.EmailVerified = oidc.Bool(u.EmailVerified)
	info.Name = u.Name
	for k, v := range u.Claims {
		info.AppendClaims(k, v)
	}
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok || t.user == nil || time.Now().After(t.expires) {
		return errors.New("token is not valid")
	}
	setUserinfo(info, t.user)
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// authRequest is one authorization request, done once the user signed in.
type authRequest struct {
	id       string
	r        oidc.AuthRequest
	user     *User
	done     bool
	authTime time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string  { return a.id }
func (a *authRequest) GetACR() string { return "" }
func (a *authRequest) GetAMR() []string {
	if a.user == nil || len(a.user.AMR) == 0 {
		return []string{"pwd"}
	}
	return a.user.AMR
}
func (a *authRequest) GetAudience() []string  { return []string{a.r.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.r.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	if a.r.CodeChallenge == "" {
		return nil
	}
	return &oidc.CodeChallenge{Challenge: a.r.CodeChallenge, Method: a.r.CodeChallengeMethod}
}
func (a *authRequest) GetNonce() string                   { return a.r.Nonce }
func (a *authRequest) GetRedirectURI() string             { return a.r.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.r.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.r.ResponseMode }
func (a *authRequest) GetScopes() []string                { return a.r.Scopes }
func (a *authRequest) GetState() string                   { return a.r.State }
func (a *authRequest) GetSubject() string {
	if a.user == nil {
		return ""
	}
	return a.user.Subject
}
func (a *authRequest) Done() bool { return a.done }

// token is an access token (for the userinfo endpoint).
type token struct {
	id, subject string
	scopes      []string
	user        *User
	expires     time.Time
}

// client implements op.Client for a Client.
type client struct{ Client }

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.ID }
func (c *client) RedirectURIs() []string           { return slices.Clone(c.Client.RedirectURIs) }
func (c *client) PostLogoutRedirectURIs() []string { return nil }
func (c *client) ApplicationType() op.ApplicationType {
	return op.ApplicationTypeWeb
}
func (c *client) AuthMethod() oidc.AuthMethod { return oidc.AuthMethodBasic }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c *client) LoginURL(id string) string           { return "/login?authRequestID=" + id }
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return time.Hour }
func (c *client) DevMode() bool                       { return true } // http:// redirect URIs on loopback
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) IsScopeAllowed(string) bool           { return false }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }
