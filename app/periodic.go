package main

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"switchboard/platform/jobs"
)

// periodicQueue runs the platform's periodic chores, apart from deliveries
// and deadlines so that neither holds the other up.
const periodicQueue = "periodic"

// periodicArgs names one chore. River's leader inserts it on schedule, so N
// serve replicas run each chore once per interval, with no coordinator.
type periodicArgs struct {
	Task string `json:"task" river:"unique"`
}

// Kind names the job in River.
func (periodicArgs) Kind() string { return "periodic" }

// chore is one periodic task: how often, and what.
type chore struct {
	every time.Duration
	run   func(ctx context.Context) error
}

// chores are the periodic tasks of a serving platform.
func (e *env) chores() map[string]chore {
	return map[string]chore{
		// The rollups say which tenants have an offline deadline due; only those schemas are read.
		"offline-endpoints": {15 * time.Second, func(ctx context.Context) error {
			ids, err := e.tenants.OfflineDue(ctx)
			if err != nil {
				return err
			}
			return e.agents.DetectOfflineDue(ctx, ids)
		}},
		// A client's portal goes live soon after its TXT record appears, even if nobody presses Verify.
		"pending-domains": {time.Minute, func(ctx context.Context) error {
			_, verified, err := e.tenants.VerifyPending(ctx)
			if verified > 0 {
				e.log.Info("pending domains verified by their TXT records", "count", verified)
			}
			return err
		}},
		// The home's chart of open alerts over time: every busy client's open
		// counts, copied from the rollups (one read per cell server, no tenant
		// schema) as today's rows; the day keeps its last run's.
		"open-alert-snapshot": {15 * time.Minute, func(ctx context.Context) error {
			_, err := e.tenants.SnapshotOpenAlerts(ctx, time.Now())
			return err
		}},
		// Each client's previous month's SLA report, e-mailed to its admins
		// from 08:00 on the first working day on its clock; one job per
		// client and month, so replicas send it once.
		"sla-report-mail": {15 * time.Minute, func(ctx context.Context) error {
			_, err := e.mailing.Enqueue(ctx)
			return err
		}},
		"expired-sessions": {10 * time.Minute, func(ctx context.Context) error {
			_, err := e.identity.DeleteExpiredSessions(ctx)
			return err
		}},
	}
}

// schedulePeriodic registers the chores' worker and schedules (which an
// insert-only client ignores).
func (e *env) schedulePeriodic() {
	chores := e.chores()
	river.AddWorker(e.jobs.Workers(), &periodicWorker{chores: chores})
	for name, c := range chores {
		e.jobs.Every(c.every, func() (river.JobArgs, *river.InsertOpts) {
			// Unique while one waits or runs: a slow run never piles up copies.
			return periodicArgs{Task: name}, &river.InsertOpts{Queue: periodicQueue, MaxAttempts: 1,
				UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: jobs.WaitingOrRunning}}
		})
	}
}

type periodicWorker struct {
	river.WorkerDefaults[periodicArgs]
	chores map[string]chore
}

// Work runs the named chore.
func (w *periodicWorker) Work(ctx context.Context, job *river.Job[periodicArgs]) error {
	c, ok := w.chores[job.Args.Task]
	if !ok {
		return river.JobCancel(fmt.Errorf("unknown periodic task %q", job.Args.Task))
	}
	if err := c.run(ctx); err != nil {
		return fmt.Errorf("%s: %w", job.Args.Task, err)
	}
	return nil
}
