// Package config loads Switchboard's settings with Viper: built-in defaults,
// then an optional YAML file, then SWITCHBOARD_* environment variables, then
// command-line flags (each overriding the one before).
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// Config is the whole configuration.
type Config struct {
	Database Database `mapstructure:"database"`
	Server   Server   `mapstructure:"server"`
	Log      Log      `mapstructure:"log"`
	Notify   Notify   `mapstructure:"notify"`
	DNS      DNS      `mapstructure:"dns"`
	ACME     ACME     `mapstructure:"acme"`
	Jobs     Jobs     `mapstructure:"jobs"`
	SSO      SSO      `mapstructure:"sso"`
	Security Security `mapstructure:"security"`
	Metrics  Metrics  `mapstructure:"metrics"`
	Limits   Limits   `mapstructure:"limits"`
}

// Metrics configures Prometheus /metrics: on a separate listen address
// (Addr), or on the main listener behind a bearer token (Token), or both.
// With neither, the main listener answers 404.
type Metrics struct {
	Addr  string `mapstructure:"addr"`  // e.g. 127.0.0.1:9090; empty: no listener of its own
	Token string `mapstructure:"token"` // required as "Authorization: Bearer <token>" wherever /metrics is served
	// TopTenants > 0 exports ingestion counts for that many noisiest
	// clients (one series each, the rest as "_other"); 0: no client labels.
	TopTenants int `mapstructure:"top_tenants"`
}

// Jobs configures background work.
type Jobs struct {
	// Timeout is the longest any background job may run. A job still marked
	// running a little after that was left by a process that died, and is
	// retried.
	Timeout time.Duration `mapstructure:"timeout"`
	// OutboxWorkers is how many tenants' outboxes one process drains at once.
	OutboxWorkers int `mapstructure:"outbox_workers"`
}

// SSO configures single sign-on with OpenID Connect: staff on the console
// through the MSP's own identity provider (Issuer empty: password only), and
// what every client's portal sign-on (configured per client, in its own
// schema) may do.
type SSO struct {
	Issuer       string `mapstructure:"issuer"`        // the IdP's issuer URL, as in its discovery document
	ClientID     string `mapstructure:"client_id"`     // the console's client at the IdP
	ClientSecret string `mapstructure:"client_secret"` // its secret
	// ConsoleURL is the console's URL as browsers reach it; the redirect
	// URL registered at the IdP is ConsoleURL + "/login/sso/callback".
	// Empty: the scheme and console host of the request.
	ConsoleURL string `mapstructure:"console_url"`
	Label      string `mapstructure:"label"` // the button says "Sign in with <label>"
	// RoleClaim names the ID token claim (a string or a list) that Roles
	// maps, each "VALUE=ROLE" (owner, admin or technician; the highest
	// matching role wins). Empty Roles: roles are managed in Switchboard
	// only and sign-in never changes them.
	RoleClaim string   `mapstructure:"role_claim"`
	Roles     []string `mapstructure:"roles"`
	// GrantClaim names the claim that Grants maps, each "VALUE=SLUG" (or
	// "VALUE=*" for every client): the clients a technician may work in.
	GrantClaim string   `mapstructure:"grant_claim"`
	Grants     []string `mapstructure:"grants"`
	// CreateUsers creates a staff user at the first sign-in of someone the
	// role mapping gives a role (just-in-time); off, only existing users
	// (matched by verified e-mail) can sign in.
	CreateUsers bool `mapstructure:"create_users"`
	// DisablePassword refuses password sign-in to staff users who have
	// signed in with SSO.
	DisablePassword bool `mapstructure:"disable_password"`
	// MFAMethods are the "amr" values (RFC 8176) that count as a second
	// factor done at the IdP.
	MFAMethods []string `mapstructure:"mfa_methods"`
	// SecretKey (base64 of 32 bytes) encrypts the client secrets of portal
	// sign-on at rest (AES-256-GCM). Empty: they are stored unencrypted in
	// the client's schema, and the settings page says so.
	SecretKey string `mapstructure:"secret_key"`
	// AllowInsecureIssuers accepts http:// issuers and issuers on loopback
	// or private networks (for tests and labs only).
	AllowInsecureIssuers bool `mapstructure:"allow_insecure_issuers"`
}

// DNS configures the lookups that verify custom domains.
type DNS struct {
	// Resolver is a HOST:PORT DNS server to ask; empty means the system resolver.
	Resolver string `mapstructure:"resolver"`
}

// ACME configures certificates for custom domains (serve --tls).
type ACME struct {
	DirectoryURL string `mapstructure:"directory_url"` // the ACME server's directory
	Email        string `mapstructure:"email"`         // contact for the ACME account (optional)
	// CAFile is a PEM bundle trusted for talking to the ACME server, for a
	// private or test CA such as Pebble; empty means the system roots.
	CAFile string `mapstructure:"ca_file"`
}

// Notify configures outgoing notifications.
type Notify struct {
	SMTP                 SMTP   `mapstructure:"smtp"`
	BaseURL              string `mapstructure:"base_url"` // console URL for links in messages
	MaxAttempts          int    `mapstructure:"max_attempts"`
	Workers              int    `mapstructure:"workers"`
	AllowPrivateNetworks bool   `mapstructure:"allow_private_networks"` // webhooks to private addresses
}

// SMTP is the mail relay for e-mail channels.
type SMTP struct {
	Host       string `mapstructure:"host"`
	Port       int    `mapstructure:"port"`
	From       string `mapstructure:"from"`
	Username   string `mapstructure:"username"`
	Password   string `mapstructure:"password"`
	RequireTLS bool   `mapstructure:"require_tls"`
}

// Database says where PostgreSQL is. With no URL, the embedded cluster under DataDir is used.
type Database struct {
	URL      string `mapstructure:"url"`
	DataDir  string `mapstructure:"data_dir"`
	MaxConns int    `mapstructure:"max_conns"`
	// Cells maps a cell's name to its server (database.cells.<name>.url,
	// env SWITCHBOARD_DATABASE_CELLS_<NAME>_URL with '-' as '_', flag
	// --cell-url NAME=URL). A cell with no entry lives on the control
	// plane's server. URLs live here, never in a table.
	Cells map[string]Cell `mapstructure:"cells"`
	// CellSecret derives the cells' login passwords; empty means the
	// password in database.url (or the embedded cluster's).
	CellSecret string `mapstructure:"cell_secret"`
	// CellMaxConns sizes each cell's connection pool.
	CellMaxConns int `mapstructure:"cell_max_conns"`
	// TenantsPerConnection closes a cell connection once it has entered
	// this many distinct tenants (0: never): PostgreSQL keeps the catalogs
	// of every schema a backend touched in its memory for its whole life.
	TenantsPerConnection int `mapstructure:"tenants_per_connection"`
}

// Cell is one cell's server.
type Cell struct {
	URL string `mapstructure:"url"`
}

// CellURLs maps each configured cell to its server's URL.
func (d Database) CellURLs() map[string]string {
	out := make(map[string]string, len(d.Cells))
	for name, c := range d.Cells {
		out[name] = c.URL
	}
	return out
}

// Server configures `switchboard serve`.
type Server struct {
	Addr         string   `mapstructure:"addr"`
	ConsoleHosts []string `mapstructure:"console_hosts"`
	// SecureCookies marks session cookies Secure; set it when users reach
	// the server over HTTPS (directly or through a TLS-terminating proxy).
	SecureCookies bool `mapstructure:"secure_cookies"`
	// TLS serves HTTPS on HTTPSAddr with certificates obtained on demand
	// (ACME) for verified domains; Addr then only redirects to HTTPS and
	// answers ACME HTTP-01 challenges.
	TLS       bool   `mapstructure:"tls"`
	HTTPSAddr string `mapstructure:"https_addr"`
	// The timeouts bound how long one connection may hold the server: a
	// client that trickles its request or never reads the answer, or an
	// idle keep-alive, is cut off instead of holding a connection forever.
	ReadTimeout       time.Duration `mapstructure:"read_timeout"`        // the whole request, body included
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"` // the request line and headers
	WriteTimeout      time.Duration `mapstructure:"write_timeout"`       // from the end of the headers to the end of the answer
	IdleTimeout       time.Duration `mapstructure:"idle_timeout"`        // a keep-alive connection between requests
}

// Log configures log/slog output.
type Log struct {
	Format string `mapstructure:"format"` // text or json
	Level  string `mapstructure:"level"`  // debug, info, warn, error
}

// Defaults are the built-in values.
var Defaults = map[string]any{
	"database.url":                    "",
	"database.data_dir":               ".data/postgres",
	"database.max_conns":              20,
	"database.cell_secret":            "",
	"database.cell_max_conns":         8,
	"database.tenants_per_connection": 150,
	"server.addr":                     "127.0.0.1:8080",
	"server.console_hosts":            []string{"localhost", "127.0.0.1"},
	"server.secure_cookies":           false,
	"server.tls":                      false,
	"server.https_addr":               "127.0.0.1:8443",
	"server.read_timeout":             "30s",
	"server.read_header_timeout":      "10s",
	"server.write_timeout":            "60s",
	"server.idle_timeout":             "120s",
	"dns.resolver":                    "",
	"acme.directory_url":              "https://acme-v02.api.letsencrypt.org/directory",
	"acme.email":                      "",
	"acme.ca_file":                    "",
	"log.format":                      "text",
	"notify.smtp.host":                "",
	"notify.smtp.port":                587,
	"notify.smtp.from":                "",
	"notify.smtp.username":            "",
	"notify.smtp.password":            "",
	"notify.smtp.require_tls":         false,
	"notify.base_url":                 "",
	"notify.max_attempts":             8,
	"notify.workers":                  10,
	"notify.allow_private_networks":   false,
	"jobs.timeout":                    "1m",
	"jobs.outbox_workers":             4,
	"log.level":                       "info",
	"sso.issuer":                      "",
	"sso.client_id":                   "",
	"sso.client_secret":               "",
	"sso.console_url":                 "",
	"sso.label":                       "single sign-on",
	"sso.role_claim":                  "groups",
	"sso.roles":                       []string{},
	"sso.grant_claim":                 "groups",
	"sso.grants":                      []string{},
	"sso.create_users":                false,
	"sso.disable_password":            false,
	"sso.mfa_methods":                 []string{"mfa", "otp", "hwk", "swk", "sc", "fpt", "face", "iris", "retina", "vbm", "pin"},
	"sso.secret_key":                  "",
	"sso.allow_insecure_issuers":      false,
	"security.require_mfa":            []string{"owner", "admin"},
	"metrics.addr":                    "",
	"metrics.token":                   "",
	"metrics.top_tenants":             0,

	// Rate limits (limits.go): far above what honest senders do.
	"limits.ingest_per_key.rate":            20,
	"limits.ingest_per_key.burst":           300,
	"limits.ingest_per_client.rate":         50,
	"limits.ingest_per_client.burst":        600,
	"limits.ingest_alerts_per_client.rate":  200,
	"limits.ingest_alerts_per_client.burst": 10000,
	"limits.checkins_per_endpoint.rate":     1,
	"limits.checkins_per_endpoint.burst":    10,
	"limits.api_per_token.rate":             10,
	"limits.api_per_token.burst":            100,
	"limits.max_keys":                       50000,
}

// ErrInvalid marks configuration mistakes the user must fix.
var ErrInvalid = errors.New("invalid configuration")

// Load reads file (if not empty) and the environment, then applies flags.
// flagKeys maps a flag name in flags to the setting it overrides.
func Load(file string, flags *pflag.FlagSet, flagKeys map[string]string) (*Config, error) {
	v := viper.New()
	for k, val := range Defaults {
		v.SetDefault(k, val)
	}
	v.SetEnvPrefix("SWITCHBOARD")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_"))
	v.AutomaticEnv()
	if file != "" {
		v.SetConfigFile(file)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: reading %s: %v", ErrInvalid, file, err)
		}
	}
	if flags != nil {
		for name, key := range flagKeys {
			if f := flags.Lookup(name); f != nil {
				if err := v.BindPFlag(key, f); err != nil {
					return nil, fmt.Errorf("binding flag --%s: %w", name, err)
				}
			}
		}
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := c.addCellsFromEnv(os.Environ()); err != nil {
		return nil, err
	}
	if flags != nil {
		if f := flags.Lookup("cell-url"); f != nil && f.Changed {
			pairs, _ := flags.GetStringArray("cell-url")
			if err := c.addCells(pairs, "--cell-url"); err != nil {
				return nil, err
			}
		}
	}
	// An environment variable arrives as one string; accept a comma list.
	if len(c.Server.ConsoleHosts) == 1 && strings.Contains(c.Server.ConsoleHosts[0], ",") {
		c.Server.ConsoleHosts = strings.Split(c.Server.ConsoleHosts[0], ",")
	}
	for _, list := range []*[]string{&c.SSO.Roles, &c.SSO.Grants, &c.SSO.MFAMethods} {
		if len(*list) == 1 && strings.Contains((*list)[0], ",") {
			*list = strings.Split((*list)[0], ",")
		}
	}
	c.Security.normalize()
	return &c, c.validate()
}

// cellEnv is the environment form of database.cells.<name>.url; viper
// cannot discover map keys from the environment, so they are read here.
const cellEnvPrefix, cellEnvSuffix = "SWITCHBOARD_DATABASE_CELLS_", "_URL"

// addCellsFromEnv adds the cells named by SWITCHBOARD_DATABASE_CELLS_<NAME>_URL.
func (c *Config) addCellsFromEnv(environ []string) error {
	var pairs []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, cellEnvPrefix); ok && strings.HasSuffix(name, cellEnvSuffix) && v != "" {
			name = strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(name, cellEnvSuffix), "_", "-"))
			pairs = append(pairs, name+"="+v)
		}
	}
	return c.addCells(pairs, "environment")
}

// addCells adds NAME=URL pairs; later ones win, as flags beat files.
func (c *Config) addCells(pairs []string, from string) error {
	if c.Database.Cells == nil {
		c.Database.Cells = map[string]Cell{}
	}
	for _, p := range pairs {
		name, url, ok := strings.Cut(p, "=")
		if !ok || name == "" || url == "" {
			return fmt.Errorf("%w: %s: a cell's server is given as NAME=URL, not %q", ErrInvalid, from, p)
		}
		c.Database.Cells[strings.ToLower(name)] = Cell{URL: url}
	}
	return nil
}

func (c *Config) validate() error {
	if _, _, err := net.SplitHostPort(c.Server.Addr); err != nil {
		return fmt.Errorf("%w: server.addr %q must be HOST:PORT", ErrInvalid, c.Server.Addr)
	}
	s := c.Server
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"read_timeout", s.ReadTimeout}, {"read_header_timeout", s.ReadHeaderTimeout}, {"write_timeout", s.WriteTimeout}, {"idle_timeout", s.IdleTimeout}} {
		// Zero would mean no limit, the very thing the timeouts prevent; a
		// bare number in YAML would be nanoseconds.
		if d.v < time.Second || d.v > time.Hour {
			return fmt.Errorf("%w: server.%s must be a duration of 1s-1h like 30s, not %s", ErrInvalid, d.key, d.v)
		}
	}
	if s.ReadHeaderTimeout > s.ReadTimeout {
		return fmt.Errorf("%w: server.read_header_timeout (%s) must not exceed server.read_timeout (%s)", ErrInvalid, s.ReadHeaderTimeout, s.ReadTimeout)
	}
	for name, cell := range c.Database.Cells {
		if cell.URL == "" {
			return fmt.Errorf("%w: database.cells.%s.url is empty", ErrInvalid, name)
		}
	}
	if c.Database.CellMaxConns < 1 || c.Database.CellMaxConns > 1000 {
		return fmt.Errorf("%w: database.cell_max_conns must be between 1 and 1000, not %d", ErrInvalid, c.Database.CellMaxConns)
	}
	if c.Database.TenantsPerConnection < 0 || c.Database.TenantsPerConnection > 1000000 {
		return fmt.Errorf("%w: database.tenants_per_connection must be between 0 (no limit) and 1000000, not %d", ErrInvalid, c.Database.TenantsPerConnection)
	}
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 1000 {
		return fmt.Errorf("%w: database.max_conns must be 1-1000", ErrInvalid)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("%w: log.format must be text or json", ErrInvalid)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log.level must be debug, info, warn or error", ErrInvalid)
	}
	n := c.Notify
	if n.SMTP.Port < 1 || n.SMTP.Port > 65535 || n.MaxAttempts < 1 || n.MaxAttempts > 25 || n.Workers < 1 || n.Workers > 100 {
		return fmt.Errorf("%w: notify.smtp.port must be 1-65535, notify.max_attempts 1-25, notify.workers 1-100", ErrInvalid)
	}
	if n.SMTP.Host != "" {
		if _, err := mail.ParseAddress(n.SMTP.From); err != nil {
			return fmt.Errorf("%w: notify.smtp.from %q is not an e-mail address", ErrInvalid, n.SMTP.From)
		}
	}
	if c.Jobs.Timeout < time.Second || c.Jobs.Timeout > time.Hour || c.Jobs.OutboxWorkers < 1 || c.Jobs.OutboxWorkers > 100 {
		return fmt.Errorf("%w: jobs.timeout must be 1s-1h and jobs.outbox_workers 1-100", ErrInvalid)
	}
	if c.DNS.Resolver != "" {
		if _, _, err := net.SplitHostPort(c.DNS.Resolver); err != nil {
			return fmt.Errorf("%w: dns.resolver %q must be HOST:PORT (or empty for the system resolver)", ErrInvalid, c.DNS.Resolver)
		}
	}
	if c.Server.TLS {
		if _, _, err := net.SplitHostPort(c.Server.HTTPSAddr); err != nil {
			return fmt.Errorf("%w: server.https_addr %q must be HOST:PORT", ErrInvalid, c.Server.HTTPSAddr)
		}
		if u, err := url.Parse(c.ACME.DirectoryURL); err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("%w: acme.directory_url %q must be an https:// URL", ErrInvalid, c.ACME.DirectoryURL)
		}
	}
	if err := c.SSO.validate(); err != nil {
		return err
	}
	if err := c.Security.validate(); err != nil {
		return err
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Metrics.validate(); err != nil {
		return err
	}
	if c.Database.URL == "" && c.Database.DataDir == "" {
		return fmt.Errorf("%w: set database.url, or database.data_dir for the embedded database", ErrInvalid)
	}
	return nil
}

// validate checks the metrics settings. A short token could be guessed by
// anyone who reaches the listener.
func (m Metrics) validate() error {
	if m.Addr != "" {
		if _, _, err := net.SplitHostPort(m.Addr); err != nil {
			return fmt.Errorf("%w: metrics.addr %q must be HOST:PORT (or empty)", ErrInvalid, m.Addr)
		}
	}
	if m.Token != "" && len(m.Token) < 16 {
		return fmt.Errorf("%w: metrics.token must be at least 16 characters (openssl rand -hex 32)", ErrInvalid)
	}
	if m.TopTenants < 0 || m.TopTenants > 100 {
		return fmt.Errorf("%w: metrics.top_tenants must be 0-100, not %d", ErrInvalid, m.TopTenants)
	}
	return nil
}
