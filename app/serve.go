package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/spf13/cobra"

	"switchboard/db"
	"switchboard/platform/tenancy"
	"switchboard/platform/web"
	"switchboard/static"
	"switchboard/templates"
)

func newServeCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the web server: staff console, client portals and the API",
		Long: `Run the web server. It refuses to start when the control plane is behind this
binary (run 'switchboard migrate' first). With the embedded database, the cluster
is started if needed and stopped on SIGINT/SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: runServe,
	}
	c.Flags().String("addr", "", "listen address HOST:PORT (default 127.0.0.1:8080)")
	return c
}

func runServe(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	e, err := openEnv(ctx, cmd, map[string]string{"addr": "server.addr"}, false)
	if err != nil {
		return err
	}
	defer e.close()

	srv, err := buildServer(ctx, e)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", e.cfg.Server.Addr)
	if err != nil {
		return usagef("cannot listen on %s: %v", e.cfg.Server.Addr, err)
	}
	e.log.Info("serving", "url", "http://"+ln.Addr().String(), "console_hosts", e.cfg.Server.ConsoleHosts)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("server stopped: %w", err)
	case <-ctx.Done():
	}
	e.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutting down: %w", err)
	}
	return nil
}

// buildServer wires every module's routes behind tenant resolution and starts
// the resolver's change listener (stopped with ctx).
func buildServer(ctx context.Context, e *env) (*http.Server, error) {
	resolver := tenancy.NewResolver(e.tenants.Directory(), e.tenants.TargetVersion(), e.cfg.Server.ConsoleHosts)
	ready := make(chan struct{})
	go e.cluster.Listen(ctx, tenancy.ChangeChannel, resolver.Invalidate, ready)
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		return nil, errors.New("could not start listening for tenant changes")
	case <-ctx.Done():
		return nil, ctx.Err()
	}

	ech := web.New(e.log)
	renderer, err := web.NewRenderer(templates.FS, "console/*.html", "portal/*.html")
	if err != nil {
		return nil, err
	}
	ech.Renderer = renderer
	ech.Use(resolver.Middleware("/healthz", "/readyz"))
	ech.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	ech.GET("/readyz", readiness(e))
	assets, _ := fs.Sub(static.FS, ".")
	ech.StaticFS("/static", assets)
	e.tenants.Routes(ech)
	return &http.Server{Handler: ech, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}, nil
}

// readiness answers 200 only when the database answers and the control plane
// is at this binary's version.
func readiness(e *env) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		if err := e.cluster.Ping(ctx); err != nil {
			return c.String(http.StatusServiceUnavailable, "database unreachable\n")
		}
		if err := db.CheckControl(ctx, e.cluster.ControlDB(), db.Control()); err != nil {
			return c.String(http.StatusServiceUnavailable, err.Error()+"\n")
		}
		return c.String(http.StatusOK, "ready\n")
	}
}
