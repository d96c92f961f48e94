package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/spf13/cobra"

	"switchboard/modules/notify"
	"switchboard/modules/slas"
	"switchboard/platform/jobs"
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
	c.Flags().String("addr", "", "listen address HOST:PORT (default 127.0.0.1:8080); with --tls it only redirects to HTTPS and answers ACME challenges")
	c.Flags().Bool("tls", false, "serve HTTPS on server.https_addr with certificates obtained on demand (ACME) for the console hosts and verified client domains")
	return c
}

func runServe(cmd *cobra.Command, _ []string) error {
	ctx := cmd.Context()
	e, err := openEnv(ctx, cmd, map[string]string{"addr": "server.addr", "tls": "server.tls"}, false)
	if err != nil {
		return err
	}
	defer e.close()
	if e.cfg.Server.TLS {
		e.cfg.Server.SecureCookies = true // every browser request arrives over HTTPS
	}

	handler, err := buildServer(ctx, e)
	if err != nil {
		return err
	}
	bg, err := startJobs(ctx, e)
	if err != nil {
		return err
	}
	// Stopped after the HTTP server (deferred first, runs last but before the
	// database closes), so in-flight ingests can still enqueue.
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := bg.Stop(stopCtx); err != nil {
			e.log.Warn("stopping background jobs", "err", err)
		}
	}()
	if e.cfg.Server.TLS {
		return serveTLS(ctx, e, handler, handler.resolver)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(e.log.Handler(), slog.LevelWarn)}
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

// startJobs starts the River client that works background jobs
// (notification deliveries) in this process.
func startJobs(ctx context.Context, e *env) (*jobs.Client, error) {
	workers := river.NewWorkers()
	e.notify.AddWorkers(workers)
	e.breaches.AddWorkers(workers)
	bg, err := jobs.New(ctx, e.url, workers, jobs.Options{Queues: map[string]int{notify.Queue: e.cfg.Notify.Workers, slas.Queue: 5}, Logger: e.log})
	if err != nil {
		return nil, err
	}
	e.notify.UseJobs(bg)
	e.breaches.UseJobs(bg)
	if err := bg.Start(ctx); err != nil {
		_ = bg.Stop(context.Background())
		return nil, err
	}
	return bg, nil
}
