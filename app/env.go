package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"switchboard/config"
	"switchboard/db"
	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/branding"
	"switchboard/modules/dashboard"
	"switchboard/modules/identity"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/portal"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/platform/jobs"
	"switchboard/platform/metrics"
	"switchboard/platform/outbox"
	"switchboard/platform/pgembed"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
)

// env is what a command needs at run time: configuration, the database
// (embedded or configured) and the services built on it.
type env struct {
	cfg       *config.Config
	log       *slog.Logger
	pg        *pgembed.Cluster // nil when database.url is configured
	url       string
	binDir    string
	cluster   *tenancy.Cluster
	jobs      *jobs.Client        // built first; works jobs only in serve (and tests that ask)
	events    *outbox.Subscribers // who acts on which outbox event
	outbox    *outbox.Drainer     // drains tenants' outboxes (in serve)
	tenants   *tenants.Service
	identity  *identity.Service
	mfa       *identity.MFA // staff second factors (security.require_mfa)
	audit     *audit.Service
	alerts    *alerts.Service
	policies  *policies.Service
	dashboard *dashboard.Service
	agents    *agents.Service
	notify    *notify.Service
	hooks     *notify.Hooks // MSP-wide webhooks (app/webhook.go)
	branding  *branding.Service
	breaches  *slas.Breaches
	reports   *slas.Reports
	documents *slas.Documents // clients' monthly reports as branded PDFs
	mailing   *slas.Mailing   // and e-mailed to their admins each month
	portal    *portal.Service
	metrics   *metrics.Metrics // this process's Prometheus registry; the services count into it
	ssoClock  func() time.Time // the ID token verifier's clock; nil: time.Now (tests move it)
}

// clientBrand is the client's branding with the one rule for the name its
// people see: the branding's display name if set, else the client's display
// name setting, else the tenant's name. (The branding falls back to the
// tenant's name, so the setting is put in its place.)
func (e *env) clientBrand(ctx context.Context, t tenancy.Tenant) (branding.Brand, error) {
	cs, err := e.tenants.ClientSettings(ctx, t)
	if err != nil {
		e.log.WarnContext(ctx, "reading the client's settings for its brand", "tenant", t.Slug, "err", err)
	} else if cs.DisplayName != "" {
		t.Name = cs.DisplayName
	}
	return e.branding.For(ctx, t)
}

// portalSettings are the client's time zone and locale, for its portal.
func (e *env) portalSettings(ctx context.Context, t tenancy.Tenant) (*time.Location, string, error) {
	cs, err := e.tenants.ClientSettings(ctx, t)
	return cs.Zone(), cs.Locale, err
}

// portalBrand is how a client's portal looks, from its branding.
func (e *env) portalBrand(ctx context.Context, t tenancy.Tenant) (web.Brand, error) {
	b, err := e.clientBrand(ctx, t)
	if err != nil {
		return web.Brand{}, err
	}
	return web.Brand{Name: b.DisplayName, Primary: b.PrimaryColor, Accent: b.AccentColor, LogoURL: b.LogoURL,
		FaviconURL: b.FaviconURL, SupportEmail: b.SupportEmail, SupportPhone: b.SupportPhone}, nil
}

// emailBrand is how a client's e-mails present themselves: its sender name,
// and a link to its portal on its primary (or first) verified domain.
func (e *env) emailBrand(ctx context.Context, t tenancy.Tenant) (notify.EmailBrand, error) {
	b, err := e.clientBrand(ctx, t)
	if err != nil {
		return notify.EmailBrand{}, err
	}
	out := notify.EmailBrand{SenderName: b.SenderName, Name: b.DisplayName}
	domains, err := e.tenants.ListDomains(ctx, t.Slug)
	if err != nil {
		return notify.EmailBrand{}, err
	}
	scheme := "http://"
	if e.cfg.Server.TLS || e.cfg.Server.SecureCookies {
		scheme = "https://"
	}
	for _, d := range domains {
		if d.Verified && (out.PortalURL == "" || d.IsPrimary) {
			out.PortalURL = scheme + d.Hostname
		}
	}
	return out, nil
}

// loadConfig reads the configuration for cmd, with extra flag bindings.
func loadConfig(cmd *cobra.Command, extra map[string]string) (*config.Config, error) {
	file, _ := cmd.Flags().GetString("config")
	keys := map[string]string{}
	for k, v := range globalFlagKeys {
		if f := cmd.Flags().Lookup(k); f != nil && f.Changed {
			keys[k] = v
		}
	}
	for k, v := range extra {
		keys[k] = v
	}
	return config.Load(file, cmd.Flags(), keys)
}

func newLogger(cfg *config.Config) *slog.Logger {
	level := map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[cfg.Log.Level]
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// openDatabase starts (or reuses) the embedded cluster when no URL is
// configured, but does not connect.
func openDatabase(ctx context.Context, cmd *cobra.Command, extra map[string]string) (*env, error) {
	cfg, err := loadConfig(cmd, extra)
	if err != nil {
		return nil, err
	}
	if cmd.Name() != "serve" && !cmd.Flags().Changed("log-level") && os.Getenv("SWITCHBOARD_LOG_LEVEL") == "" {
		cfg.Log.Level = "warn" // operator commands print their results; routine logs would drown them
	}
	e := &env{cfg: cfg, log: newLogger(cfg), url: cfg.Database.URL}
	slog.SetDefault(e.log)
	if e.url == "" {
		dir, err := filepath.Abs(cfg.Database.DataDir)
		if err != nil {
			return nil, fmt.Errorf("embedded database folder: %w", err)
		}
		// serve owns the cluster it starts or finds (and restarts it if it
		// dies); a command never stops a cluster serve uses.
		owner := pgembed.OwnerCLI
		if cmd.Name() == "serve" {
			owner = pgembed.OwnerServe
		}
		pg, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, Logger: e.log, Owner: owner})
		if errors.Is(err, pgembed.ErrNoBinaries) {
			return nil, err
		}
		if err != nil {
			return nil, fmt.Errorf("starting the embedded database in %s: %w", dir, err)
		}
		e.pg, e.url = pg, pg.URL()
	}
	if bin, err := pgembed.FindBinaries(); err == nil {
		e.binDir = bin
	}
	return e, nil
}

// openEnv opens the database, connects, and checks the control plane is
// current unless allowBehind (migrate itself). Operator commands only insert
// background jobs; serve works them.
func openEnv(ctx context.Context, cmd *cobra.Command, extra map[string]string, allowBehind bool) (*env, error) {
	return openEnvFor(ctx, cmd, extra, allowBehind, false)
}

func openEnvFor(ctx context.Context, cmd *cobra.Command, extra map[string]string, allowBehind, workJobs bool) (*env, error) {
	e, err := openDatabase(ctx, cmd, extra)
	if err != nil {
		return nil, err
	}
	if err := e.connect(ctx, allowBehind, workJobs); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// connect opens the pool on e.url and wires everything, the one way serve,
// every command and the tests do it: the jobs client first (insert-only
// unless workJobs), then each service from its dependencies. Services
// register their workers and outbox subscriptions in their constructors, so
// a service that exists is wired; nothing is switched on afterwards.
func (e *env) connect(ctx context.Context, allowBehind, workJobs bool) error {
	var err error
	e.cluster, err = tenancy.Open(ctx, e.url, tenancy.Options{
		Pool:     tenancy.PoolOptions{MaxOpen: e.cfg.Database.MaxConns},
		CellPool: tenancy.PoolOptions{MaxOpen: e.cfg.Database.CellMaxConns, TenantsPerBackend: tenantsPerBackend(e.cfg.Database.TenantsPerConnection)},
		CellURLs: e.cfg.Database.CellURLs(), Secret: e.cfg.Database.CellSecret,
	})
	if err != nil {
		return err
	}
	if !allowBehind {
		if err := db.CheckControl(ctx, e.cluster.ControlDB(), db.Control()); err != nil {
			return err
		}
	}
	jobOpts := jobs.Options{Logger: e.log, JobTimeout: e.cfg.Jobs.Timeout, InsertOnly: !workJobs, MaxConns: 4}
	if workJobs {
		jobOpts.MaxConns = 10
		jobOpts.Queues = map[string]int{notify.Queue: e.cfg.Notify.Workers, slas.Queue: 5,
			outbox.Queue: e.cfg.Jobs.OutboxWorkers, periodicQueue: 2}
	}
	if e.jobs, err = jobs.New(ctx, e.url, jobOpts); err != nil {
		return err
	}
	e.events = outbox.NewSubscribers()

	e.tenants = tenants.NewService(e.cluster, tenants.Options{Logger: e.log,
		Export:   tenants.ExportConfig{BinDir: e.binDir},
		Resolver: tenants.DNSResolver(e.cfg.DNS.Resolver), ConsoleHosts: e.cfg.Server.ConsoleHosts,
		TrustLocalhost: e.development()})
	if !allowBehind && workJobs {
		// serve: every cell server must answer and its own tables be as new
		// as the binary. Operator commands go on, and fail only if they
		// reach a cell whose server does not answer.
		if err := e.tenants.CheckCellServers(ctx); err != nil {
			return err
		}
	}
	e.outbox = outbox.NewDrainer(e.cluster, e.tenants, e.events, e.jobs, e.log)
	e.metrics = metrics.New(metrics.Options{Cluster: e.cluster, TargetVersion: e.tenants.TargetVersion(),
		Token: e.cfg.Metrics.Token, TopClients: e.cfg.Metrics.TopTenants, Logger: e.log})
	e.identity = identity.NewService(e.cluster, e.tenants, e.log, identity.WithSSO(ssoOptions(e.cfg, e.ssoClock)))
	e.mfa = identity.NewMFA(e.identity, identity.MFAOptions{RequiredRoles: e.cfg.Security.RequireMFA,
		HTTPS: e.cfg.Server.TLS || e.cfg.Server.SecureCookies})
	e.audit = audit.NewService(e.cluster)
	e.policies = policies.NewService(e.cluster)
	e.alerts = alerts.NewService(e.policies, slas.Panel(e.policies), alerts.WithCounter(e.metrics))
	e.dashboard = dashboard.NewService(e.tenants, e.alerts, e.policies)
	e.branding = branding.NewService(branding.Options{})
	e.notify = notify.NewService(notify.Deps{Alerts: e.alerts, Tenants: e.tenants, Policies: e.policies, Brand: e.emailBrand,
		Jobs: e.jobs, Events: e.events, Deliveries: e.metrics}, notify.Options{
		SMTP: notify.SMTPConfig{Host: e.cfg.Notify.SMTP.Host, Port: e.cfg.Notify.SMTP.Port, From: e.cfg.Notify.SMTP.From,
			Username: e.cfg.Notify.SMTP.Username, Password: e.cfg.Notify.SMTP.Password, RequireTLS: e.cfg.Notify.SMTP.RequireTLS},
		MaxAttempts: e.cfg.Notify.MaxAttempts, BaseURL: e.consoleBaseURL(),
		AllowPrivateNetworks: e.cfg.Notify.AllowPrivateNetworks, Logger: e.log,
	})
	e.hooks = notify.NewHooks(e.notify, e.controlTx)
	e.breaches = slas.NewBreaches(e.alerts, e.policies, e.tenants, e.jobs, e.events, e.log)
	e.reports = slas.NewReports(e.alerts, e.policies, e.tenants, e.jobs, e.events)
	e.documents = slas.NewDocuments(e.reports, e.letterhead)
	e.mailing = slas.NewMailing(e.documents, e.slaMailDeps())
	e.agents = agents.NewService(agents.Options{Tenants: e.tenants, Policies: e.policies, Alerts: e.alerts, Logger: e.log, CheckIns: e.metrics})
	e.portal = portal.NewService(e.alerts, e.agents, e.reports, e.portalBrand, e.portalSettings, e.log)
	e.schedulePeriodic()
	return nil
}

// development reports whether this is a development setup: the embedded
// database (no database.url), which production never runs on. Then
// *.localhost portal hostnames verify without DNS.
func (e *env) development() bool { return e.cfg.Database.URL == "" }

// consoleBaseURL is where messages link to the console: notify.base_url,
// or in development the address serve listens on, so the demo's links
// open. In production an unset base URL leaves links as bare paths rather
// than guessing a public name.
func (e *env) consoleBaseURL() string {
	if e.cfg.Notify.BaseURL != "" || !e.development() {
		return e.cfg.Notify.BaseURL
	}
	host, port, err := net.SplitHostPort(e.cfg.Server.Addr)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// close disconnects and stops the embedded cluster if this process started it.
func (e *env) close() {
	if e.jobs != nil {
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		if err := e.jobs.Stop(stopCtx); err != nil {
			e.log.Warn("stopping background jobs", "err", err)
		}
		cancel()
	}
	if e.cluster != nil {
		_ = e.cluster.Close()
	}
	if e.pg != nil {
		if err := e.pg.Stop(context.Background()); err != nil {
			e.log.Error("stopping the embedded database", "err", err)
		}
	}
}

// tenantsPerBackend turns the setting (0: no limit) into the pool option
// (0: the default, negative: no limit).
func tenantsPerBackend(setting int) int {
	if setting == 0 {
		return -1
	}
	return setting
}
