package outbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/jobs"
	"switchboard/platform/pgtest"
	"switchboard/platform/tenancy"
)

// commit commits events for t, or rolls them back with rollback.
func commit(t *testing.T, tn tenancy.Tenant, rollback bool, events ...Event) {
	t.Helper()
	errRollback := errors.New("rolled back on purpose")
	err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error {
		if err := Record(tx, events...); err != nil {
			return err
		}
		if rollback {
			return errRollback
		}
		return nil
	})
	if rollback != errors.Is(err, errRollback) {
		t.Fatal(err)
	}
}

func marked(t *testing.T, c *tenancy.Cluster, tn tenancy.Tenant) bool {
	t.Helper()
	var n int64
	if err := c.ControlDB().Raw(`SELECT count(*) FROM control.outbox_due WHERE tenant_id = ?`, tn.ID).Scan(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func pending(t *testing.T, tn tenancy.Tenant) (n int64) {
	t.Helper()
	if err := tenancy.Do(context.Background(), tn, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT count(*) FROM outbox`).Scan(&n).Error
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// collect subscribes a handler that adds each pinged event to got, as show says.
func collect(subs *Subscribers, got *seen, show func(tenancy.Tenant, pinged) string) {
	Subscribe(subs, "ping", func(_ context.Context, tn tenancy.Tenant, evs []pinged) error {
		for _, e := range evs {
			got.add(show(tn, e))
		}
		return nil
	})
}

// newDrainer builds a drainer on an insert-only jobs client (tests call Drain).
func newDrainer(t *testing.T, c *tenancy.Cluster, subs *Subscribers, l lookup) *Drainer {
	t.Helper()
	jc, err := jobs.New(context.Background(), pgtest.URL(), jobs.Options{InsertOnly: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	return NewDrainer(c, l, subs, jc, quiet)
}

// TestDrainHandsOverInOrderAndClears: committed events reach their handlers
// in the order recorded, a run of one kind in one call; rolled-back events
// never exist and never mark the tenant; a drained tenant is no longer due.
func TestDrainHandsOverInOrderAndClears(t *testing.T) {
	c := openCluster(t)
	a, b := newTenant(t, c), newTenant(t, c)
	var got seen
	calls := 0
	subs := NewSubscribers()
	Subscribe(subs, "ping", func(_ context.Context, tn tenancy.Tenant, evs []pinged) error {
		calls++
		for _, e := range evs {
			got.add(fmt.Sprintf("%s ping %d", tn.Slug, e.N))
		}
		return nil
	})
	Subscribe(subs, "pong", func(_ context.Context, tn tenancy.Tenant, evs []ponged) error {
		calls++
		for _, e := range evs {
			got.add(fmt.Sprintf("%s pong %d", tn.Slug, e.N))
		}
		return nil
	})
	d := newDrainer(t, c, subs, lookup{a.ID: a, b.ID: b})

	commit(t, a, true, pinged{N: 99}) // rolled back: no event, no mark
	if marked(t, c, a) || pending(t, a) != 0 {
		t.Fatal("a rolled-back write left an event or a mark")
	}
	commit(t, a, false, pinged{N: 1}, pinged{N: 2})
	commit(t, a, false, ponged{N: 3})
	commit(t, a, false, pinged{N: 4})
	if !marked(t, c, a) || marked(t, c, b) {
		t.Fatal("only the tenant that wrote is due")
	}
	n, err := d.Drain(context.Background(), a)
	if err != nil || n != 4 {
		t.Fatalf("drained %d (%v), want 4", n, err)
	}
	want := []string{a.Slug + " ping 1", a.Slug + " ping 2", a.Slug + " pong 3", a.Slug + " ping 4"}
	if !slices.Equal(got.list(), want) {
		t.Fatalf("handed over %v, want %v", got.list(), want)
	}
	if calls != 3 {
		t.Fatalf("%d handler calls, want 3 (one per run of a kind)", calls)
	}
	if marked(t, c, a) || pending(t, a) != 0 {
		t.Fatal("a drained tenant is still due or still holds events")
	}
}

// TestDrainKeepsWhatFailed: a handler error leaves the batch and the mark
// in place, and the next drain hands the same events over again.
func TestDrainKeepsWhatFailed(t *testing.T) {
	c := openCluster(t)
	tn := newTenant(t, c)
	fail := true
	var got seen
	subs := NewSubscribers()
	Subscribe(subs, "ping", func(_ context.Context, _ tenancy.Tenant, evs []pinged) error {
		if fail {
			return errors.New("receiver down")
		}
		for _, e := range evs {
			got.add(fmt.Sprint(e.N))
		}
		return nil
	})
	d := newDrainer(t, c, subs, lookup{tn.ID: tn})
	commit(t, tn, false, pinged{N: 1}, pinged{N: 2})
	if _, err := d.Drain(context.Background(), tn); err == nil {
		t.Fatal("a failing handler did not fail the drain")
	}
	if !marked(t, c, tn) || pending(t, tn) != 2 {
		t.Fatal("a failed drain dropped events or the mark")
	}
	fail = false
	if n, err := d.Drain(context.Background(), tn); err != nil || n != 2 {
		t.Fatalf("second drain: %d, %v", n, err)
	}
	if !slices.Equal(got.list(), []string{"1", "2"}) || marked(t, c, tn) {
		t.Fatalf("after retry: %v, marked %v", got.list(), marked(t, c, tn))
	}
}

// TestMarkDuringDrainIsNotLost: an event that commits while a drain works
// (here: from inside the handler, the worst moment) keeps the tenant due,
// and the same drain goes round and hands it over.
func TestMarkDuringDrainIsNotLost(t *testing.T) {
	c := openCluster(t)
	tn := newTenant(t, c)
	var got seen
	subs := NewSubscribers()
	Subscribe(subs, "ping", func(ctx context.Context, tn tenancy.Tenant, evs []pinged) error {
		for _, e := range evs {
			got.add(fmt.Sprint(e.N))
			if e.N == 1 { // a concurrent request commits another event now
				if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error { return Record(tx, pinged{N: 2}) }); err != nil {
					return err
				}
			}
		}
		return nil
	})
	d := newDrainer(t, c, subs, lookup{tn.ID: tn})
	commit(t, tn, false, pinged{N: 1})
	if n, err := d.Drain(context.Background(), tn); err != nil || n != 2 {
		t.Fatalf("drained %d (%v), want 2", n, err)
	}
	if !slices.Equal(got.list(), []string{"1", "2"}) || marked(t, c, tn) {
		t.Fatalf("got %v, marked %v", got.list(), marked(t, c, tn))
	}
}

// TestWorkersDrainOnCommitAndSweep: with a working jobs client, a commit
// wakes its tenant's drain through the notification; a mark nobody heard of
// (made while no one listened) is drained by the periodic sweep; control
// plane events reach handlers with the zero tenant.
func TestWorkersDrainOnCommitAndSweep(t *testing.T) {
	c := openCluster(t)
	a, b := newTenant(t, c), newTenant(t, c)
	var got seen
	subs := NewSubscribers()
	collect(subs, &got, func(tn tenancy.Tenant, e pinged) string { return fmt.Sprintf("%d:%d", tn.ID, e.N) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	// b's mark is made before anyone listens: only the sweep can find it.
	commit(t, b, false, pinged{N: 7})

	jc, err := jobs.New(ctx, pgtest.URL(), jobs.Options{Queues: map[string]int{Queue: 2}, PollInterval: 50 * time.Millisecond,
		Logger: quiet, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDrainer(c, lookup{a.ID: a, b.ID: b}, subs, jc, quiet)
	if err := jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	ready := make(chan struct{})
	go d.Listen(ctx, ready)
	<-ready
	commit(t, a, false, pinged{N: 1})
	if err := c.ControlDB().Transaction(func(tx *gorm.DB) error { return RecordControl(tx, pinged{N: 0}) }); err != nil {
		t.Fatal(err)
	}
	want := []string{"0:0", fmt.Sprintf("%d:1", a.ID), fmt.Sprintf("%d:7", b.ID)}
	deadline := time.Now().Add(3 * SweepInterval)
	for {
		g := got.list()
		slices.Sort(g)
		w := slices.Clone(want)
		slices.Sort(w)
		cleared := !marked(t, c, a) && !marked(t, c, b)
		if slices.Equal(g, w) && cleared {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("handed over %v, want %v; marks cleared: %v", g, want, cleared)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDrainLeftRunningByADeadProcess: a drain job that a killed process left
// marked "running" (River rescues such jobs only after the job timeout) does
// not hold the tenant's events back: the next second's drain takes the lock
// the dead session no longer holds and hands them over.
func TestDrainLeftRunningByADeadProcess(t *testing.T) {
	c := openCluster(t)
	tn := newTenant(t, c)
	var got seen
	subs := NewSubscribers()
	collect(subs, &got, func(_ tenancy.Tenant, e pinged) string { return fmt.Sprint(e.N) })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	jc, err := jobs.New(ctx, pgtest.URL(), jobs.Options{Queues: map[string]int{Queue: 2}, PollInterval: 50 * time.Millisecond,
		Logger: quiet, TestOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDrainer(c, lookup{tn.ID: tn}, subs, jc, quiet)
	// The zombie: this tenant's drain, "running" on behalf of a process that is gone.
	if err := d.Wake(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	if err := c.ControlDB().Exec(`UPDATE control.river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['dead-process'] WHERE kind = 'outbox_drain' AND args->>'tenant_id' = ?`, fmt.Sprint(tn.ID)).Error; err != nil {
		t.Fatal(err)
	}
	if err := jc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	ready := make(chan struct{})
	go d.Listen(ctx, ready)
	<-ready

	start := time.Now()
	commit(t, tn, false, pinged{N: 1})
	for deadline := start.Add(10 * time.Second); len(got.list()) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the event waited behind the dead process's drain")
		}
	}
	t.Logf("handed over %v after the commit, past a drain left running", time.Since(start).Round(time.Millisecond))
}

// TestDrainStaysInItsTenant: draining one tenant hands over its own events
// only, with its own tenant, and leaves another's outbox and mark alone; the
// tenant's role cannot read another tenant's outbox at all.
func TestDrainStaysInItsTenant(t *testing.T) {
	c := openCluster(t)
	a, b := newTenant(t, c), newTenant(t, c)
	var got seen
	subs := NewSubscribers()
	collect(subs, &got, func(tn tenancy.Tenant, e pinged) string { return fmt.Sprintf("%s:%d", tn.Slug, e.N) })
	d := newDrainer(t, c, subs, lookup{a.ID: a, b.ID: b})
	commit(t, a, false, pinged{N: 1})
	commit(t, b, false, pinged{N: 2})
	if _, err := d.Drain(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if want := []string{a.Slug + ":1"}; !slices.Equal(got.list(), want) {
		t.Fatalf("draining %s handed over %v, want %v", a.Slug, got.list(), want)
	}
	if !marked(t, c, b) || pending(t, b) != 1 {
		t.Fatalf("draining %s touched %s's outbox or mark", a.Slug, b.Slug)
	}
	err := tenancy.Do(context.Background(), a, func(tx *gorm.DB) error {
		var n int64
		return tx.Raw(`SELECT count(*) FROM ` + b.Schema() + `.outbox`).Scan(&n).Error
	})
	if err == nil {
		t.Fatalf("%s's role read %s's outbox", a.Slug, b.Slug)
	}
}
