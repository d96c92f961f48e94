package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"gorm.io/gorm"

	"switchboard/modules/identity"
)

// TestWebhookCLI: `switchboard webhook create|list|delete` manage MSP-wide
// webhooks; bad input exits with status 2 and a reason, and writes nothing.
func TestWebhookCLI(t *testing.T) {
	expect(t, cli(t, "migrate"), 0)
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"no flags", []string{"webhook", "create"}, "--url and --events are required"},
		{"not http", []string{"webhook", "create", "--url", "ftp://psa.cli.example/", "--events", "alert.created"}, "https://"},
		{"unknown event", []string{"webhook", "create", "--url", "https://psa.cli.example/", "--events", "alert.exploded"}, "alert.exploded"},
		{"bad id", []string{"webhook", "delete", "seven"}, "not a number"},
		{"no such webhook", []string{"webhook", "delete", "987654321"}, "no webhook #987654321"},
		{"extra argument", []string{"webhook", "list", "now"}, "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cli(t, tc.args...), 2, tc.says)
		})
	}

	r := cli(t, "webhook", "create", "--url", "https://psa.cli.example/in", "--events", "alert.created,client.suspended", "--description", "CLI PSA", "-o", "json")
	expect(t, r, 0)
	var made struct {
		ID     int64    `json:"id"`
		Secret string   `json:"secret"`
		Events []string `json:"events"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &made); err != nil || made.ID == 0 || !strings.HasPrefix(made.Secret, "whsec_") || len(made.Events) != 2 {
		t.Fatalf("created %+v (%v)\n%s", made, err, r)
	}
	list := cli(t, "webhook", "list")
	expect(t, list, 0, "https://psa.cli.example/in", "alert.created,client.suspended", "CLI PSA")
	if strings.Contains(list.stdout, made.Secret) || strings.Contains(list.stdout, "ftp://") {
		t.Fatalf("the list shows a secret or a refused webhook:\n%s", list)
	}
	id := strconv.FormatInt(made.ID, 10)
	expect(t, cli(t, "webhook", "delete", id), 0, "webhook #"+id+" deleted")
	if list := cli(t, "webhook", "list"); strings.Contains(list.stdout, "psa.cli.example/in") {
		t.Fatalf("still listed after delete:\n%s", list)
	}
}

// TestWebhooksPage: an admin adds an MSP-wide webhook on its page, sees its
// secret once, and the delivery log lists a delivery with its attempts and
// a Redeliver button; a bad URL is refused with the reason (400).
func TestWebhooksPage(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	const pw = "webhooks-password-1"
	if _, _, err := e.identity.CreateStaff(ctx, identity.StaffInput{Email: "hooks-admin@msp.example", Role: "admin", Password: pw}); err != nil {
		t.Fatal(err)
	}
	b := newClient(t, ts.URL)
	if status := b.login("hooks-admin@msp.example", pw); status != http.StatusSeeOther {
		t.Fatalf("login: %d", status)
	}
	status, body, _ := b.do("POST", "/platform/webhooks", url.Values{"url": {"ftp://psa.page.example/"}, "events": {"alert.created"}})
	if status != http.StatusBadRequest || !strings.Contains(body, "https://") {
		t.Fatalf("bad URL: %d\n%s", status, body)
	}
	status, body, _ = b.do("POST", "/platform/webhooks", url.Values{"url": {"https://psa.page.example/in"}, "events": {"alert.created", "alert.noted"},
		"description": {"Page PSA"}})
	if status != http.StatusCreated || !strings.Contains(body, "whsec_") || !strings.Contains(body, "Page PSA") {
		t.Fatalf("create: %d\n%s", status, body)
	}
	hooks, err := e.hooks.List(ctx)
	if err != nil || len(hooks) == 0 {
		t.Fatal(hooks, err)
	}
	// A webhook for every client's alerts outlives its test otherwise: each
	// later test's alert would queue a delivery to a host that never answers.
	t.Cleanup(func() {
		_ = e.controlTx(context.Background(), func(tx *gorm.DB) error {
			return tx.Exec(`DELETE FROM control.webhooks WHERE url = 'https://psa.page.example/in'`).Error
		})
	})
	if err := e.controlTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Exec(`INSERT INTO control.webhook_deliveries (webhook_id, delivery, event, payload, status)
			VALUES (?, 'w-page-1', 'alert.created', '{"event":"alert.created"}', 'failed')`, hooks[len(hooks)-1].ID).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO control.webhook_attempts (delivery_id, round, attempt, ok, status_code, detail, duration_ms)
			SELECT id, 1, 1, false, 503, 'HTTP 503: try later', 12 FROM control.webhook_deliveries WHERE delivery = 'w-page-1'`).Error
	}); err != nil {
		t.Fatal(err)
	}
	status, body, _ = b.do("GET", "/platform/webhooks", nil)
	if status != http.StatusOK || strings.Contains(body, "whsec_") {
		t.Fatalf("page: %d (a secret must be shown only once)\n%s", status, body)
	}
	for _, want := range []string{"https://psa.page.example/in", "w-page-1", "HTTP 503: try later", "Redeliver", "12 ms"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page does not show %q", want)
		}
	}
}
