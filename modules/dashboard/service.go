// Package dashboard builds the cross-client views of the staff console from
// control-plane rollups, reading tenant schemas only where detail is needed
// and only for the tenants that the rollups say have something to show.
package dashboard

import (
	"context"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
	"switchboard/modules/tenants"
)

// Service assembles the console home.
type Service struct {
	tenants  *tenants.Service
	alerts   *alerts.Service
	policies *policies.Service // each client's SLA, for the queue's deadlines
}

// NewService returns the dashboard service.
func NewService(t *tenants.Service, a *alerts.Service, p *policies.Service) *Service {
	return &Service{tenants: t, alerts: a, policies: p}
}

// fanOut bounds how many tenant schemas the queue reads at once.
const fanOut = 8

// QueueItem is one alert in the all-clients queue, with what the queue
// shows of it at the moment it was read.
type QueueItem struct {
	TenantSlug string
	TenantName string
	Alert      alerts.Alert
	Age        time.Duration // since it was first seen
	Due        Due           // its SLA clock: time to breach, or how long past it
	Waiting    bool          // waiting on the client: its clocks are paused
}

// Queue returns up to limit of the most urgent open alerts across the given
// tenants, most urgent first, read now: WorkQueue with its defaults.
func (s *Service) Queue(ctx context.Context, summaries []tenants.Summary, limit int) ([]QueueItem, int, error) {
	return s.WorkQueue(ctx, summaries, QueueOptions{Limit: limit, Now: time.Now()})
}
