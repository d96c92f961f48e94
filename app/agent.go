package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shirou/gopsutil/v4/cpu"
	"github.com/shirou/gopsutil/v4/disk"
	"github.com/shirou/gopsutil/v4/host"
	"github.com/shirou/gopsutil/v4/mem"
	"github.com/spf13/cobra"

	"switchboard/modules/agents"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// Agent timing: retries start at agentRetryBase and double, with jitter, up
// to agentRetryCap, so a fleet that lost its server does not come back in
// lockstep.
const (
	agentRetryBase   = time.Second
	agentRetryCap    = time.Minute
	agentHTTPTimeout = 30 * time.Second
	agentMinInterval = time.Second
	agentMaxInterval = 24 * time.Hour
	agentMaxUptime   = 100 * 365 * 24 * 3600 // seconds; the server refuses more
)

func newAgentCommand() *cobra.Command {
	var (
		server, token, statePath string
		interval                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the endpoint agent: enroll once, then check in with this machine's metrics",
		Long: `Run the endpoint agent on a client's machine.

The first run enrolls with --server and --token (an enrollment token created
for the client) and stores the endpoint's credential in the state file
(mode 0600). Later runs need neither: the state file says where and who.
The agent then checks in every interval with hostname, OS, uptime, CPU %,
memory % and disk % per mount, retrying with backoff while the server is
unreachable. It stops on SIGINT or SIGTERM, and exits with an error when the
server refuses its credential (revoked, or the machine enrolled again).`,
		Example: `  switchboard agent --server https://msp.example.com --token sbe_12_...
  switchboard agent --state /var/lib/switchboard/agent.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval != 0 && (interval < agentMinInterval || interval > agentMaxInterval) {
				return usagef("--interval must be between %s and %s, not %s", agentMinInterval, agentMaxInterval, interval)
			}
			if server != "" {
				normalized, err := normalizeServerURL(server)
				if err != nil {
					return usagef("--server: %v", err)
				}
				server = normalized
			}
			if statePath == "" {
				return usagef("--state must name a file")
			}
			a := &agentRunner{
				server: server, token: token, statePath: statePath, interval: interval,
				client:    &http.Client{Timeout: agentHTTPTimeout},
				log:       agentLogger(cmd),
				collect:   (&collector{}).collect,
				retryBase: agentRetryBase, retryCap: agentRetryCap,
			}
			return a.run(cmd.Context())
		},
	}
	f := cmd.Flags()
	f.StringVar(&server, "server", "", "URL of the Switchboard server (needed to enroll)")
	f.StringVar(&token, "token", "", "enrollment token (needed to enroll)")
	f.StringVar(&statePath, "state", defaultAgentState(), "state file holding the endpoint's credential")
	f.DurationVar(&interval, "interval", 0, "check-in interval; 0 uses the one the server's policy sets")
	return cmd
}

// defaultAgentState is the per-user configuration folder, e.g.
// ~/.config/switchboard/agent.json (root's when run as a service).
func defaultAgentState() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "switchboard-agent.json"
	}
	return filepath.Join(dir, "switchboard", "agent.json")
}

// agentLogger logs to the command's error stream at the global --log-level.
func agentLogger(cmd *cobra.Command) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if f := cmd.Flags().Lookup("log-level"); f != nil && f.Value.String() != "" {
		var l slog.Level
		if l.UnmarshalText([]byte(f.Value.String())) == nil {
			opts.Level = l
		}
	}
	if f := cmd.Flags().Lookup("log-format"); f != nil && f.Value.String() == "json" {
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), opts))
	}
	return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), opts))
}

// normalizeServerURL accepts http(s)://host[:port][/prefix] and drops a trailing slash.
func normalizeServerURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an http(s) URL of a server", raw)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// agentState is what the agent keeps between runs.
type agentState struct {
	Server     string    `json:"server"`
	EndpointID int64     `json:"endpoint_id"`
	Credential string    `json:"credential"`
	Hostname   string    `json:"hostname"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// loadAgentState reads the state file; (nil, nil) when there is none yet.
// A file others may read is refused: it holds the endpoint's credential.
func loadAgentState(path string) (*agentState, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading agent state: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("agent state %s is not a regular file", path)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("agent state %s has mode %04o: it holds a credential, so only its owner may read it (chmod 600 %s)",
			path, info.Mode().Perm(), path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading agent state: %w", err)
	}
	var st agentState
	if err := json.Unmarshal(b, &st); err != nil || st.Server == "" || st.Credential == "" {
		return nil, fmt.Errorf("agent state %s is damaged; remove it and enroll again", path)
	}
	return &st, nil
}

// saveAgentState writes the state atomically: a 0600 temporary file in the
// same folder, synced, then renamed over the old one, so a crash leaves
// either the old state or the new one, never half of either.
func saveAgentState(path string, st agentState) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the state folder: %w", err)
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding agent state: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".agent-state-*")
	if err != nil {
		return fmt.Errorf("writing agent state: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("writing agent state: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing agent state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("writing agent state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing agent state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing agent state: %w", err)
	}
	return nil
}

// agentRunner is one run of the agent.
type agentRunner struct {
	server, token, statePath string
	interval                 time.Duration // 0: the server's
	client                   *http.Client
	log                      *slog.Logger
	collect                  func(context.Context) (agents.Report, error)
	retryBase, retryCap      time.Duration
}

// apiError is an answer other than 200 from the server.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("server answered %d: %s", e.status, e.msg) }

// retryable: the server is down, overloaded or restarting; try again later.
func retryable(err error) bool {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status >= 500 || ae.status == http.StatusTooManyRequests || ae.status == http.StatusRequestTimeout
	}
	return !errors.Is(err, context.Canceled)
}

// run enrolls if needed, then checks in until ctx ends. It returns nil on
// cancellation (SIGINT/SIGTERM) and an error when it cannot go on.
func (a *agentRunner) run(ctx context.Context) error {
	st, err := loadAgentState(a.statePath)
	if err != nil {
		return err
	}
	if st == nil {
		if a.server == "" || a.token == "" {
			return usagef("no agent state at %s: pass --server and --token to enroll", a.statePath)
		}
		if st, err = a.enroll(ctx); err != nil || st == nil {
			return err
		}
	} else {
		if a.server != "" && a.server != st.Server {
			return usagef("agent state %s belongs to %s; remove it to enroll with %s", a.statePath, st.Server, a.server)
		}
		if a.token != "" {
			a.log.Info("already enrolled; --token is ignored", "state", a.statePath, "endpoint", st.EndpointID)
		}
	}
	if strings.HasPrefix(st.Server, "http://") && !loopback(st.Server) {
		a.log.Warn("the server URL is not https: the endpoint credential travels unencrypted", "server", st.Server)
	}
	return a.checkInLoop(ctx, st)
}

// enroll trades the token for a credential, retrying while the server is
// unreachable, and stores the state. (nil, nil) means ctx ended first.
func (a *agentRunner) enroll(ctx context.Context) (*agentState, error) {
	var b backoff
	for {
		rep, err := a.collect(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading this machine's details: %w", err)
		}
		var res agents.EnrollResponse
		err = a.post(ctx, a.server+agents.EnrollPath, "", agents.EnrollRequest{Token: a.token, Hostname: rep.Hostname, OS: rep.OS}, &res)
		if err == nil {
			st := agentState{Server: a.server, EndpointID: res.EndpointID, Credential: res.Credential, Hostname: rep.Hostname, EnrolledAt: time.Now().UTC()}
			if err := saveAgentState(a.statePath, st); err != nil {
				return nil, err
			}
			a.log.Info("enrolled", "server", a.server, "endpoint", res.EndpointID, "hostname", rep.Hostname, "state", a.statePath)
			return &st, nil
		}
		if !retryable(err) {
			if ctx.Err() != nil {
				return nil, nil
			}
			return nil, fmt.Errorf("enrollment refused: %w", err)
		}
		wait := b.next(a.retryBase, a.retryCap)
		a.log.Warn("enrollment failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		if !sleep(ctx, wait) {
			return nil, nil
		}
	}
}

// checkInLoop reports every interval until ctx ends or the credential is refused.
func (a *agentRunner) checkInLoop(ctx context.Context, st *agentState) error {
	var b backoff
	interval := time.Minute
	for {
		wait, err := a.checkIn(ctx, st)
		switch {
		case ctx.Err() != nil:
			a.log.Info("agent stopped")
			return nil
		case err == nil:
			b.reset()
			interval = wait
			if a.interval > 0 {
				interval = a.interval
			}
			wait = interval
		case isStatus(err, http.StatusUnauthorized):
			return fmt.Errorf("the server refused this endpoint's credential (%w); it was revoked or the machine was enrolled again: remove %s and enroll with a new token", err, a.statePath)
		case retryable(err):
			wait = b.next(a.retryBase, a.retryCap)
			a.log.Warn("check-in failed; retrying", "err", err, "retry_in", wait.Round(time.Millisecond))
		default:
			// The server refused this report (e.g. 400): sending it again at
			// once would be refused again; try with fresh numbers next interval.
			b.reset()
			wait = interval
			a.log.Error("check-in refused", "err", err, "next_in", wait)
		}
		if !sleep(ctx, wait) {
			a.log.Info("agent stopped")
			return nil
		}
	}
}

// checkIn sends one report and returns the interval the server asks for.
func (a *agentRunner) checkIn(ctx context.Context, st *agentState) (time.Duration, error) {
	rep, err := a.collect(ctx)
	if err != nil {
		return 0, fmt.Errorf("collecting metrics: %w", err)
	}
	var res agents.CheckInResponse
	if err := a.post(ctx, st.Server+agents.CheckInPath, st.Credential, rep, &res); err != nil {
		return 0, err
	}
	next := time.Duration(res.NextCheckInSeconds) * time.Second
	if next < agentMinInterval || next > agentMaxInterval {
		next = time.Minute
	}
	a.log.Debug("checked in", "cpu_percent", rep.CPUPercent, "memory_percent", rep.MemoryPercent, "disks", len(rep.Disks), "next_in", next)
	return next, nil
}

// post sends body as JSON and decodes a 200 answer into out.
func (a *agentRunner) post(ctx context.Context, url, credential string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encoding request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "switchboard-agent")
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	res, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("reaching %s: %w", url, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", url, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			msg = e.Error
		}
		if len(msg) > 300 {
			msg = msg[:300] + "…"
		}
		return &apiError{status: res.StatusCode, msg: msg}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &apiError{status: http.StatusBadGateway, msg: "the answer is not the JSON expected: " + err.Error()}
	}
	return nil
}

func isStatus(err error, code int) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.status == code
}

// loopback reports whether the server URL's host is this machine.
func loopback(server string) bool {
	u, err := url.Parse(server)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// backoff yields exponentially growing waits with jitter.
type backoff struct{ attempt int }

// next returns a wait in [d/2, d] where d = base·2^attempt, capped at ceiling.
func (b *backoff) next(base, ceiling time.Duration) time.Duration {
	d := ceiling
	if b.attempt < 30 {
		d = min(base<<b.attempt, ceiling)
	}
	b.attempt++
	half := d / 2
	return half + rand.N(half+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits for d; false if ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// collector reads this machine's metrics with gopsutil.
type collector struct {
	prev *cpu.TimesStat // the previous sample, so CPU % covers the time between check-ins
}

func (c *collector) collect(ctx context.Context) (agents.Report, error) {
	info, err := host.InfoWithContext(ctx)
	if err != nil {
		return agents.Report{}, fmt.Errorf("reading host details: %w", err)
	}
	vm, err := mem.VirtualMemoryWithContext(ctx)
	if err != nil {
		return agents.Report{}, fmt.Errorf("reading memory: %w", err)
	}
	cpuPct, err := c.cpuPercent(ctx)
	if err != nil {
		return agents.Report{}, err
	}
	osName := strings.TrimSpace(info.Platform + " " + info.PlatformVersion)
	if osName == "" {
		osName = info.OS
	}
	return agents.Report{
		Hostname:      info.Hostname,
		OS:            osName,
		UptimeSeconds: int64(min(info.Uptime, agentMaxUptime)),
		CPUPercent:    clampPercent(cpuPct),
		MemoryPercent: clampPercent(vm.UsedPercent),
		Disks:         diskUsage(ctx),
	}, nil
}

// cpuPercent is the busy share of CPU time since the previous call; the
// first call measures over half a second.
func (c *collector) cpuPercent(ctx context.Context) (float64, error) {
	read := func() (cpu.TimesStat, error) {
		ts, err := cpu.TimesWithContext(ctx, false)
		if err != nil || len(ts) == 0 {
			return cpu.TimesStat{}, fmt.Errorf("reading CPU times: %w", errors.Join(err, errors.New("no CPU times")))
		}
		return ts[0], nil
	}
	if c.prev == nil {
		first, err := read()
		if err != nil {
			return 0, err
		}
		c.prev = &first
		if !sleep(ctx, 500*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
	cur, err := read()
	if err != nil {
		return 0, err
	}
	busy1, total1 := cpuBusy(*c.prev)
	busy2, total2 := cpuBusy(cur)
	c.prev = &cur
	if total2 <= total1 {
		return 0, nil
	}
	return (busy2 - busy1) / (total2 - total1) * 100, nil
}

// cpuBusy returns busy and total CPU seconds. Guest time is already counted
// in user time by Linux, so it is not added again.
func cpuBusy(t cpu.TimesStat) (busy, total float64) {
	total = t.User + t.System + t.Idle + t.Nice + t.Iowait + t.Irq + t.Softirq + t.Steal
	return total - t.Idle - t.Iowait, total
}

// pseudoFS are file system types that hold no user data worth watching:
// read-only images are always "full" and would alert forever.
var pseudoFS = map[string]bool{"squashfs": true, "iso9660": true, "udf": true, "tmpfs": true, "devtmpfs": true,
	"overlay": true, "nsfs": true, "tracefs": true, "ramfs": true, "autofs": true, "fuse.lxcfs": true}

// pseudoMounts are folders under which mounts belong to the system, not to disks.
var pseudoMounts = []string{"/proc", "/sys", "/dev", "/run", "/snap", "/var/lib/docker", "/var/lib/containers"}

// diskUsage returns the used percentage of each real mounted file system,
// once per device (bind mounts and subvolumes repeat a device; the shortest
// mount point stands for it).
func diskUsage(ctx context.Context) []agents.Disk {
	parts, err := disk.PartitionsWithContext(ctx, false)
	if err != nil && len(parts) == 0 {
		return []agents.Disk{}
	}
	sort.Slice(parts, func(i, j int) bool {
		if len(parts[i].Mountpoint) != len(parts[j].Mountpoint) {
			return len(parts[i].Mountpoint) < len(parts[j].Mountpoint)
		}
		return parts[i].Mountpoint < parts[j].Mountpoint
	})
	seen := map[string]bool{}
	out := []agents.Disk{}
	for _, p := range parts {
		if pseudoFS[p.Fstype] || seen[p.Device] || seen["mount:"+p.Mountpoint] || underPseudo(p.Mountpoint) {
			continue
		}
		if fi, err := os.Stat(p.Mountpoint); err != nil || !fi.IsDir() {
			continue // a file bind-mounted into a container, or gone
		}
		u, err := disk.UsageWithContext(ctx, p.Mountpoint)
		if err != nil || u.Total == 0 {
			continue
		}
		seen[p.Device], seen["mount:"+p.Mountpoint] = true, true
		out = append(out, agents.Disk{Mount: p.Mountpoint, UsedPercent: clampPercent(u.UsedPercent)})
		if len(out) == 64 {
			break
		}
	}
	return out
}

func underPseudo(mount string) bool {
	for _, p := range pseudoMounts {
		if mount == p || strings.HasPrefix(mount, p+"/") {
			return true
		}
	}
	return false
}

// clampPercent keeps rounding noise inside the 0-100 the server accepts.
func clampPercent(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return math.Round(min(v, 100)*100) / 100
}

// tenantEnrollmentTokenCommand manages a client's agent enrollment tokens:
// "switchboard tenant enrollment-token create|list|revoke".
func tenantEnrollmentTokenCommand() *cobra.Command {
	c := &cobra.Command{Use: "enrollment-token", Short: "Manage a client's agent enrollment tokens"}
	create := &cobra.Command{Use: "create SLUG --name NAME [--ttl D] [--max-uses N]",
		Short: "Create an enrollment token; the token is printed once", Args: cobra.ExactArgs(1),
		Example: `  switchboard tenant enrollment-token create acme-health --name "office PCs" --ttl 72h --max-uses 25`}
	name := create.Flags().String("name", "", "what the token is for (required)")
	ttl := create.Flags().Duration("ttl", 7*24*time.Hour, "how long the token can enroll endpoints")
	maxUses := create.Flags().Int("max-uses", 1, "how many endpoints it can enroll")
	create.RunE = func(cmd *cobra.Command, args []string) error {
		if *name == "" {
			return usagef("--name is required")
		}
		return withAgents(cmd, args[0], func(e *env, svc *agents.Service, t tenancy.Tenant) error {
			plain, tok, err := svc.CreateToken(cmd.Context(), t, *name, *ttl, *maxUses)
			if err != nil {
				return agentUserError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Enrollment token %q (%s) for %s, %d use(s) until %s:\n%s\nStore it now: it cannot be shown again. On each machine run:\n  switchboard agent --server URL --token %s\n",
				tok.Name, tok.Prefix, args[0], tok.MaxUses, tok.ExpiresAt.Format("2006-01-02 15:04 MST"), plain, plain)
			return nil
		})
	}
	list := &cobra.Command{Use: "list SLUG", Short: "List a client's enrollment tokens", Args: cobra.ExactArgs(1)}
	out := outputFlag(list)
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if err := checkOutput(*out); err != nil {
			return err
		}
		return withAgents(cmd, args[0], func(e *env, svc *agents.Service, t tenancy.Tenant) error {
			toks, err := svc.ListTokens(cmd.Context(), t)
			if err != nil {
				return err
			}
			if *out == "json" {
				return writeJSON(cmd.OutOrStdout(), orEmpty(toks))
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPREFIX\tNAME\tUSES\tEXPIRES\tCREATED BY\tREVOKED")
			for _, k := range toks {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", k.ID, k.Prefix, k.Name, k.Uses, k.MaxUses,
					k.ExpiresAt.Format("2006-01-02 15:04"), k.CreatedBy, stamp(k.RevokedAt))
			}
			return tw.Flush()
		})
	}
	revoke := &cobra.Command{Use: "revoke SLUG ID", Short: "Revoke an enrollment token by the id 'enrollment-token list' shows", Args: cobra.ExactArgs(2)}
	revoke.RunE = func(cmd *cobra.Command, args []string) error {
		id, err := strconv.ParseInt(args[1], 10, 64)
		if err != nil || id <= 0 {
			return usagef("token id must be a number, not %q", args[1])
		}
		return withAgents(cmd, args[0], func(e *env, svc *agents.Service, t tenancy.Tenant) error {
			if err := svc.RevokeToken(cmd.Context(), t, id); err != nil {
				return agentUserError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "revoked enrollment token %d of %s\n", id, args[0])
			return nil
		})
	}
	c.AddCommand(create, list, revoke)
	return c
}

// withAgents runs fn with an opened environment, the agents service and
// the client named slug.
func withAgents(cmd *cobra.Command, slug string, fn func(e *env, svc *agents.Service, t tenancy.Tenant) error) error {
	return withTenants(cmd, func(e *env) error {
		tn, err := e.tenants.Get(cmd.Context(), slug)
		if err != nil {
			return err
		}
		svc := agents.NewService(agents.Options{Tenants: e.tenants, Policies: policies.NewService(e.cluster), Alerts: e.alerts, Logger: e.log})
		return fn(e, svc, e.tenants.Scope(tn))
	})
}

// agentUserError makes the agents module's input errors exit with status 2.
func agentUserError(err error) error {
	if errors.Is(err, agents.ErrInvalid) || errors.Is(err, agents.ErrNotFound) {
		return usagef("%v", err)
	}
	return err
}
