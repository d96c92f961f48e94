package notify

import (
	"context"
	"errors"
	"testing"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/tenancy"
)

func TestChannels(t *testing.T) {
	f := newFixture(t)
	tn, other := f.tenant(t), f.tenant(t)
	svc := newIdleHarness(t, f, nil).svc
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})

	hook, err := svc.Create(ctx, tn, ChannelInput{Name: "ops-hook", Kind: KindWebhook, URL: "https://hooks.acme.example/in?token=s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	if hook.ID == 0 || hook.Secret == "" || !hook.Enabled || hook.CreatedAt.IsZero() {
		t.Fatalf("created %+v", hook)
	}
	if _, err := svc.Create(ctx, tn, ChannelInput{Name: "ops-mail", Kind: KindEmail, EmailTo: []string{"ops@acme.example"}}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Create(ctx, tn, ChannelInput{Name: "ops-hook", Kind: KindEmail, EmailTo: []string{"x@acme.example"}})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("duplicate name: %v", err)
	}
	// Names are per tenant.
	if _, err := svc.Create(ctx, other, ChannelInput{Name: "ops-hook", Kind: KindWebhook, URL: "https://other.example/"}); err != nil {
		t.Fatal(err)
	}

	list, err := svc.List(ctx, tn)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "ops-hook" || list[1].Name != "ops-mail" {
		t.Fatalf("list %+v", list)
	}
	if list[0].Secret != "" {
		t.Fatal("List returned a webhook secret")
	}
	if list[1].EmailTo[0] != "ops@acme.example" {
		t.Fatalf("addresses %q", list[1].EmailTo)
	}

	if err := svc.SetEnabled(ctx, tn, "ops-mail", false); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetEnabled(ctx, tn, "ops-mail", false); err != nil {
		t.Fatalf("disabling twice: %v", err)
	}
	if err := svc.SetEnabled(ctx, tn, "nope", true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("enabling a missing channel: %v", err)
	}
	if err := svc.Delete(ctx, tn, "ops-hook"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Delete(ctx, tn, "ops-hook"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if list, _ := svc.List(ctx, other); len(list) != 1 {
		t.Fatalf("the other tenant's channels changed: %+v", list)
	}

	// Every change is in the tenant's audit log, by who made it, and the
	// webhook's path and token are not.
	var entries []struct{ Actor, Action, Target, Summary string }
	err = tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT actor, action, target, summary FROM audit_log WHERE action LIKE 'notify.%' ORDER BY id`).Scan(&entries).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"notify.channel_created", "notify.channel_created", "notify.channel_disabled", "notify.channel_deleted"}
	if len(entries) != len(want) {
		t.Fatalf("audit entries %+v", entries)
	}
	for i, e := range entries {
		if e.Action != want[i] || e.Actor != "tech@msp.example" {
			t.Errorf("entry %d: %+v, want %s by tech@msp.example", i, e, want[i])
		}
	}
	if entries[0].Summary != "webhook https://hooks.acme.example" {
		t.Errorf("audit summary %q shows more than scheme and host", entries[0].Summary)
	}
}
