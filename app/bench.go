package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/modules/tenants"
	"switchboard/platform/pgembed"
	"switchboard/platform/tenancy"
)

// Targets from the performance issue; provisioning and the one-column
// migration are stated at targetTenants tenants.
const (
	targetTenants      = 10000
	targetProvisionP50 = 50 * time.Millisecond
	targetProvisionP99 = 150 * time.Millisecond
	targetMigrateNoop  = time.Second
	targetMigrateOne   = 120 * time.Second // at targetTenants; scaled linearly below
	targetDoRatio      = 1.5
	// targetProvisionFlat bounds how much slower provisioning may get as
	// the fleet fills (the cost must not grow with the number of tenants).
	targetProvisionFlat = 1.2
)

// benchRowsCount is the size of the table the read benchmark picks rows from.
const benchRowsCount = 1000

// benchGoroutines is the parallelism of the parallel read benchmark.
const benchGoroutines = 8

// benchRounds splits each read benchmark into interleaved rounds, so drift
// (autovacuum, checkpoints, CPU frequency) spreads over all variants alike.
const benchRounds = 5

// benchOptions are the command's flags.
type benchOptions struct {
	tenants int
	workers int
	reads   int
	keep    bool

	loadRequests    int
	loadConcurrency int
	cpuProfile      string
	only            string // "noisy", "home" or "ingest": provision, then only that phase
}

func newBenchCommand() *cobra.Command {
	opts := benchOptions{}
	c := &cobra.Command{
		Use:   "bench",
		Short: "Measure provisioning, fleet migrations and tenancy.Do overhead on a fresh cluster",
		Long: `Start a fresh, throwaway embedded PostgreSQL cluster (never the one in .data,
and with production durability: fsync on), then in one run measure:

  - provisioning latency of --tenants tenants through the tenants service,
  - 'migrate' with nothing pending over all of them,
  - 'migrate' of one new migration (a column and an index) over all of them,
  - tenancy.Do overhead: primary-key reads inside Do versus bare reads on the
    pool, with one goroutine and with 8,
  - alert ingestion throughput and latency through a real server on loopback,
    from a bounded load generator, spread over every tenant, beside the
    same transaction issued straight through pgx (--only ingest runs just
    these and agent check-ins after provisioning),
  - a noisy neighbour: quiet clients' ingestion latency alone and beside one
    client's flood, with the default rate limits and with them lifted
    (--only noisy runs just this after provisioning),
  - the staff console's home page, as an owner sees it after the noisy
    neighbour's alerts (--only home runs just these two after provisioning).

It prints one table of measure, value, target and whether the target is met,
then stops the cluster and deletes it (unless --keep). --database-url and
--data-dir are ignored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := opts.check(); err != nil {
				return err
			}
			return runBench(cmd, opts)
		},
	}
	c.AddCommand(newBenchFloodCommand())
	f := c.Flags()
	f.IntVar(&opts.tenants, "tenants", 1000, "tenants to provision")
	f.IntVar(&opts.workers, "workers", runtime.NumCPU(), "tenants migrated in parallel")
	f.IntVar(&opts.reads, "reads", 20000, "reads per variant in the tenancy.Do benchmark")
	f.BoolVar(&opts.keep, "keep", false, "keep the cluster folder (stopped) and print its path")
	f.IntVar(&opts.loadRequests, "load-requests", 30000, "requests in the ingestion load test (0 skips it)")
	f.IntVar(&opts.loadConcurrency, "load-concurrency", 32, "concurrent connections of the load generator")
	f.StringVar(&opts.cpuProfile, "cpuprofile", "", "write a CPU profile of the load phases to this file (go tool pprof)")
	f.StringVar(&opts.only, "only", "", "run only this phase after provisioning: noisy (one client floods ingestion beside quiet ones), home (noisy, then the console home) or ingest (the anchor, alert ingestion and check-ins)")
	return c
}

// check rejects flag values the benchmark cannot run with.
func (o benchOptions) check() error {
	switch {
	case o.tenants < 1 || o.tenants > 999999:
		return usagef("--tenants must be between 1 and 999999, not %d", o.tenants)
	case o.workers < 1 || o.workers > 64:
		return usagef("--workers must be between 1 and 64, not %d", o.workers)
	case o.reads < 1:
		return usagef("--reads must be at least 1, not %d", o.reads)
	case o.loadRequests < 0 || o.loadConcurrency < 1 || o.loadConcurrency > 512:
		return usagef("--load-requests must be ≥ 0 and --load-concurrency 1-512")
	case o.only != "" && o.only != "noisy" && o.only != "home" && o.only != "ingest":
		return usagef("--only takes noisy, home or ingest (or nothing for every phase), not %q", o.only)
	case o.only != "" && o.tenants < 2:
		return usagef("--only %s needs --tenants 2 or more", o.only)
	}
	return nil
}

// runBench runs every phase against one fresh cluster and prints the table.
func runBench(cmd *cobra.Command, opts benchOptions) (err error) {
	ctx := cmd.Context()
	start := time.Now()
	stderr := cmd.ErrOrStderr()
	// The benchmark must see production durability, whatever the shell says.
	_ = os.Unsetenv("SWITCHBOARD_PG_NOSYNC")
	quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	fmt.Fprintln(stderr, "bench: starting a fresh PostgreSQL cluster")
	b, err := startBenchEnv(ctx, quiet)
	if err != nil {
		return err
	}
	defer func() { b.close(cmd.OutOrStdout(), stderr, opts.keep) }()

	header, err := b.header(ctx, opts)
	if err != nil {
		return err
	}
	var table benchTable
	phases := []func(context.Context, *benchEnv, benchOptions, *benchTable, io.Writer) error{
		benchCells, benchProvision, benchMigrateNoop,
	}
	if opts.tenants >= 2 {
		// Before the load phases, whose batch phase leaves deliveries to a
		// webhook that is gone, and before the migration (as they are).
		phases = append(phases, benchNoisy)
	}
	if opts.loadRequests > 0 {
		// Before the one-column migration: the server serves only tenants at
		// this binary's schema version.
		phases = append(phases, benchThroughput)
	}
	phases = append(phases, benchMigrateOne, benchDoOverhead)
	switch opts.only {
	case "noisy":
		phases = []func(context.Context, *benchEnv, benchOptions, *benchTable, io.Writer) error{benchCells, benchProvision, benchNoisy}
	case "home":
		phases = []func(context.Context, *benchEnv, benchOptions, *benchTable, io.Writer) error{benchCells, benchProvision, benchNoisy, benchHomeOnly}
	case "ingest":
		phases = []func(context.Context, *benchEnv, benchOptions, *benchTable, io.Writer) error{benchCells, benchProvision, benchIngestOnly}
	}
	for _, phase := range phases {
		if err := phase(ctx, b, opts, &table, stderr); err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("bench interrupted: %w", err)
			}
			return err
		}
	}
	w := cmd.OutOrStdout()
	fmt.Fprint(w, header)
	if err := table.print(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "bench took %s\n", time.Since(start).Round(time.Second))
	return nil
}

// benchEnv is the throwaway cluster and the services built on it.
type benchEnv struct {
	dir     string
	log     *slog.Logger
	pg      *pgembed.Cluster
	pg2     *pgembed.Cluster // the second server, holding the cell benchFarCell
	cluster *tenancy.Cluster
	svc     *tenants.Service
	load    *env // the server-side services of the load phase
}

// startBenchEnv creates a temp folder, starts a cluster in it, connects and
// migrates the control plane; on failure it cleans up what it made.
func startBenchEnv(ctx context.Context, log *slog.Logger) (b *benchEnv, err error) {
	dir, err := os.MkdirTemp("", "switchboard-bench-")
	if err != nil {
		return nil, fmt.Errorf("creating the bench folder: %w", err)
	}
	b = &benchEnv{dir: dir, log: log}
	defer func() {
		if err != nil {
			b.close(io.Discard, io.Discard, false)
		}
	}()
	// MkdirTemp makes it 0700; as root the server runs as the postgres OS
	// user, which must traverse it to reach the cluster folder below.
	if err := os.Chmod(dir, 0o755); err != nil {
		return b, fmt.Errorf("opening the bench folder: %w", err)
	}
	if b.pg, err = pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dir, "pg"), Logger: log}); err != nil {
		return b, fmt.Errorf("starting the bench cluster in %s: %w", dir, err)
	}
	if b.pg2, err = pgembed.Start(ctx, pgembed.Options{Dir: filepath.Join(dir, "pg2"), Logger: log}); err != nil {
		return b, fmt.Errorf("starting the second bench server in %s: %w", dir, err)
	}
	if b.cluster, err = tenancy.Open(ctx, b.pg.URL(), tenancy.Options{Pool: tenancy.PoolOptions{MaxOpen: 20},
		CellURLs: b.cellURLs()}); err != nil {
		return b, err
	}
	if _, err := db.MigrateControl(ctx, b.cluster.ControlDB(), db.Control()); err != nil {
		return b, fmt.Errorf("migrating the control plane: %w", err)
	}
	b.svc = tenants.NewService(b.cluster, tenants.Options{Logger: log})
	return b, nil
}

// close disconnects, stops the server and deletes the folder unless keep.
func (b *benchEnv) close(stdout, stderr io.Writer, keep bool) {
	if b.cluster != nil {
		_ = b.cluster.Close()
	}
	for _, pg := range []*pgembed.Cluster{b.pg, b.pg2} {
		if pg == nil {
			continue
		}
		// The shutdown checkpoint fsyncs every tenant's files, which takes a while.
		fmt.Fprintln(stderr, "bench: stopping a server")
		// Background: Stop must run even after Ctrl-C cancelled the command.
		if err := pg.Stop(context.Background()); err != nil {
			fmt.Fprintf(stderr, "bench: stopping a server: %v\n", err)
			keep = true // a server may still be using the folder
		}
	}
	if keep {
		fmt.Fprintf(stdout, "bench cluster kept in %s (start it with: switchboard --data-dir %s tenant list)\n",
			b.dir, filepath.Join(b.dir, "pg"))
		return
	}
	fmt.Fprintf(stderr, "bench: removing %s\n", b.dir)
	if err := os.RemoveAll(b.dir); err != nil {
		fmt.Fprintf(stderr, "bench: removing %s: %v\n", b.dir, err)
	}
}

// header describes the machine, the server and the run's size.
func (b *benchEnv) header(ctx context.Context, opts benchOptions) (string, error) {
	var s struct{ Version, Fsync, SyncCommit string }
	err := b.cluster.ControlDB().WithContext(ctx).Raw(`SELECT current_setting('server_version') AS version,
		current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS sync_commit`).Scan(&s).Error
	if err != nil {
		return "", fmt.Errorf("reading the server version: %w", err)
	}
	note := ""
	if opts.tenants != targetTenants {
		note = fmt.Sprintf(" (targets are stated at %d tenants)", targetTenants)
	}
	return fmt.Sprintf("switchboard bench: %d CPUs, %s/%s, PostgreSQL %s (fsync=%s, synchronous_commit=%s)\n"+
		"tenants: %d%s; migrate workers: %d; reads per variant: %d\n\n",
		runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, s.Version, s.Fsync, s.SyncCommit,
		opts.tenants, note, opts.workers, opts.reads), nil
}

// benchSlug is the slug of the i-th (1-based) bench tenant.
func benchSlug(i int) string { return fmt.Sprintf("bench-%06d", i) }

// benchProvision creates every tenant through the service, timing each.
func benchProvision(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	n := opts.tenants
	took := make([]time.Duration, n)
	prog := newProgress(stderr, "provisioning", n)
	start := time.Now()
	for i := range n {
		begin := time.Now()
		if _, err := b.svc.Create(ctx, tenants.CreateInput{Slug: benchSlug(i + 1), Name: fmt.Sprintf("Bench %d", i+1)}); err != nil {
			return fmt.Errorf("provisioning tenant %d of %d: %w", i+1, n, err)
		}
		took[i] = time.Since(begin)
		prog.update(i + 1)
	}
	total := time.Since(start)

	// Creation i (0-based) ran with i tenants already present.
	tailFrom := min(int(math.Ceil(0.9*float64(n))), n-1)
	tail := took[tailFrom:]
	t.atMost("provision p50 (all)", percentile(took, 0.50), targetProvisionP50, "")
	t.atMost("provision p99 (all)", percentile(took, 0.99), targetProvisionP99, "")
	t.info("provision max", fmtDuration(slices.Max(took)))
	t.atMost(fmt.Sprintf("provision p50 (≥ %d present)", tailFrom), percentile(tail, 0.50), targetProvisionP50, "")
	t.atMost(fmt.Sprintf("provision p99 (≥ %d present)", tailFrom), percentile(tail, 0.99), targetProvisionP99, "")
	// Flat: the last tenth against the first thousand (or tenth, if fewer).
	head := took[:max(min(1000, n/10), 1)]
	t.info(fmt.Sprintf("provision p50 (< %d present)", len(head)), fmtDuration(percentile(head, 0.50)))
	t.ratioAtMost(fmt.Sprintf("provision p50 flatness (≥ %d present / < %d present)", tailFrom, len(head)),
		float64(percentile(tail, 0.50))/float64(percentile(head, 0.50)), targetProvisionFlat)
	t.info(fmt.Sprintf("provision total (%d tenants)", n),
		fmt.Sprintf("%s (%.1f tenants/s)", fmtDuration(total), float64(n)/total.Seconds()))
	return nil
}

// benchMigrateNoop times a fleet migration with nothing pending; the first
// run warms caches, the second is reported.
func benchMigrateNoop(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	fmt.Fprintln(stderr, "bench: migrate with nothing pending (twice)")
	var report tenants.MigrateReport
	for range 2 {
		start := time.Now()
		r, err := b.svc.MigrateFleet(ctx, tenants.MigrateOptions{Workers: opts.workers})
		if err != nil {
			return fmt.Errorf("migrate with nothing pending: %w", err)
		}
		r.Elapsed = time.Since(start)
		report = r
	}
	if report.Migrated != 0 || report.Failed != 0 || report.Skipped != opts.tenants {
		return fmt.Errorf("migrate with nothing pending: migrated %d, failed %d, skipped %d; expected 0, 0 and %d",
			report.Migrated, report.Failed, report.Skipped, opts.tenants)
	}
	t.atMost("migrate, nothing pending (2nd run)", report.Elapsed, targetMigrateNoop, "")
	return nil
}

// benchMigrateOne applies one extra migration (a column and an index) to
// every tenant through a service built with the extended migration set.
func benchMigrateOne(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	n := opts.tenants
	set := db.Tenant().With(db.Migration{Name: "bench_add_column",
		SQL: "ALTER TABLE settings ADD COLUMN bench_note text; CREATE INDEX settings_bench_note_idx ON settings (bench_note)"})
	svc := tenants.NewService(b.cluster, tenants.Options{Migrations: set, Logger: b.log})
	prog := newProgress(stderr, "migrating", n)
	start := time.Now()
	report, err := svc.MigrateFleet(ctx, tenants.MigrateOptions{Workers: opts.workers, Progress: func(done, _ int) { prog.update(done) }})
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("migrate of one new migration: %w", err)
	}
	if report.Migrated != n || report.Failed != 0 {
		first := ""
		if len(report.Failures) > 0 {
			first = fmt.Sprintf("; first failure: %s: %s", report.Failures[0].Slug, report.Failures[0].Error)
		}
		return fmt.Errorf("migrate of one new migration: migrated %d of %d, failed %d%s", report.Migrated, n, report.Failed, first)
	}

	target := time.Duration(float64(targetMigrateOne) * float64(n) / targetTenants)
	note := ""
	if n != targetTenants {
		note = fmt.Sprintf(" (scaled to %d tenants)", n)
	}
	t.atMost("migrate, one column + index: wall", wall, target, note)
	t.info("migrate, one column + index: throughput", fmt.Sprintf("%.0f tenants/s", float64(n)/wall.Seconds()))
	t.info(fmt.Sprintf("migrate, one column + index: per tenant (wall × %d / N)", opts.workers),
		fmtDuration(wall*time.Duration(opts.workers)/time.Duration(n)))
	if len(report.Slowest) > 0 {
		t.info("migrate, one column + index: slowest tenant", fmtDuration(report.Slowest[0].Duration))
	}
	return nil
}

// readFunc reads the payload of one row by primary key.
type readFunc func(ctx context.Context, id int) (string, error)

// readVariant is one way of reading a row, timed against the others.
type readVariant struct {
	name string
	read readFunc
}

// benchDoOverhead compares primary-key reads inside tenancy.Do with bare
// reads on the pool, and with bare reads in an explicit transaction.
func benchDoOverhead(ctx context.Context, b *benchEnv, opts benchOptions, t *benchTable, stderr io.Writer) error {
	fmt.Fprintf(stderr, "bench: tenancy.Do overhead (%d reads × 3 variants, 1 and %d goroutines)\n", opts.reads, benchGoroutines)
	// A tenant on the control plane's server, where the bare table is.
	var tenant tenants.Tenant
	for i := 1; tenant.Cell != benchNearCell && i <= min(opts.tenants, 3); i++ {
		var err error
		if tenant, err = b.svc.Get(ctx, benchSlug(i)); err != nil {
			return err
		}
	}
	scope := b.svc.Scope(tenant)
	if err := createReadTables(ctx, b.cluster, scope); err != nil {
		return err
	}
	variants := readVariants(b.cluster.ControlDB(), scope)
	// Warm up every pool connection the parallel run will use, and every
	// per-connection statement cache, before anything is timed.
	if _, err := timeReads(ctx, variants, max(opts.reads/10, 100*benchGoroutines), benchGoroutines); err != nil {
		return err
	}
	for _, g := range []int{1, benchGoroutines} {
		perOp, err := timeReads(ctx, variants, opts.reads, g)
		if err != nil {
			return err
		}
		mode := "1 goroutine"
		if g > 1 {
			mode = fmt.Sprintf("%d goroutines, wall / reads", g)
		}
		for i, v := range variants {
			t.info(fmt.Sprintf("read, %s (%s)", v.name, mode), fmtMicros(perOp[i]))
		}
		bare, inTx, do := perOp[0], perOp[1], perOp[2]
		t.ratioAtMost(fmt.Sprintf("Do / bare (%s)", mode), float64(do)/float64(bare), targetDoRatio)
		t.info(fmt.Sprintf("Do / bare in transaction (%s)", mode), fmt.Sprintf("%.2f×", float64(do)/float64(inTx)))
	}
	return nil
}

// createReadTables makes the same 1000-row table inside the tenant (through
// Do, as the tenant role) and in a schema the app role owns.
func createReadTables(ctx context.Context, c *tenancy.Cluster, scope tenancy.Tenant) error {
	const body = ` (id int PRIMARY KEY, payload text);
		INSERT INTO %[1]s SELECT g, md5(g::text) FROM generate_series(1, %[2]d) g;
		ANALYZE %[1]s`
	err := tenancy.Do(ctx, scope, func(tx *gorm.DB) error {
		return tx.Exec(fmt.Sprintf("CREATE TABLE bench_rows"+body, "bench_rows", benchRowsCount)).Error
	})
	if err != nil {
		return fmt.Errorf("creating the tenant's bench table: %w", err)
	}
	err = c.ControlDB().WithContext(ctx).Exec(fmt.Sprintf("CREATE SCHEMA bench_direct; CREATE TABLE bench_direct.bench_rows"+body,
		"bench_direct.bench_rows", benchRowsCount)).Error
	if err != nil {
		return fmt.Errorf("creating the bare bench table: %w", err)
	}
	return nil
}

// readVariants returns bare, bare-in-transaction and Do, in that order.
func readVariants(root *gorm.DB, scope tenancy.Tenant) []readVariant {
	const bareQ = "SELECT payload FROM bench_direct.bench_rows WHERE id = ?"
	const tenantQ = "SELECT payload FROM bench_rows WHERE id = ?"
	return []readVariant{
		{"bare pool", func(ctx context.Context, id int) (s string, err error) {
			err = root.WithContext(ctx).Raw(bareQ, id).Scan(&s).Error
			return s, err
		}},
		{"bare in GORM transaction", func(ctx context.Context, id int) (s string, err error) {
			err = root.WithContext(ctx).Transaction(func(tx *gorm.DB) error { return tx.Raw(bareQ, id).Scan(&s).Error })
			return s, err
		}},
		{"tenancy.Do", func(ctx context.Context, id int) (s string, err error) {
			err = tenancy.Do(ctx, scope, func(tx *gorm.DB) error { return tx.Raw(tenantQ, id).Scan(&s).Error })
			return s, err
		}},
	}
}

// timeReads runs reads random-id reads of each variant over goroutines and
// returns the wall time per read of each. The reads are split into rounds
// with the variants' order rotated each round.
func timeReads(ctx context.Context, variants []readVariant, reads, goroutines int) ([]time.Duration, error) {
	total := make([]time.Duration, len(variants))
	for r := range benchRounds {
		quota := reads*(r+1)/benchRounds - reads*r/benchRounds
		for k := range variants {
			i := (k + r) % len(variants)
			took, err := runReads(ctx, variants[i], quota, goroutines)
			if err != nil {
				return nil, err
			}
			total[i] += took
		}
	}
	for i := range total {
		total[i] /= time.Duration(reads)
	}
	return total, nil
}

// runReads performs ops reads of one variant shared among goroutines and
// returns the wall time.
func runReads(ctx context.Context, v readVariant, ops, goroutines int) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range goroutines {
		wg.Go(func() {
			for next.Add(1) <= int64(ops) {
				id := rand.IntN(benchRowsCount) + 1
				s, err := v.read(ctx, id)
				if err == nil && s == "" {
					err = fmt.Errorf("row %d not found", id)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("bench read (%s): %w", v.name, err) })
					next.Store(int64(ops)) // stop the others early
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// percentile returns the nearest-rank p-th percentile (0 < p ≤ 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := int(math.Ceil(p * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// benchRow is one line of the result table.
type benchRow struct{ measure, value, target, met string }

// benchTable collects rows; "met?" is always computed from the value.
type benchTable struct{ rows []benchRow }

// info adds a row with no target, for context.
func (t *benchTable) info(measure, value string) {
	t.rows = append(t.rows, benchRow{measure, value, "—", ""})
}

// atMost adds a duration row with its target; note qualifies the target.
func (t *benchTable) atMost(measure string, got, limit time.Duration, note string) {
	t.rows = append(t.rows, benchRow{measure, fmtDuration(got), "≤ " + fmtDuration(limit) + note, yesNo(got <= limit)})
}

// ratioAtLeast adds a ratio row with a lower bound.
func (t *benchTable) ratioAtLeast(measure string, got, limit float64) {
	t.rows = append(t.rows, benchRow{measure, fmt.Sprintf("%.2f×", got), fmt.Sprintf("≥ %.1f×", limit), yesNo(got >= limit)})
}

// ratioAtMost adds a ratio row with its target.
func (t *benchTable) ratioAtMost(measure string, got, limit float64) {
	t.rows = append(t.rows, benchRow{measure, fmt.Sprintf("%.2f×", got), fmt.Sprintf("≤ %.1f×", limit), yesNo(got <= limit)})
}

// print writes the rows as one aligned table.
func (t *benchTable) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MEASURE\tVALUE\tTARGET\tMET?")
	for _, r := range t.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.measure, r.value, r.target, r.met)
	}
	return tw.Flush()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

// fmtDuration prints milliseconds below a second and seconds above.
func fmtDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

// fmtMicros prints a per-operation time in microseconds.
func fmtMicros(d time.Duration) string {
	return fmt.Sprintf("%.1f µs/op", float64(d)/float64(time.Microsecond))
}

// progress reports a long phase on stderr: in place on a terminal (about
// every 1%, at most every 100), one line per 10% otherwise (logs, pipes).
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int
	every int
	start time.Time
}

func newProgress(w io.Writer, label string, total int) *progress {
	p := &progress{w: w, label: label, total: total, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.tty = term.IsTerminal(int(f.Fd()))
	}
	p.every = max(total/10, 1)
	if p.tty {
		p.every = max(min(total/100, 100), 1)
	}
	return p
}

// update reports done of total when it crosses a step or finishes.
func (p *progress) update(done int) {
	if done != p.total && done%p.every != 0 {
		return
	}
	line := fmt.Sprintf("%s %d/%d (%s)", p.label, done, p.total, time.Since(p.start).Round(time.Second))
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	fmt.Fprintf(p.w, "\r%s   ", line)
	if done == p.total {
		fmt.Fprintln(p.w)
	}
}
