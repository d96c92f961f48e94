package main

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/agents"
	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

// Demo endpoint history: a check-in every demoStep over demoHistory; an
// offline host stopped demoSilent ago. Charts need points, not every minute.
const (
	demoHistory = 24 * time.Hour
	demoStep    = 30 * time.Minute
	demoSilent  = 3 * time.Hour
)

// demoClock is the clock of the demo's own agents service: check-ins of the
// past day are made through the real check-in path, at the time they
// report.
type demoClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *demoClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.at }
func (c *demoClock) set(t time.Time) { c.mu.Lock(); c.at = t; c.mu.Unlock() }
func (c *demoClock) agentsFor(e *env) *agents.Service {
	return agents.NewService(agents.Options{Tenants: e.tenants, Policies: e.policies, Alerts: e.alerts, Logger: e.log, Now: c.now})
}

// demoFleet enrolls a new client's endpoints with 24 h of check-ins (an
// offline one stops early and is marked offline, with its alert), or tops
// up an existing client's online demo endpoints to now when their latest
// check-in is more than demoStep old. Enrolment uses a token made for the
// run and revoked at its end.
func demoFleet(ctx context.Context, e *env, t tenancy.Tenant, d demoClient, created bool, wall func() time.Time) error {
	now := wall()
	from := now.Add(-demoHistory)
	hosts := d.hosts
	if !created {
		list, err := e.agents.ListEndpoints(ctx, t)
		if err != nil {
			return err
		}
		seen := map[string]time.Time{}
		for _, ep := range list {
			seen[ep.Hostname] = ep.LastSeenAt
		}
		hosts = nil
		from = now
		for _, h := range d.hosts {
			last, ok := seen[h.name]
			if !ok || h.offline || now.Sub(last) < demoStep {
				continue // gone (deleted by someone), meant to be offline, or current
			}
			hosts = append(hosts, h)
			if last.Before(now.Add(-demoHistory)) {
				last = now.Add(-demoHistory)
			}
			if last.Before(from) {
				from = last
			}
		}
		if len(hosts) == 0 {
			return nil
		}
	}
	clock := &demoClock{at: from}
	svc := clock.agentsFor(e)
	token, tok, err := svc.CreateToken(ctx, t, "demo", 2*time.Hour, len(hosts))
	if err != nil {
		return err
	}
	creds := make([]string, len(hosts))
	for i, h := range hosts {
		en, err := svc.Enroll(ctx, token, h.name, h.os)
		if err != nil {
			return fmt.Errorf("enrolling %s: %w", h.name, err)
		}
		creds[i] = en.Credential
	}
	start := from
	if !created {
		start = from.Add(demoStep) // the last check-in is already there
	}
	for at := start; !at.After(now); at = at.Add(demoStep) {
		if now.Sub(at) < demoStep {
			at = now // the last check-in is now, so the endpoint reads online
		}
		clock.set(at)
		for i, h := range hosts {
			if h.offline && now.Sub(at) < demoSilent {
				continue
			}
			if _, err := svc.CheckIn(ctx, creds[i], demoReport(h, at, now)); err != nil {
				return fmt.Errorf("check-in of %s: %w", h.name, err)
			}
		}
		if at.Equal(now) {
			break
		}
	}
	clock.set(now)
	if err := svc.RevokeToken(ctx, t, tok.ID); err != nil {
		return err
	}
	return svc.DetectOffline(ctx, t) // the silent host is offline now, with its alert
}

// demoReport is a host's metrics at a time: a daily curve around its usual
// load with some jitter (the same every run), and a file server's disk
// filling up over the day.
func demoReport(h demoHost, at, now time.Time) agents.Report {
	f := fnv.New64a()
	f.Write([]byte(h.name))
	r := rand.New(rand.NewPCG(f.Sum64(), uint64(at.Unix()/60)))
	hour := float64(at.UTC().Hour()) + float64(at.UTC().Minute())/60
	day := math.Sin((hour - 9) / 24 * 2 * math.Pi) // busiest mid-afternoon UTC
	clamp := func(v, hi float64) float64 { return math.Round(math.Min(math.Max(v, 1), hi)*10) / 10 }
	disk := h.disk
	if h.name[len(h.name)-4:] == "fs01" {
		disk += 8 * (1 - now.Sub(at).Hours()/demoHistory.Hours()) // up to 8 points over the day
	}
	return agents.Report{Hostname: h.name, OS: h.os,
		UptimeSeconds: int64(19*24*3600 + at.Sub(now.Add(-demoHistory)).Seconds()),
		CPUPercent:    clamp(h.cpu*(1+0.6*day)+r.NormFloat64()*4, 85), // under every threshold: no alert from history
		MemoryPercent: clamp(h.mem+6*day+r.NormFloat64()*2, 88),
		Disks:         []agents.Disk{{Mount: "/", UsedPercent: clamp(disk+r.Float64(), 94)}}}
}

// demoPolicies lock the global disk-full item (a compliance baseline no
// client may change) and give the client its own cpu-high threshold.
func demoPolicies(ctx context.Context, e *env, t tenancy.Tenant) error {
	globals, err := e.policies.Globals(ctx)
	if err != nil {
		return err
	}
	for _, g := range globals {
		switch {
		case g.Key == "disk-full" && !g.Locked:
			if err := e.policies.SetGlobal(ctx, g.Item, true); err != nil {
				return fmt.Errorf("locking disk-full: %w", err)
			}
		case g.Key == "cpu-high" && g.Threshold != nil:
			it := g.Item
			th := *g.Threshold
			th.Value, th.For = 80, 10*time.Minute // the client's app servers run hot; page earlier, but not on a blip
			it.Threshold = &th
			if err := e.policies.Override(ctx, t, g.Key, nil, &it); err != nil {
				return fmt.Errorf("overriding cpu-high: %w", err)
			}
		}
	}
	return nil
}

// demoBreach opens a critical alert that nobody acknowledged within the
// response target (its start is moved back, within this month), with a
// note shared with the client and an internal one.
func demoBreach(ctx context.Context, e *env, t tenancy.Tenant, now time.Time) error {
	out, err := e.alerts.Ingest(ctx, t, []alerts.Signal{{Source: "veeam", Rule: "backup-failed", Severity: alerts.SeverityCritical,
		Summary: "Nightly backup of acme-fs01 failed: repository unreachable", Endpoint: "acme-fs01",
		Labels: map[string]string{"host": "acme-fs01", "job": "nightly-fs"}}})
	if err != nil {
		return err
	}
	id := out[0].AlertID
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	opened := now.Add(-95 * time.Minute)
	if opened.Before(month) { // the SLA report counts the month in UTC
		opened = month.Add(time.Minute)
	}
	// The demo's own time travel, as it writes its audit history: no
	// service moves an alert's start, and none should.
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(`UPDATE alerts SET first_seen_at = ?, last_seen_at = ? WHERE id = ?`, opened, opened, id).Error; err != nil {
			return err
		}
		return tx.Exec(`UPDATE alert_events SET at = ? WHERE alert_id = ? AND kind = 'created'`, opened, id).Error
	})
	if err != nil {
		return fmt.Errorf("moving the alert's start back: %w", err)
	}
	tech := audit.WithOrigin(ctx, audit.Origin{Actor: "tech@switchboard.example"})
	if err := e.alerts.AddNote(tech, t, id, "We are on it: the backup repository's storage went offline overnight. "+
		"Your files are safe; we will run the backup again as soon as the repository is back.", true); err != nil {
		return err
	}
	return e.alerts.AddNote(tech, t, id, "Vendor ticket 48213 opened for the NAS controller; rerun the nightly job when it is back.", false)
}
