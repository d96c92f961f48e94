package pgembed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Owner says who starts a cluster, which decides who may stop it (see the
// package comment).
type Owner string

const (
	// OwnerCLI is a short-lived command; it stops the server only when it is
	// responsible for it and nobody else uses it. The zero Owner means OwnerCLI.
	OwnerCLI Owner = "cli"
	// OwnerServe is the long-running server; it takes over a server a
	// command started, and it is the one meant to call Supervise.
	OwnerServe Owner = "serve"
)

// Files in Dir besides data, run, postgres.log and app-password.
const (
	ownerFileName = "owner.json"  // who is responsible for stopping the server
	portFileName  = "port"        // the port to reuse on the next start
	startLockName = "start.lock"  // flock held while starting, bootstrapping, stopping
	inUseLockName = "in-use.lock" // flock held (shared) by every open handle
)

// ownerRecord is the content of Dir/owner.json.
type ownerRecord struct {
	PID       int       `json:"pid"`
	Role      Owner     `json:"role"`
	StartedAt time.Time `json:"started_at"`
	// Handle tells apart handles within one process (tests, or a command
	// that opens the cluster twice).
	Handle string `json:"handle,omitempty"`
	// Shared means the owner left while others still used the server: the
	// last switchboard process to leave stops it.
	Shared bool `json:"shared,omitempty"`
}

// String names the owner for log lines: "pid 123 (serve)".
func (r ownerRecord) String() string {
	return fmt.Sprintf("pid %d (%s)", r.PID, r.Role)
}

// live reports whether the record names a running owner; a record whose
// process is gone counts as no owner.
func (r ownerRecord) live() bool { return !r.Shared && processAlive(r.PID) }

// names reports whether the record names handle c of this process.
func (r ownerRecord) names(c *Cluster) bool {
	return !r.Shared && r.PID == os.Getpid() && r.Handle == c.handle
}

// readOwner reads Dir/owner.json; ok is false when there is none (or it is
// unreadable, which is treated the same: nobody owns the server).
func (c *Cluster) readOwner() (rec ownerRecord, ok bool) {
	b, err := os.ReadFile(filepath.Join(c.dir, ownerFileName))
	if err != nil || json.Unmarshal(b, &rec) != nil {
		return ownerRecord{}, false
	}
	return rec, true
}

// writeOwner records this handle as the owner, or (shared) records that
// it left the server to the processes still using it.
func (c *Cluster) writeOwner(shared bool) error {
	rec := ownerRecord{PID: os.Getpid(), Role: c.role, StartedAt: time.Now().UTC().Truncate(time.Second),
		Handle: c.handle, Shared: shared}
	b, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	return writeFileAtomic(filepath.Join(c.dir, ownerFileName), append(b, '\n'), 0o644)
}

// removeOwner deletes the record (after a stop: nobody owns a stopped server).
func (c *Cluster) removeOwner() {
	if err := os.Remove(filepath.Join(c.dir, ownerFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.logger.Warn("embedded PostgreSQL: removing the owner record", "err", err)
	}
}

// claim decides, under the start lock, whether this handle owns the server
// it just started or reused, and records it. The owner is whoever started
// it, except that serve takes over from a command, and that a server with
// no live owner goes to serve (a command that merely reuses it leaves it be).
func (c *Cluster) claim() error {
	rec, ok := c.readOwner()
	switch {
	case ok && rec.live() && rec.Role == OwnerServe:
		if c.role == OwnerServe {
			c.logger.Warn("embedded PostgreSQL is owned by another serve; while that one runs, this one neither stops nor restarts it",
				"owner", rec.String(), "data_dir", c.dataDir)
		}
		return nil
	case ok && rec.live() && c.role == OwnerServe:
		c.logger.Info("embedded PostgreSQL: taking it over from the command that started it", "from", rec.String())
	case ok && rec.live():
		return nil // another live command owns it
	case !c.started && c.role != OwnerServe:
		return nil // nobody's (e.g. left running by `db url`), and reusing it does not make it ours
	}
	return c.writeOwner(false)
}

// stopDecision is whether Stop should stop the server, and if not why.
// It runs under the start lock, after this handle's in-use lock is gone.
func (c *Cluster) stopDecision(ctx context.Context) (stop bool, reason string) {
	rec, ok := c.readOwner()
	mine := ok && rec.names(c)
	switch {
	case mine, ok && rec.Shared:
	case ok && rec.live():
		return false, "owned by " + rec.String()
	case ok:
		return false, "no live owner: started by " + rec.String() + ", which has exited; serve adopts it, or stop it with pg_ctl"
	default:
		return false, "no owner record: started outside switchboard or by an older version; stop it with pg_ctl"
	}
	handOff := func(reason string) (bool, string) {
		if mine {
			if err := c.writeOwner(true); err != nil {
				c.logger.Warn("embedded PostgreSQL: recording the hand-off", "err", err)
			}
		}
		return false, reason + "; the last switchboard process to leave stops it"
	}
	if f, err := os.OpenFile(filepath.Join(c.dir, inUseLockName), os.O_RDWR|os.O_CREATE, 0o600); err == nil {
		free, _ := tryLock(f, true)
		_ = f.Close()
		if !free {
			return handOff("in use by other switchboard processes")
		}
	}
	sessions, err := c.otherSessions(ctx)
	if err != nil {
		// A server we cannot even query serves nobody; stopping it is safe.
		c.logger.Warn("embedded PostgreSQL: could not list its sessions; stopping it anyway", "err", err)
	}
	if len(sessions) > 0 {
		return handOff(fmt.Sprintf("%d other client session(s) connected: %s", len(sessions), summarize(sessions, 5)))
	}
	return true, ""
}

// sessionGrace is how long Stop waits for other client sessions to end
// before leaving the server running: a pool closed just before Stop may
// still have backends on their way out.
var sessionGrace = 2 * time.Second

// otherSessions lists the client sessions other than the one it uses
// ("user@database (application)"), once none remain or sessionGrace passed.
func (c *Cluster) otherSessions(ctx context.Context) ([]string, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(cctx, c.url(superuser, "", "postgres"))
	if err != nil {
		return nil, fmt.Errorf("pgembed: connecting as superuser: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	deadline := time.Now().Add(sessionGrace)
	for {
		rows, err := conn.Query(cctx, `SELECT coalesce(usename, '?') || '@' || coalesce(datname, '?') ||
				CASE WHEN application_name <> '' THEN ' (' || application_name || ')' ELSE '' END
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() ORDER BY 1`)
		if err != nil {
			return nil, fmt.Errorf("pgembed: listing sessions: %w", err)
		}
		sessions, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("pgembed: listing sessions: %w", err)
		}
		if len(sessions) == 0 || time.Now().After(deadline) {
			return sessions, nil
		}
		select {
		case <-cctx.Done():
			return sessions, nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// summarize joins at most n items, saying how many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

// lockFile waits for a flock on path, polling so that ctx can end the wait.
// Closing the returned file releases the lock.
func lockFile(ctx context.Context, path string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pgembed: %w", err)
	}
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("pgembed: locking %s: %w", path, err)
		}
		if ok {
			return f, nil
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("pgembed: waiting for %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// lock takes the start lock, which serializes initdb, start, bootstrap,
// ownership changes and stops across processes.
func (c *Cluster) lock(ctx context.Context) (unlock func(), err error) {
	f, err := lockFile(ctx, filepath.Join(c.dir, startLockName), true)
	if err != nil {
		return nil, err
	}
	return func() { _ = f.Close() }, nil
}

// register takes this handle's shared in-use lock, which tells an owner
// about to stop the server that a switchboard process still needs it (the
// kernel drops it when the process dies, so it never goes stale).
func (c *Cluster) register(ctx context.Context) error {
	f, err := lockFile(ctx, filepath.Join(c.dir, inUseLockName), false)
	if err != nil {
		return err
	}
	c.inUse = f
	return nil
}

// unregister drops the in-use lock.
func (c *Cluster) unregister() {
	if c.inUse != nil {
		_ = c.inUse.Close()
		c.inUse = nil
	}
}

// recordedPort reads Dir/port; 0 when there is none.
func (c *Cluster) recordedPort() int {
	b, err := os.ReadFile(filepath.Join(c.dir, portFileName))
	if err != nil {
		return 0
	}
	p, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || p <= 0 || p > 65535 {
		return 0
	}
	return p
}

// recordPort keeps port for the next start, so a printed URL stays valid.
func (c *Cluster) recordPort(port int) {
	if c.recordedPort() == port {
		return
	}
	if err := writeFileAtomic(filepath.Join(c.dir, portFileName), []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		c.logger.Warn("embedded PostgreSQL: recording the port", "err", err)
	}
}

// portFree reports whether nothing listens on 127.0.0.1:port.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	_ = l.Close()
	return true
}

// writeFileAtomic writes path through a temporary file and a rename, so a
// reader never sees half a file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("pgembed: %w", err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("pgembed: writing %s: %w", path, err)
	}
	return nil
}

// newHandle returns a random id for one Cluster value.
func newHandle() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
