package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/spf13/cobra"
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
	e, err := openEnvFor(ctx, cmd, map[string]string{"addr": "server.addr", "tls": "server.tls"}, false, true)
	if err != nil {
		return err
	}
	// Runs last: background jobs stop (running ones get the soft-stop
	// window), then the pool closes, then an embedded cluster we own stops.
	defer e.close()
	if e.pg != nil {
		go e.pg.Supervise(ctx) // restarts the embedded cluster if it dies; ends with ctx or Stop
	}
	if e.cfg.Server.TLS {
		e.cfg.Server.SecureCookies = true // every browser request arrives over HTTPS
	}

	handler, err := buildServer(ctx, e)
	if err != nil {
		return err
	}
	if err := startBackground(ctx, e); err != nil {
		return err
	}
	if addr := e.cfg.Metrics.Addr; addr != "" { // ends with ctx
		if _, err := e.metrics.Listen(ctx, addr); err != nil {
			return listenError("metrics.addr", addr, err)
		}
	}
	if e.cfg.Server.TLS {
		return serveTLS(ctx, e, handler, handler.resolver)
	}
	srv := newHTTPServer(e.cfg, handler, e.log)
	ln, err := net.Listen("tcp", e.cfg.Server.Addr)
	if err != nil {
		return listenError("server.addr", e.cfg.Server.Addr, err)
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

// startBackground starts working jobs in this process and listening for
// outbox marks, which wake the drains at once (the periodic sweep covers
// marks made while nobody listened). Both end with ctx and e.close.
func startBackground(ctx context.Context, e *env) error {
	if err := e.jobs.Start(ctx); err != nil {
		return err
	}
	ready := make(chan struct{})
	go e.outbox.Listen(ctx, ready)
	select {
	case <-ready:
		// Marks made while no process listened (this one was down) are
		// drained now, not at the leader's next sweep.
		due, err := e.outbox.Due(ctx)
		if err == nil {
			err = e.outbox.Wake(ctx, due...)
		}
		if err != nil {
			e.log.Warn("waking the outboxes due at start (the sweep will)", "err", err)
		}
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("could not start listening for outbox events")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// listenError is why serve cannot take its address. A port already in use
// (or not ours to take) is a state of this machine, not bad input: a
// runtime error (exit status 1) that names the setting and the port.
func listenError(setting, addr string, err error) error {
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("cannot listen on %s (%s): the port is already in use by another program", addr, setting)
	}
	return fmt.Errorf("cannot listen on %s (%s): %w", addr, setting, err)
}
