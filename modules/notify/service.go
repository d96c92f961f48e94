package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"gorm.io/gorm"

	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/policies"
	"switchboard/platform/fault"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/tenancy"
)

// Queue is the River queue deliveries run in by default; the jobs client
// must work it (jobs.Options.Queues). A queue of its own keeps slow
// receivers from holding up other background work.
const Queue = "notify"

// Alerts is what delivery needs from the alerts module: the alert, and a
// way to add to its timeline. *alerts.Service implements it.
type Alerts interface {
	Get(ctx context.Context, t tenancy.Tenant, id int64) (alerts.Alert, []alerts.Event, error)
	AddEvent(ctx context.Context, t tenancy.Tenant, id int64, kind, actor, body string, publish ...outbox.Event) error
}

// Policies gives a tenant's effective policy; *policies.Service implements it.
type Policies interface {
	Effective(ctx context.Context, t tenancy.Tenant) (policies.Effective, error)
}

var _ Policies = (*policies.Service)(nil)

// PoliciesFunc adapts a function to Policies.
type PoliciesFunc func(ctx context.Context, t tenancy.Tenant) (policies.Effective, error)

// Effective calls f.
func (f PoliciesFunc) Effective(ctx context.Context, t tenancy.Tenant) (policies.Effective, error) {
	return f(ctx, t)
}

// Inserter adds jobs; *jobs.Client implements it.
type Inserter interface {
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
}

// Deps are the services notify works with.
type Deps struct {
	Alerts   Alerts
	Tenants  jobs.TenantLookup // resolves a job's tenant id
	Policies Policies          // routing
	// Jobs runs the deliveries (their worker is registered on it).
	Jobs *jobs.Client
	// Events is where notify subscribes: new alerts are announced, SLA
	// warnings and breaches escalated.
	Events *outbox.Subscribers
	// Brand, when set, makes e-mails speak as the client's own service
	// desk: its sender name and portal link instead of the platform's.
	Brand BrandSource
	// Deliveries counts delivery attempts for metrics (nil: not counted).
	Deliveries DeliveryCounter
}

// DeliveryCounter counts delivery attempts by channel kind and outcome
// (delivered, retrying, failed); *metrics.Metrics is one.
type DeliveryCounter interface {
	Delivery(kind, outcome string)
}

// uncounted is the DeliveryCounter of a service built without one.
type uncounted struct{}

func (uncounted) Delivery(string, string) {}

// EmailBrand is how a client's e-mails present themselves.
type EmailBrand struct {
	SenderName string // display name of the From address
	Name       string // signs the message
	PortalURL  string // the client's portal (https://host), "" when it has none
}

// BrandSource returns a tenant's e-mail brand.
type BrandSource func(ctx context.Context, t tenancy.Tenant) (EmailBrand, error)

// Options configures delivery.
type Options struct {
	SMTP        SMTPConfig
	MaxAttempts int    // attempts per delivery before giving up (default 8)
	Queue       string // River queue (default Queue)
	// BaseURL is the console's address, for the link in e-mails
	// ("https://console.msp.example"); empty leaves a relative path.
	BaseURL string
	// AllowPrivateNetworks lets webhooks reach loopback, private and
	// link-local addresses. Off by default: a tenant's webhook URL must not
	// become a way into the MSP's own network.
	AllowPrivateNetworks bool
	Logger               *slog.Logger
}

// Service manages channels and delivers notifications.
type Service struct {
	deps Deps
	opts Options
	log  *slog.Logger
	http *http.Client
	jobs Inserter
	// lookup resolves webhook hosts for creation warnings (addrcheck.go).
	lookup resolver
}

// NewService returns the notify service, with its delivery worker
// registered on deps.Jobs and its subscriptions on deps.Events.
func NewService(deps Deps, opts Options) *Service {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 8
	}
	if opts.Queue == "" {
		opts.Queue = Queue
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if deps.Deliveries == nil {
		deps.Deliveries = uncounted{}
	}
	s := &Service{deps: deps, opts: opts, log: opts.Logger, http: webhookClient(opts.AllowPrivateNetworks), jobs: deps.Jobs, lookup: systemResolver}
	river.AddWorker(deps.Jobs.Workers(), &worker{s: s})
	outbox.Subscribe(deps.Events, "notify", s.announce)
	outbox.Subscribe(deps.Events, "notify", s.escalate)
	outbox.Subscribe(deps.Events, "notify", s.followUp)
	outbox.Subscribe(deps.Events, "notify", s.timeline)
	return s
}

// Create adds a channel. For a webhook the returned channel carries its
// secret, which is never listed again, and a Warning when this server
// would refuse to reach its address (see addrcheck.go for why that is a
// warning, not a refusal).
func (s *Service) Create(ctx context.Context, t tenancy.Tenant, in ChannelInput) (Channel, error) {
	ch, err := in.normalize()
	if err != nil {
		return Channel{}, err
	}
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		// ON CONFLICT instead of catching the unique violation: one round
		// trip, and no driver error codes in a tenant-plane module.
		var row struct {
			ID                   int64
			CreatedAt, UpdatedAt time.Time
		}
		res := tx.Raw(`INSERT INTO notification_channels (name, kind, email_to, webhook_url, webhook_secret, events, client_facing)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO NOTHING RETURNING id, created_at, updated_at`,
			ch.Name, ch.Kind, jsonList(ch.EmailTo), ch.URL, ch.Secret, jsonList(ch.Events), ch.ClientFacing).Scan(&row)
		if res.Error != nil {
			return fmt.Errorf("creating channel %s: %w", ch.Name, res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrConflict, "a channel named %q", ch.Name)
		}
		ch.ID, ch.CreatedAt, ch.UpdatedAt = row.ID, row.CreatedAt, row.UpdatedAt
		return audit.Record(ctx, tx, "notify.channel_created", ch.Name, ch.Target())
	})
	if err != nil {
		return Channel{}, err
	}
	if ch.Kind == KindWebhook {
		ch.Warning = s.addressWarning(ctx, ch.URL)
	}
	return ch, nil
}

// List returns the tenant's channels by name, without secrets.
func (s *Service) List(ctx context.Context, t tenancy.Tenant) ([]Channel, error) {
	var out []Channel
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Omit("Secret").Order("name").Find(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("listing channels: %w", err)
	}
	return out, nil
}

// Delete removes a channel. Deliveries already queued for it are cancelled
// when they run.
func (s *Service) Delete(ctx context.Context, t tenancy.Tenant, name string) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		var ch Channel
		res := tx.Raw(`DELETE FROM notification_channels WHERE name = ? RETURNING id, name, kind, email_to, webhook_url`, name).Scan(&ch)
		if res.Error != nil {
			return fmt.Errorf("deleting channel %s: %w", name, res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrNotFound, "%q", name)
		}
		return audit.Record(ctx, tx, "notify.channel_deleted", ch.Name, ch.Target())
	})
}

// SetEnabled turns a channel on or off; a disabled channel receives nothing.
func (s *Service) SetEnabled(ctx context.Context, t tenancy.Tenant, name string, enabled bool) error {
	return tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE notification_channels SET enabled = ?, updated_at = now() WHERE name = ? AND enabled <> ?`, enabled, name, enabled)
		if res.Error != nil {
			return fmt.Errorf("updating channel %s: %w", name, res.Error)
		}
		if res.RowsAffected == 0 {
			var n int64
			if err := tx.Model(&Channel{}).Where("name = ?", name).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return fault.Newf(ErrNotFound, "%q", name)
			}
			return nil // already so
		}
		action := "notify.channel_disabled"
		if enabled {
			action = "notify.channel_enabled"
		}
		return audit.Record(ctx, tx, action, name, audit.Changed("enabled", !enabled, enabled))
	})
}

// channel reads one channel with its secret, for delivery.
func channel(ctx context.Context, t tenancy.Tenant, id int64) (Channel, error) {
	var ch Channel
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tx.Where("id = ?", id).Take(&ch).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Channel{}, fault.Newf(ErrNotFound, "#%d", id)
	}
	if err != nil {
		return Channel{}, fmt.Errorf("reading channel #%d: %w", id, err)
	}
	return ch, nil
}
