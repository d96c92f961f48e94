package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

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
	"switchboard/platform/certcache"
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
	tenants   *tenants.Service
	identity  *identity.Service
	audit     *audit.Service
	alerts    *alerts.Service
	policies  *policies.Service
	dashboard *dashboard.Service
	agents    *agents.Service
	notify    *notify.Service
	branding  *branding.Service
	breaches  *slas.Breaches
	reports   *slas.Reports
	portal    *portal.Service
}

// portalBrand is how a client's portal looks, from its branding.
func (e *env) portalBrand(ctx context.Context, t tenancy.Tenant) (web.Brand, error) {
	b, err := e.branding.For(ctx, t)
	if err != nil {
		return web.Brand{}, err
	}
	return web.Brand{Name: b.DisplayName, Primary: b.PrimaryColor, Accent: b.AccentColor, LogoURL: b.LogoURL,
		FaviconURL: b.FaviconURL, SupportEmail: b.SupportEmail, SupportPhone: b.SupportPhone}, nil
}

// emailBrand is how a client's e-mails present themselves: its sender name,
// and a link to its portal on its primary (or first) verified domain.
func (e *env) emailBrand(ctx context.Context, t tenancy.Tenant) (notify.EmailBrand, error) {
	b, err := e.branding.For(ctx, t)
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
		pg, err := pgembed.Start(ctx, pgembed.Options{Dir: dir, Logger: e.log})
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
// current unless allowBehind (migrate itself).
func openEnv(ctx context.Context, cmd *cobra.Command, extra map[string]string, allowBehind bool) (*env, error) {
	e, err := openDatabase(ctx, cmd, extra)
	if err != nil {
		return nil, err
	}
	if err := e.connect(ctx, allowBehind); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// connect opens the pool on e.url and builds the services.
func (e *env) connect(ctx context.Context, allowBehind bool) error {
	var err error
	e.cluster, err = tenancy.Open(ctx, e.url, tenancy.PoolOptions{MaxOpen: e.cfg.Database.MaxConns})
	if err != nil {
		return err
	}
	if !allowBehind {
		if err := db.CheckControl(ctx, e.cluster.ControlDB(), db.Control()); err != nil {
			return err
		}
	}
	e.tenants = tenants.NewService(e.cluster, tenants.Options{Logger: e.log,
		Export:   tenants.ExportConfig{DatabaseURL: e.url, BinDir: e.binDir},
		Resolver: tenants.DNSResolver(e.cfg.DNS.Resolver), ConsoleHosts: e.cfg.Server.ConsoleHosts})
	e.tenants.OnDomainRemoved(func(ctx context.Context, host string) {
		if err := certcache.New(e.cluster.ControlDB()).ForgetHost(ctx, host); err != nil {
			e.log.Error("forgetting a removed domain's certificate", "host", host, "err", err)
		}
	})
	e.identity = identity.NewService(e.cluster, e.tenants, e.log)
	e.audit = audit.NewService(e.cluster)
	e.policies = policies.NewService(e.cluster)
	e.alerts = alerts.NewService().WithMaintenance(e.policies).WithSLA(slas.Panel(e.policies))
	e.dashboard = dashboard.NewService(e.tenants, e.alerts)
	e.notify = notify.NewService(notify.Deps{Alerts: e.alerts, Tenants: e.tenants, Policies: e.policies, Brand: e.emailBrand}, notify.Options{
		SMTP: notify.SMTPConfig{Host: e.cfg.Notify.SMTP.Host, Port: e.cfg.Notify.SMTP.Port, From: e.cfg.Notify.SMTP.From,
			Username: e.cfg.Notify.SMTP.Username, Password: e.cfg.Notify.SMTP.Password, RequireTLS: e.cfg.Notify.SMTP.RequireTLS},
		MaxAttempts: e.cfg.Notify.MaxAttempts, BaseURL: e.cfg.Notify.BaseURL,
		AllowPrivateNetworks: e.cfg.Notify.AllowPrivateNetworks, Logger: e.log,
	})
	e.alerts.OnCreated(e.notify.AlertsCreated)
	e.breaches = slas.NewBreaches(e.alerts, e.policies, e.tenants, e.notify, e.log)
	e.alerts.OnCreated(e.breaches.AlertsCreated)
	e.alerts.OnChanged(e.breaches.Changed)
	e.reports = slas.NewReports(e.alerts, e.policies)
	e.alerts.OnChanged(e.reports.Changed)
	// An SLA change moves deadlines: reschedule the open alerts of the
	// tenants it touches (all with open alerts, from the rollups, for a baseline).
	e.policies.OnSLAChange(func(ctx context.Context, t *tenancy.Tenant) {
		ctx = context.WithoutCancel(ctx)
		go func() {
			var ts []tenancy.Tenant
			if t != nil {
				ts = []tenancy.Tenant{*t}
			} else if sums, err := e.tenants.Summaries(ctx, nil); err == nil {
				for _, s := range sums {
					if s.OpenCritical+s.OpenWarning+s.OpenInfo > 0 {
						ts = append(ts, e.tenants.Scope(s.Tenant))
					}
				}
			}
			e.breaches.Reschedule(ctx, ts)
		}()
	})
	e.breaches.OnBreach = func(ctx context.Context, t tenancy.Tenant, a alerts.Alert) {
		if err := e.reports.Refresh(ctx, t, a.FirstSeenAt); err != nil {
			e.log.Error("sla: refreshing the monthly rollup", "tenant", t.Slug, "err", err)
		}
	}
	e.agents = agents.NewService(agents.Options{Tenants: e.tenants, Policies: e.policies, Alerts: e.alerts, Logger: e.log})
	e.branding = branding.NewService(branding.Options{})
	e.portal = portal.NewService(e.alerts, e.agents, e.reports, e.portalBrand, e.log)
	return nil
}

// close disconnects and stops the embedded cluster if this process started it.
func (e *env) close() {
	if e.cluster != nil {
		_ = e.cluster.Close()
	}
	if e.pg != nil {
		if err := e.pg.Stop(context.Background()); err != nil {
			e.log.Error("stopping the embedded database", "err", err)
		}
	}
}
