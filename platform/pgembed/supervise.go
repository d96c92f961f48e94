package pgembed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Backoff bounds between Supervise's failed restart attempts.
var (
	restartMin = 500 * time.Millisecond
	restartMax = 30 * time.Second
)

// errStopped ends a restart that Stop overtook.
var errStopped = errors.New("pgembed: stopped")

// healthState is what Supervise last saw, for Health; the zero value means
// no outage in progress.
type healthState struct {
	attempt int       // restart attempt running (next zero) or last failed
	next    time.Time // when the next attempt starts
	err     error     // why the server is down, or why the last attempt failed
}

// Supervise watches the server until ctx ends or Stop is called. When the
// postmaster dies it restarts it on the same port, so URLs and pools stay
// valid, waiting 0.5 s, 1 s, 2 s ... (at most 30 s) between failed attempts
// and logging each; Health reports the outage meanwhile. Only the owner
// restarts it (serve owns what it adopts); a handle that finds another live
// owner waits for that one to do it. Run it in its own goroutine.
func (c *Cluster) Supervise(ctx context.Context) {
	tick := time.NewTicker(c.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if c.stopped.Load() {
			return
		}
		if pid, up := c.postmasterUp(); !up {
			c.recover(ctx, pid)
		}
	}
}

// recover restarts a dead server with backoff until it is up again, Stop
// is called or ctx ends.
func (c *Cluster) recover(ctx context.Context, pid int) {
	cause := fmt.Errorf("the postmaster (pid %d) is gone", pid)
	if pid == 0 {
		cause = errors.New("the server is not running (no postmaster.pid)")
	}
	c.logger.Error("embedded PostgreSQL died; restarting it", "err", cause, "port", c.port, "data_dir", c.dataDir)
	delay := restartMin
	for attempt := 1; ; attempt++ {
		c.setHealth(healthState{attempt: attempt, err: cause})
		byUs, err := c.restart(ctx)
		if err == nil {
			c.setHealth(healthState{})
			if byUs {
				c.logger.Info("embedded PostgreSQL restarted", "attempt", attempt, "port", c.port, "data_dir", c.dataDir)
			} else {
				c.logger.Info("embedded PostgreSQL is back, restarted by another process", "port", c.port, "data_dir", c.dataDir)
			}
			return
		}
		if c.stopped.Load() || ctx.Err() != nil {
			return
		}
		cause = err
		c.setHealth(healthState{attempt: attempt, next: time.Now().Add(delay), err: err})
		c.logger.Warn("embedded PostgreSQL restart failed", "attempt", attempt, "retry_in", delay, "err", err)
		if sleepCtx(ctx, delay) != nil {
			return
		}
		delay = min(2*delay, restartMax)
	}
}

// restart starts the dead server again on c.port, under the start lock.
// byUs is false when another process had already restarted it.
func (c *Cluster) restart(ctx context.Context) (byUs bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped.Load() {
		return false, errStopped
	}
	unlock, err := c.lock(ctx)
	if err != nil {
		return false, err
	}
	defer unlock()
	pf, running, err := c.findRunning(ctx)
	if err != nil {
		return false, err
	}
	if running {
		if pf.port != c.port {
			return false, fmt.Errorf("pgembed: another process restarted the server on port %d instead of %d; restart this process to follow it", pf.port, c.port)
		}
		return false, nil
	}
	if rec, ok := c.readOwner(); ok && rec.live() && !rec.names(c) && !(c.role == OwnerServe && rec.Role == OwnerCLI) {
		return false, fmt.Errorf("pgembed: not restarting it: owned by %s, which restarts it", rec)
	}
	if err := c.waitReaped(ctx, 0); err != nil {
		return false, err
	}
	if !portFree(c.port) {
		return false, fmt.Errorf("pgembed: port %d is taken by another program", c.port)
	}
	// pg_ctl must not be killed half-way when ctx ends: Stop may follow.
	startCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
	defer cancel()
	logFrom := logSize(c.logPath())
	if out, err := c.pgCtlStart(startCtx, c.port); err != nil {
		return false, fmt.Errorf("pgembed: pg_ctl start: %w: %s (server log: %s)", err,
			strings.TrimSpace(out), strings.ReplaceAll(logTailSince(c.logPath(), logFrom, 3), "\n", " | "))
	}
	c.started = true
	if rec, ok := c.readOwner(); !ok || !rec.names(c) {
		if err := c.writeOwner(false); err != nil {
			c.logger.Warn("embedded PostgreSQL: recording the owner", "err", err)
		}
	}
	return true, nil
}

// postmasterUp reports whether the postmaster named in postmaster.pid runs
// (pid is 0 when there is no such file). An unreadable file counts as up:
// the caller cannot tell, and the server's clients will notice.
func (c *Cluster) postmasterUp() (pid int, up bool) {
	pf, ok, err := c.readPidFile()
	if err != nil {
		return 0, true
	}
	if !ok {
		return 0, false
	}
	return pf.pid, processAlive(pf.pid)
}

// setHealth records what Health reports.
func (c *Cluster) setHealth(h healthState) {
	c.healthMu.Lock()
	c.health = h
	c.healthMu.Unlock()
}

// Health is nil while the server runs, and otherwise says why not, e.g.
// "embedded database restarting (attempt 3 failed, next in 4s): ..."; meant
// for a readiness probe. It is cheap: it reads postmaster.pid, no query.
func (c *Cluster) Health() error {
	if c.stopped.Load() {
		return errors.New("embedded database stopped")
	}
	c.healthMu.Lock()
	h := c.health
	c.healthMu.Unlock()
	switch {
	case h.attempt > 0 && !h.next.IsZero():
		wait := max(time.Until(h.next), 0).Round(100 * time.Millisecond)
		return fmt.Errorf("embedded database restarting (attempt %d failed, next in %s): %w", h.attempt, wait, h.err)
	case h.attempt > 0:
		return fmt.Errorf("embedded database restarting (attempt %d): %w", h.attempt, h.err)
	}
	if pid, up := c.postmasterUp(); !up {
		if pid == 0 {
			return errors.New("embedded database is not running")
		}
		return fmt.Errorf("embedded database is not running (postmaster pid %d is gone)", pid)
	}
	return nil
}
