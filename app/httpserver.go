package main

import (
	"log/slog"
	"net/http"

	"switchboard/config"
)

// newHTTPServer is the http.Server of every listener serve opens (plain
// HTTP, HTTPS and the HTTP side of --tls) with the configured timeouts, so a
// client that trickles its request or never finishes it, or an idle
// keep-alive, is cut off instead of holding a connection (and a goroutine)
// forever. net/http's own errors (bad handshakes, timeouts) go to log at
// warning level.
func newHTTPServer(cfg *config.Config, h http.Handler, log *slog.Logger) *http.Server {
	s := cfg.Server
	return &http.Server{
		Handler:           h,
		ReadTimeout:       s.ReadTimeout,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
