package tenancy

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangeChannel is the NOTIFY channel the control plane's triggers use when
// tenants, domains or API keys change.
const ChangeChannel = "switchboard_tenancy"

// Listen calls onChange with each notification's payload on channel until
// ctx ends.
// It holds one dedicated connection (LISTEN cannot share a pooled one); after
// a lost connection it reconnects with backoff and calls onChange("") once,
// meaning "anything may have changed", because notifications sent meanwhile
// are lost. ready, if not nil, is closed
// once the first LISTEN is in place.
func (c *Server) Listen(ctx context.Context, channel string, onChange func(payload string), ready chan<- struct{}) {
	backoff := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := c.listenOnce(ctx, channel, onChange, func() {
			if first && ready != nil {
				close(ready)
			}
			if !first {
				onChange("")
			}
			first = false
			backoff = 100 * time.Millisecond
		})
		if ctx.Err() != nil {
			return
		}
		slog.Warn("tenancy: change listener lost its connection; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (c *Server) listenOnce(ctx context.Context, channel string, onChange func(string), onListening func()) error {
	conn, err := pgx.ConnectConfig(ctx, c.config)
	if err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{channel}.Sanitize()); err != nil {
		return fmt.Errorf("listening on %s: %w", channel, err)
	}
	onListening()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		onChange(n.Payload)
	}
}

// Listen listens on the control plane's server; see Server.Listen.
func (c *Cluster) Listen(ctx context.Context, channel string, onChange func(payload string), ready chan<- struct{}) {
	c.control.Listen(ctx, channel, onChange, ready)
}
