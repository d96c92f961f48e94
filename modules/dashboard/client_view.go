package dashboard

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/platform/tenancy"
)

// ClientView is what the client dashboard shows.
type ClientView struct {
	Tenant    tenants.Tenant
	Open      map[string]int // open alerts by severity
	OpenTotal int
	Trend     Sparkline // open alerts at the end of each of the last trendDays days
	Online    int
	Offline   int
	SLA       slas.Report // this month as the SLA page shows it (slas.Reports.Current)
	// PortalURL is the portal on the primary (or else first) verified
	// domain; empty when no domain is verified. Pending lists the domains
	// still waiting for their TXT record.
	PortalURL string
	Pending   []string
	Recent    []Activity
	Checklist Checklist
}

// Activity is one audit entry in words.
type Activity struct {
	At      time.Time
	Actor   string
	What    string
	Target  string
	Summary string
}

// recentLimit is how many audit entries the dashboard shows; the audit
// page has the rest.
const recentLimit = 10

// Load reads everything the dashboard shows for t: the control-plane
// record, one tenancy.Do for the tenant's counts and activity, and the
// SLA report as the SLA page computes it. Days end at midnight in loc
// (nil: UTC).
func (o *ClientOverview) Load(ctx context.Context, t tenancy.Tenant, loc *time.Location) (ClientView, error) {
	rec, err := o.d.Tenants.Get(ctx, t.Slug)
	if err != nil {
		return ClientView{}, err
	}
	now := o.d.Now()
	v := ClientView{Tenant: rec}
	days, ends := trendWindow(now, loc, trendDays)
	var (
		counts        []int
		admins, chans int
		usable        int
		entries       []audit.Entry
	)
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var err error
		if v.Open, err = o.d.Alerts.OpenBySeverity(tx); err != nil {
			return err
		}
		if counts, err = o.d.Alerts.OpenByDay(tx, ends); err != nil {
			return err
		}
		fleet, err := o.d.Agents.Census(tx)
		if err != nil {
			return err
		}
		v.Online, v.Offline, usable = fleet.Online, fleet.Offline, fleet.UsableTokens
		if admins, err = o.d.Identity.ClientAdmins(tx); err != nil {
			return err
		}
		if chans, err = o.d.Notify.ChannelCount(tx); err != nil {
			return err
		}
		entries, err = o.d.Audit.Recent(tx, recentLimit)
		return err
	})
	if err != nil {
		return ClientView{}, fmt.Errorf("reading the dashboard of %s: %w", t.Slug, err)
	}
	for _, n := range v.Open {
		v.OpenTotal += n
	}
	v.Trend = sparkline(days, counts)
	if v.SLA, err = o.d.Reports.Current(ctx, t, now); err != nil {
		return ClientView{}, err
	}
	verified := false
	for _, d := range rec.Domains {
		switch {
		case d.Verified && (!verified || d.IsPrimary):
			v.PortalURL, verified = "https://"+d.Hostname+"/", true
		case !d.Verified:
			v.Pending = append(v.Pending, d.Hostname)
		}
	}
	for _, e := range entries {
		v.Recent = append(v.Recent, Activity{At: e.At, Actor: e.Actor, What: audit.ActionWords(e.Action), Target: e.Target, Summary: e.Summary})
	}
	v.Checklist = checklist(t.Slug, onboarding{admins: admins, tokens: usable, endpoints: v.Online + v.Offline, channels: chans, verified: verified})
	return v, nil
}
