package notify

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riverqueue/river"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/outbox"
)

// ControlTx runs fn in one transaction of the control plane. notify owns
// the MSP-wide webhook tables there (control migration 0020) but, not being
// a control-plane owner, never holds the root handle: app wires this in.
type ControlTx func(ctx context.Context, fn func(tx *gorm.DB) error) error

// Hook is an MSP-wide webhook: an endpoint of the MSP's own tools (its
// PSA) that receives the events it chose for every client. It is MSP-side:
// it receives internal notes too.
type Hook struct {
	ID          int64     `gorm:"column:id" json:"id"`
	URL         string    `gorm:"column:url" json:"url"`
	Secret      string    `gorm:"column:secret" json:"secret,omitempty"` // only when just created
	Events      []string  `gorm:"column:events;serializer:json" json:"events"`
	Description string    `gorm:"column:description" json:"description"`
	CreatedBy   string    `gorm:"column:created_by" json:"created_by"`
	CreatedAt   time.Time `gorm:"column:created_at" json:"created_at"`
	// Warning, set by Create, says why deliveries will fail as things stand.
	Warning string `gorm:"-" json:"warning,omitempty"`
}

// Receives reports whether the webhook chose event.
func (h Hook) Receives(event string) bool {
	for _, e := range h.Events {
		if e == event {
			return true
		}
	}
	return false
}

// HookInput is what creating an MSP-wide webhook takes.
type HookInput struct {
	URL         string
	Events      []string // of HookEvents; at least one
	Description string   // for people: which tool this is
}

// Errors of MSP-wide webhooks; the web layer and the CLI map their kinds.
var (
	ErrHookInvalid  = fault.Kind(fault.Invalid, "invalid webhook")
	ErrHookNotFound = fault.Kind(fault.NotFound, "webhook not found")
)

// Hooks manages the MSP-wide webhooks and delivers to them: one delivery
// row per webhook and event (the exact bytes, so a redelivery is the same
// payload), one River job per delivery round, every attempt logged.
type Hooks struct {
	s       *Service
	control ControlTx
}

// NewHooks returns the MSP-wide webhooks, with their delivery worker
// registered on the service's jobs client and their subscriptions on its
// outbox subscribers.
func NewHooks(s *Service, control ControlTx) *Hooks {
	h := &Hooks{s: s, control: control}
	river.AddWorker(s.deps.Jobs.Workers(), &hookWorker{h: h})
	outbox.Subscribe(s.deps.Events, "webhooks", h.opened)
	outbox.Subscribe(s.deps.Events, "webhooks", h.changed)
	outbox.Subscribe(s.deps.Events, "webhooks", h.reached)
	outbox.Subscribe(s.deps.Events, "webhooks", h.timeline)
	outbox.Subscribe(s.deps.Events, "webhooks", h.clientCreated)
	outbox.Subscribe(s.deps.Events, "webhooks", h.clientSuspended)
	return h
}

// normalize validates in and returns the webhook to store, secret made.
func (in HookInput) normalize() (Hook, error) {
	u, err := normalizeURL(in.URL)
	if err != nil {
		return Hook{}, fault.New(ErrHookInvalid, fault.Message(err))
	}
	if len(in.Events) == 0 {
		return Hook{}, fault.Newf(ErrHookInvalid, "choose at least one event of %s", strings.Join(HookEvents, ", "))
	}
	events, err := pickEvents(in.Events, HookEvents)
	if err != nil {
		return Hook{}, fault.New(ErrHookInvalid, fault.Message(err))
	}
	desc := strings.TrimSpace(in.Description)
	if !utf8.ValidString(desc) || strings.ContainsRune(desc, 0) || utf8.RuneCountInString(desc) > 200 {
		return Hook{}, fault.New(ErrHookInvalid, "the description must be at most 200 characters of text")
	}
	secret, _ := normalizeSecret("") // a generated secret is always valid
	return Hook{URL: u, Events: events, Description: desc, Secret: secret}, nil
}

// Create adds an MSP-wide webhook. The returned webhook carries its
// secret, which is never shown again, and a Warning when this server would
// refuse to reach its address.
func (h *Hooks) Create(ctx context.Context, in HookInput) (Hook, error) {
	hook, err := in.normalize()
	if err != nil {
		return Hook{}, err
	}
	hook.CreatedBy = audit.OriginFrom(ctx).Actor
	err = h.control(ctx, func(tx *gorm.DB) error {
		if err := tx.Raw(`INSERT INTO control.webhooks (url, secret, events, description, created_by)
			VALUES (?, ?, ?::jsonb, ?, ?) RETURNING id, created_at`,
			hook.URL, hook.Secret, jsonList(hook.Events), hook.Description, hook.CreatedBy).Row().Scan(&hook.ID, &hook.CreatedAt); err != nil {
			return fmt.Errorf("creating the webhook: %w", err)
		}
		return audit.RecordPlatform(ctx, tx, "webhook.created", fmt.Sprintf("webhook #%d", hook.ID),
			"webhook "+redactURL(hook.URL)+" receives "+strings.Join(hook.Events, ", "))
	})
	if err != nil {
		return Hook{}, err
	}
	hook.Warning = h.s.addressWarning(ctx, hook.URL)
	return hook, nil
}

// List returns the MSP-wide webhooks, oldest first, without secrets.
func (h *Hooks) List(ctx context.Context) ([]Hook, error) {
	var out []Hook
	err := h.control(ctx, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT id, url, events, description, created_by, created_at FROM control.webhooks ORDER BY id`).Scan(&out).Error
	})
	if err != nil {
		return nil, fmt.Errorf("listing webhooks: %w", err)
	}
	return out, nil
}

// Delete removes an MSP-wide webhook and its delivery log; deliveries
// queued for it are cancelled when they run.
func (h *Hooks) Delete(ctx context.Context, id int64) error {
	return h.control(ctx, func(tx *gorm.DB) error {
		var url string
		res := tx.Raw(`DELETE FROM control.webhooks WHERE id = ? RETURNING url`, id).Scan(&url)
		if res.Error != nil {
			return fmt.Errorf("deleting webhook #%d: %w", id, res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrHookNotFound, "there is no webhook #%d", id)
		}
		return audit.RecordPlatform(ctx, tx, "webhook.deleted", fmt.Sprintf("webhook #%d", id), "webhook "+redactURL(url))
	})
}

// hook reads one webhook with its secret, for delivery.
func (h *Hooks) hook(ctx context.Context, tx *gorm.DB, id int64) (Hook, error) {
	var out Hook
	res := tx.Raw(`SELECT id, url, secret, events FROM control.webhooks WHERE id = ?`, id).Scan(&out)
	if res.Error != nil {
		return Hook{}, fmt.Errorf("reading webhook #%d: %w", id, res.Error)
	}
	if res.RowsAffected == 0 {
		return Hook{}, fault.Newf(ErrHookNotFound, "there is no webhook #%d", id)
	}
	return out, nil
}
