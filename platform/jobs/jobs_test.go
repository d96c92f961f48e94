package jobs

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"switchboard/db"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

func TestControlMigrationInstallsRiver(t *testing.T) {
	c := openCluster(t)
	ctx := context.Background()

	// A second run of the control-plane migrations has nothing to do.
	applied, err := db.MigrateControl(ctx, c.ControlDB(), db.Control())
	if err != nil || len(applied) != 0 {
		t.Fatalf("second migrate: applied %d, err %v", len(applied), err)
	}

	// River's own migrator agrees that its schema in control is complete,
	// so `river migrate-up --schema control` (or a rivermigrate call) is a no-op.
	cl, err := New(ctx, pgtest.URL(), Options{InsertOnly: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	m, err := rivermigrate.New(riverpgxv5.New(cl.pool), &rivermigrate.Config{Schema: Schema, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	v, err := m.Validate(ctx, nil)
	if err != nil || !v.OK {
		t.Fatalf("River validation: %+v, %v", v, err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil || len(res.Versions) != 0 {
		t.Fatalf("River migrate-up after ours: %+v, %v", res, err)
	}
	// The tables are in control, not public.
	var n int
	if err := c.ControlDB().Raw(`SELECT count(*) FROM pg_tables WHERE tablename = 'river_job' AND schemaname = 'control'`).Scan(&n).Error; err != nil || n != 1 {
		t.Fatalf("control.river_job: %d, %v", n, err)
	}
}

// markArgs is a tenant job that writes one row into its tenant's schema.
type markArgs struct {
	TenantArgs
	Note string `json:"note" river:"unique"`
}

func (markArgs) Kind() string { return "jobs_test_mark" }

type markWorker struct {
	river.WorkerDefaults[markArgs]
	lookup TenantLookup
}

func (w *markWorker) Work(ctx context.Context, job *river.Job[markArgs]) error {
	tn, err := ResolveTenant(ctx, w.lookup, job.Args.TenantArgs)
	if err != nil {
		return err
	}
	return tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Exec(`INSERT INTO marks (job_id, note) VALUES (?, ?)`, job.ID, job.Args.Note).Error
	})
}

func startClient(t *testing.T, l TenantLookup) (*Client, <-chan *river.Event) {
	t.Helper()
	cl, err := New(context.Background(), pgtest.URL(), Options{
		Queues: map[string]int{river.QueueDefault: 4}, PollInterval: 50 * time.Millisecond,
		Logger: quiet, TestOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	river.AddWorker(cl.Workers(), &markWorker{lookup: l})
	events, cancel := cl.River().Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled, river.EventKindJobFailed)
	if err := cl.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		ctx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		if err := cl.Stop(ctx); err != nil {
			t.Error(err)
		}
	})
	return cl, events
}

func waitFor(t *testing.T, events <-chan *river.Event, jobID int64) *river.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Job.ID == jobID {
				return ev
			}
		case <-timeout:
			t.Fatalf("job %d did not finish", jobID)
		}
	}
}

func TestTenantJobsStayInTheirTenant(t *testing.T) {
	c := openCluster(t)
	a, b := newTenant(t, c), newTenant(t, c)
	cl, events := startClient(t, lookup{a.ID: a, b.ID: b})
	ctx := context.Background()

	res, err := cl.Insert(ctx, markArgs{TenantArgs: TenantArgs{TenantID: a.ID}, Note: "for a"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ev := waitFor(t, events, res.Job.ID); ev.Kind != river.EventKindJobCompleted {
		t.Fatalf("job ended %s: %v", ev.Kind, ev.Job.Errors)
	}
	count := func(tn tenancy.Tenant) (n int) {
		if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error { return tx.Raw(`SELECT count(*) FROM marks`).Scan(&n).Error }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count(a) != 1 || count(b) != 0 {
		t.Fatalf("marks: a=%d b=%d, want 1 and 0", count(a), count(b))
	}
}

func TestResolveTenantCancels(t *testing.T) {
	c := openCluster(t)
	active := newTenant(t, c)
	suspended := newTenant(t, c)
	suspended.Status = tenancy.StatusSuspended
	l := lookup{active.ID: active, suspended.ID: suspended}
	broken := lookupFunc(func(context.Context, int64) (tenancy.Tenant, error) {
		return tenancy.Tenant{}, errors.New("connection refused")
	})

	cases := []struct {
		name       string
		lookup     TenantLookup
		id         int64
		wantCancel bool
		wantErr    bool
	}{
		{"active", l, active.ID, false, false},
		{"unknown", l, 999_999_999, true, true},
		{"no id", l, 0, true, true},
		{"suspended", l, suspended.ID, true, true},
		{"lookup failing is retried", broken, active.ID, false, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tn, err := ResolveTenant(context.Background(), tc.lookup, TenantArgs{TenantID: tc.id})
			var cancel *rivertype.JobCancelError
			if got := errors.As(err, &cancel); got != tc.wantCancel {
				t.Fatalf("cancel = %v, want %v (err %v)", got, tc.wantCancel, err)
			}
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && (tn.ID != active.ID || !tn.Bound()) {
				t.Fatalf("tenant %+v", tn)
			}
		})
	}
}

// A job of a tenant being moved between servers waits for the move instead
// of being cancelled: its work is still owed.
func TestResolveTenantSnoozesDuringAMove(t *testing.T) {
	c := openCluster(t)
	moving := newTenant(t, c)
	moving.Moving = true
	movingSuspended := newTenant(t, c)
	movingSuspended.Moving, movingSuspended.Status = true, tenancy.StatusSuspended
	l := lookup{moving.ID: moving, movingSuspended.ID: movingSuspended}

	_, err := ResolveTenant(context.Background(), l, TenantArgs{TenantID: moving.ID})
	var snooze *rivertype.JobSnoozeError
	if !errors.As(err, &snooze) || snooze.Duration <= 0 {
		t.Fatalf("moving tenant: err = %v, want a snooze", err)
	}
	_, err = ResolveTenant(context.Background(), l, TenantArgs{TenantID: movingSuspended.ID})
	var cancel *rivertype.JobCancelError
	if !errors.As(err, &cancel) {
		t.Fatalf("suspended tenant being moved: err = %v, want a cancel", err)
	}
}

type lookupFunc func(context.Context, int64) (tenancy.Tenant, error)

func (f lookupFunc) ByID(ctx context.Context, id int64) (tenancy.Tenant, error) { return f(ctx, id) }

func TestUniqueArgsInsertOnce(t *testing.T) {
	openCluster(t)
	ctx := context.Background()
	cl, err := New(ctx, pgtest.URL(), Options{InsertOnly: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Stop(context.Background()) })
	// An insert-only client knows the same kinds as a working one (one wiring).
	river.AddWorker(cl.Workers(), &markWorker{})
	unique := &river.InsertOpts{Queue: "jobs_test_unused", UniqueOpts: river.UniqueOpts{ByArgs: true}}
	note := fmt.Sprintf("once-%d", time.Now().UnixNano())
	first, err := cl.Insert(ctx, markArgs{TenantArgs: TenantArgs{TenantID: 1}, Note: note}, unique)
	if err != nil {
		t.Fatal(err)
	}
	again, err := cl.Insert(ctx, markArgs{TenantArgs: TenantArgs{TenantID: 1}, Note: note}, unique)
	if err != nil {
		t.Fatal(err)
	}
	other, err := cl.Insert(ctx, markArgs{TenantArgs: TenantArgs{TenantID: 2}, Note: note}, unique)
	if err != nil {
		t.Fatal(err)
	}
	if !again.UniqueSkippedAsDuplicate || again.Job.ID != first.Job.ID {
		t.Fatalf("same tenant and args inserted twice: %d, %d", first.Job.ID, again.Job.ID)
	}
	if other.UniqueSkippedAsDuplicate {
		t.Fatal("another tenant's job with the same args was taken for a duplicate")
	}
}
