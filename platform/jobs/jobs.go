// Package jobs runs background work in PostgreSQL with River. Its tables
// live in the control plane (schema control), so any number of replicas can
// insert and work jobs with no coordinator of their own. A job that works on
// one tenant's data carries the tenant's id (TenantArgs) and enters the
// tenant plane through tenancy.Do, like a request does.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
)

// Schema is where River's tables live: the control plane, never a tenant's.
const Schema = "control"

// Options configures a Client. The zero value works jobs of the default
// queue with River's defaults.
type Options struct {
	// Queues maps a queue name to how many of its jobs run at once in this
	// process. Nil means {"default": 10}.
	Queues map[string]int
	// InsertOnly makes a client that inserts jobs but never works them (for
	// CLI commands); Start then refuses.
	InsertOnly bool
	// MaxAttempts is the default for jobs that do not set their own (River: 25).
	MaxAttempts int
	// RetryPolicy decides when a failed job runs again (River: attempt⁴ seconds).
	RetryPolicy river.ClientRetryPolicy
	// PollInterval is how often queues are polled besides LISTEN/NOTIFY (River: 1 s).
	PollInterval time.Duration
	// MaxConns sizes River's own connection pool (default 10).
	MaxConns int32
	// SoftStopTimeout is how long Stop lets running jobs finish before
	// cancelling their contexts (default 10 s).
	SoftStopTimeout time.Duration
	// Logger receives River's logs (default slog.Default()).
	Logger *slog.Logger
	// TestOnly skips River's start-up jitter; for tests.
	TestOnly bool
	// JobTimeout is the longest any job may run (default 1 min); workers
	// with a Timeout of their own must stay within it. A job still marked
	// running RescueMargin after it would have timed out was left by a dead
	// process and is rescued (retried), instead of River's default hour.
	JobTimeout time.Duration
}

// WaitingOrRunning are the states in which a job stops a duplicate (its
// UniqueOpts.ByState): one waits or runs at a time, and once it has
// finished the next may be inserted.
var WaitingOrRunning = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// RescueMargin is how long after JobTimeout a running job counts as stuck.
const RescueMargin = 5 * time.Second

// DefaultJobTimeout bounds every job unless Options.JobTimeout says otherwise.
const DefaultJobTimeout = time.Minute

// Client inserts jobs and, once started, works them.
type Client struct {
	river      *river.Client[pgx.Tx]
	pool       *pgxpool.Pool
	workers    *river.Workers
	insertOnly bool
}

// New connects River's own pool to databaseURL and builds a client. Modules
// register their workers (Workers) and periodic jobs (Every) while wiring,
// before Start; an insert-only client registers them too, so that what it
// inserts is checked against the same kinds. River gets a pool of its own (pgx, not the tenancy pool)
// because its driver needs pgx and because its connections must never be
// handed to tenant work; they only ever touch schema control.
func New(ctx context.Context, databaseURL string, opts Options) (*Client, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("jobs: parsing database URL: %w", err)
	}
	cfg.MaxConns = opts.MaxConns
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = 10
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: opening pool: %w", err)
	}
	if opts.JobTimeout <= 0 {
		opts.JobTimeout = DefaultJobTimeout
	}
	workers := river.NewWorkers()
	rc := &river.Config{
		Schema:               Schema,
		Workers:              workers,
		JobTimeout:           opts.JobTimeout,
		RescueStuckJobsAfter: opts.JobTimeout + RescueMargin,
		Logger:               slog.New(routineLog{opts.Logger.Handler()}),
		MaxAttempts:          opts.MaxAttempts,
		RetryPolicy:          opts.RetryPolicy,
		FetchPollInterval:    opts.PollInterval,
		SoftStopTimeout:      opts.SoftStopTimeout,
		TestOnly:             opts.TestOnly,
	}
	if rc.SoftStopTimeout <= 0 {
		rc.SoftStopTimeout = 10 * time.Second
	}
	if opts.PollInterval > 0 && opts.PollInterval < river.FetchCooldownDefault {
		rc.FetchCooldown = opts.PollInterval // River refuses a poll interval below the cooldown
	}
	if !opts.InsertOnly {
		queues := opts.Queues
		if queues == nil {
			queues = map[string]int{river.QueueDefault: 10}
		}
		rc.Queues = make(map[string]river.QueueConfig, len(queues))
		for name, n := range queues {
			rc.Queues[name] = river.QueueConfig{MaxWorkers: n}
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("jobs: creating River client: %w", err)
	}
	return &Client{river: client, pool: pool, workers: workers, insertOnly: opts.InsertOnly}, nil
}

// Workers is the bundle modules add their workers to while wiring.
func (c *Client) Workers() *river.Workers { return c.workers }

// Every schedules a periodic job: the leader among all running clients
// inserts it every interval (and once at start), so N replicas run it once.
// It does nothing on an insert-only client.
func (c *Client) Every(interval time.Duration, job func() (river.JobArgs, *river.InsertOpts)) {
	if c.insertOnly {
		return
	}
	c.river.PeriodicJobs().Add(river.NewPeriodicJob(river.PeriodicInterval(interval), job, &river.PeriodicJobOpts{RunOnStart: true}))
}

// Start begins working jobs; it returns at once. Stop ends the work.
func (c *Client) Start(ctx context.Context) error {
	if err := c.river.Start(ctx); err != nil {
		return fmt.Errorf("jobs: starting: %w", err)
	}
	return nil
}

// Stop stops fetching jobs, waits for running ones (River cancels their
// contexts after the soft-stop timeout), then closes the pool. If ctx ends
// first, running jobs are cancelled at once: the pool cannot close while
// they hold connections. It is safe on a client that was never started.
func (c *Client) Stop(ctx context.Context) error {
	err := c.river.Stop(ctx)
	if err != nil {
		hard, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = c.river.StopAndCancel(hard)
		err = fmt.Errorf("jobs: stopping: %w", err)
	}
	c.pool.Close()
	return err
}

// Insert adds one job.
func (c *Client) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := c.river.Insert(ctx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: inserting %s: %w", args.Kind(), err)
	}
	return res, nil
}

// InsertMany adds several jobs in one transaction and one round trip.
func (c *Client) InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error) {
	if len(params) == 0 {
		return nil, nil
	}
	res, err := c.river.InsertMany(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("jobs: inserting %d job(s): %w", len(params), err)
	}
	return res, nil
}

// River is the underlying client, for what this wrapper does not cover
// (subscriptions, job lists, queue control).
func (c *Client) River() *river.Client[pgx.Tx] { return c.river }
