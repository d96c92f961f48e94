package notify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// TestOutcome is what sending a test message came to.
type TestOutcome struct {
	OK     bool
	Detail string // what the receiver answered, or why it failed
}

// SendTest sends a test message to the named channel now and waits for the
// answer: the same sender, signature and network guard as an alert's
// delivery (a webhook signed with the channel's secret, e-mail through the
// SMTP relay, an inbox entry), without the retries, so the person who asked
// sees the outcome. A disabled channel is tested too: testing before
// enabling is the point. The attempt and its outcome are audited. The error
// is ErrNotFound for no such channel, or a failure to read or audit; a
// failed delivery is an outcome, not an error.
func (s *Service) SendTest(ctx context.Context, t tenancy.Tenant, name string) (TestOutcome, error) {
	var ch Channel
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error { return tx.Where("name = ?", name).Take(&ch).Error })
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return TestOutcome{}, fault.Newf(ErrNotFound, "%q", name)
	}
	if err != nil {
		return TestOutcome{}, fmt.Errorf("reading channel %s: %w", name, err)
	}
	n, err := s.testNotice(ctx, t, ch, time.Now())
	if err != nil {
		return TestOutcome{}, err
	}
	out := TestOutcome{OK: true}
	out.Detail, err = s.send(ctx, t, ch, n)
	if err != nil {
		out = TestOutcome{Detail: err.Error()}
	}
	summary := "delivered: " + out.Detail
	if !out.OK {
		summary = "failed: " + out.Detail
	}
	err = tenancy.Do(context.WithoutCancel(ctx), t, func(tx *gorm.DB) error {
		return audit.Record(ctx, tx, "notify.channel_tested", ch.Name, summary)
	})
	if err != nil {
		return out, fmt.Errorf("auditing the test of %s: %w", name, err)
	}
	return out, nil
}
