package slas

import (
	"context"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/platform/tenancy"
)

// Panel returns the alerts module's SLA source: the client's effective SLA
// applied to the alert's timeline, now.
func Panel(p *policies.Service) alerts.SLASource {
	return func(ctx context.Context, t tenancy.Tenant, a alerts.Alert, events []alerts.Event) (*alerts.SLAPanel, error) {
		eff, err := p.Effective(ctx, t)
		if err != nil {
			return nil, err
		}
		sla, origin, ok := eff.SLA()
		if !ok {
			return nil, nil // the client has no SLA enabled
		}
		st, err := Compute(events, a.Severity, sla, time.Now())
		if err != nil {
			return nil, err
		}
		view := func(c Clock) alerts.SLAClock {
			return alerts.SLAClock{Target: c.Target, Used: c.Used.Round(time.Second), Paused: c.Paused.Round(time.Second),
				Deadline: c.Deadline, Stopped: c.Stopped, Met: c.Met, Breached: c.Breached}
		}
		return &alerts.SLAPanel{Response: view(st.Response), Resolution: view(st.Resolution), Waiting: st.Waiting, Origin: origin}, nil
	}
}
