package slas_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/modules/alerts"
	"switchboard/modules/audit"
	"switchboard/modules/notify"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/jobs"
	"switchboard/platform/outbox"
	"switchboard/platform/pgtest"
	"switchboard/platform/smtptest"
	"switchboard/platform/tenancy"
)

// startSMTP runs the shared loopback SMTP server (platform/smtptest).
func startSMTP(t *testing.T) (*smtptest.Server, *net.TCPAddr) {
	t.Helper()
	s := smtptest.Start(t)
	return s, s.Addr
}

// replica is one serving process's share of the mailing: its own jobs
// client working the SLA queue, its own notify and its own Mailing.
type replica struct {
	jobs    *jobs.Client
	mailing *slas.Mailing
}

// mailRig is a client with an SLA and two admins, an SMTP relay, and a
// way to start replicas whose mailing sees now as the given time.
type mailRig struct {
	tn    tenancy.Tenant
	box   *smtptest.Server
	start func(now time.Time, work bool) replica
	audit *audit.Service
	ts    *tenants.Service
	pol   *policies.Service
	al    *alerts.Service
}

func newMailRig(t *testing.T, slug string) mailRig {
	t.Helper()
	ctx := context.Background()
	c, ts := tenantstest.Open(t)
	pol := policies.NewService(c)
	tn := ts.Scope(tenantstest.Create(t, ts, slug))
	on := true
	if err := pol.Override(ctx, tn, "sla-default", &on, &policies.Item{Key: "sla-default", Kind: policies.KindSLA, Enabled: true, SLA: &policies.SLA{
		Targets: map[string]policies.SLATarget{"critical": {Acknowledge: 15 * time.Minute, Resolve: 4 * time.Hour},
			"warning": {Acknowledge: time.Hour, Resolve: 8 * time.Hour}, "info": {Acknowledge: 4 * time.Hour, Resolve: 24 * time.Hour}},
		Calendar: policies.SLACalendar{AlwaysOpen: true}, ClockOwner: "msp", WarnAt: 0.75}}); err != nil {
		t.Fatal(err)
	}
	al := alerts.NewService(pol, slas.Panel(pol))
	box, addr := startSMTP(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	rig := mailRig{tn: tn, box: box, audit: audit.NewService(c), ts: ts, pol: pol, al: al}
	rig.start = func(now time.Time, work bool) replica {
		rctx, cancel := context.WithCancel(ctx)
		t.Cleanup(cancel)
		opts := jobs.Options{InsertOnly: !work, PollInterval: 50 * time.Millisecond, MaxConns: 4, Logger: tenantstest.Quiet, TestOnly: true}
		if work {
			opts.Queues = map[string]int{slas.Queue: 2}
		}
		jc, err := jobs.New(rctx, pgtest.URL(), opts)
		if err != nil {
			t.Fatal(err)
		}
		events := outbox.NewSubscribers()
		nt := notify.NewService(notify.Deps{Alerts: al, Tenants: ts, Policies: pol, Jobs: jc, Events: events,
			Brand: func(context.Context, tenancy.Tenant) (notify.EmailBrand, error) {
				return notify.EmailBrand{SenderName: "Acme Health Service Desk", Name: "Acme Health"}, nil
			}}, notify.Options{SMTP: notify.SMTPConfig{Host: "127.0.0.1", Port: addr.Port, From: "desk@mail.example"}, Logger: tenantstest.Quiet})
		docs := slas.NewDocuments(slas.NewReports(al, pol, ts, jc, events), func(context.Context, tenancy.Tenant) (slas.Letterhead, error) {
			return slas.Letterhead{Name: "Acme Health", Primary: "#0f766e", Accent: "#b45309", Zone: berlin}, nil
		})
		m := slas.NewMailing(docs, slas.MailDeps{Tenants: ts,
			Clients: func(context.Context, time.Time) ([]int64, error) { return []int64{tn.ID}, nil },
			Zone:    func(context.Context, tenancy.Tenant) (*time.Location, error) { return berlin, nil },
			Admins: func(context.Context, tenancy.Tenant) ([]string, error) {
				return []string{"admin@acme.example", "cio@acme.example"}, nil
			},
			Send: func(ctx context.Context, t tenancy.Tenant, m slas.Mail) (string, error) {
				return nt.SendEmail(ctx, t, notify.Email{To: m.To, Subject: m.Subject, Body: m.Body,
					Attachments: []notify.Attachment{{Name: m.FileName, ContentType: "application/pdf", Data: m.PDF}}})
			},
			Jobs: jc, Logger: tenantstest.Quiet, Now: func() time.Time { return now }})
		if work {
			if err := jc.Start(rctx); err != nil {
				t.Fatal(err)
			}
		}
		t.Cleanup(func() { _ = jc.Stop(context.Background()) })
		return replica{jobs: jc, mailing: m}
	}
	return rig
}

// waitFor polls cond (the jobs run in other goroutines) for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMonthlyReportMailedOnce: two replicas search at once at 09:00 on the
// first working day on the client's clock; River runs one job, whose
// e-mail reaches both admins once with the PDF attached, in the client's
// name, and is recorded in the client's audit log. Searching again, or
// four senders racing for the same month directly, sends nothing more.
func TestMonthlyReportMailedOnce(t *testing.T) {
	ctx := context.Background()
	rig := newMailRig(t, "mail-once")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	now := time.Date(2026, time.June, 1, 9, 0, 0, 0, berlin) // Monday

	// Before 08:00 nothing is due.
	early := rig.start(now.Add(-2*time.Hour), false)
	if n, err := early.mailing.Enqueue(ctx); err != nil || n != 0 {
		t.Fatalf("at 07:00: %d jobs, %v", n, err)
	}

	a, b := rig.start(now, true), rig.start(now, true)
	var wg sync.WaitGroup
	for _, r := range []replica{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.mailing.Enqueue(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	waitFor(t, "the report e-mail", func() bool { return rig.box.Count() >= 1 })
	waitFor(t, "the audit entry", func() bool { return len(auditOf(t, rig, "sla.report_emailed")) >= 1 })

	// Four more senders race for the same month: it is recorded, nothing is sent.
	var race sync.WaitGroup
	outcomes := make([]string, 4)
	for i := range outcomes {
		race.Add(1)
		go func() {
			defer race.Done()
			r := a
			if i%2 == 1 {
				r = b
			}
			out, err := r.mailing.SendMonth(ctx, rig.tn, time.Date(2026, time.May, 1, 0, 0, 0, 0, time.UTC))
			if err != nil {
				t.Error(err)
			}
			outcomes[i] = out.Outcome
		}()
	}
	race.Wait()
	for _, o := range outcomes {
		if o != "already" {
			t.Errorf("a later sender of a sent month did %q, want already", o)
		}
	}
	if n, err := a.mailing.Enqueue(ctx); err != nil || n != 0 {
		t.Errorf("searching again: %d jobs, %v", n, err)
	}
	if n := rig.box.Count(); n != 1 {
		t.Fatalf("%d e-mails, want 1", n)
	}
	if entries := auditOf(t, rig, "sla.report_emailed"); len(entries) != 1 || entries[0].Target != "2026-05" ||
		!strings.Contains(entries[0].Summary, "admin@acme.example") {
		t.Fatalf("audit entries: %+v", entries)
	}

	first := rig.box.Messages()[0]
	raw, rcpt := first.Data, first.To
	if strings.Join(rcpt, ",") != "admin@acme.example,cio@acme.example" {
		t.Errorf("recipients %v", rcpt)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if from := msg.Header.Get("From"); !strings.HasPrefix(from, `"Acme Health Service Desk"`) {
		t.Errorf("From: %s", from)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if subject != "Service level report, May 2026 · Acme Health" {
		t.Errorf("Subject: %q", subject)
	}
	if bytes.Contains(bytes.ToLower(raw), []byte("switchboard")) {
		t.Error("the e-mail names the platform")
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	parts := multipart.NewReader(msg.Body, params["boundary"])
	var text string
	var pdf []byte
	for {
		p, err := parts.NextPart()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		switch {
		case strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain"):
			text = string(body)
		case p.Header.Get("Content-Type") == "application/pdf":
			if p.FileName() != "sla-report-2026-05.pdf" {
				t.Errorf("attachment named %q", p.FileName())
			}
			pdf, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(body), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	if !strings.Contains(text, "service level report of Acme Health for May 2026") {
		t.Errorf("body: %q", text)
	}
	if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf, []byte("%%EOF")) {
		t.Errorf("attachment is not a PDF: %d bytes", len(pdf))
	}
}

// TestMonthlyReportUndeliverable: with no relay configured the month is
// recorded as failed, with the reason in the audit log, and not tried again.
func TestMonthlyReportUndeliverable(t *testing.T) {
	ctx := context.Background()
	rig := newMailRig(t, "mail-fail")
	jc, err := jobs.New(ctx, pgtest.URL(), jobs.Options{InsertOnly: true, MaxConns: 2, Logger: tenantstest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = jc.Stop(context.Background()) })
	events := outbox.NewSubscribers()
	// A notify service with no SMTP relay, as on a server where e-mail is not set up.
	nt := notify.NewService(notify.Deps{Alerts: rig.al, Tenants: rig.ts, Policies: rig.pol, Jobs: jc, Events: events}, notify.Options{Logger: tenantstest.Quiet})
	docs := slas.NewDocuments(slas.NewReports(rig.al, rig.pol, rig.ts, jc, events), func(context.Context, tenancy.Tenant) (slas.Letterhead, error) {
		return slas.Letterhead{Name: "Acme Health"}, nil
	})
	m := slas.NewMailing(docs, slas.MailDeps{Tenants: rig.ts, Jobs: jc, Logger: tenantstest.Quiet,
		Admins: func(context.Context, tenancy.Tenant) ([]string, error) { return []string{"admin@acme.example"}, nil },
		Send: func(ctx context.Context, t tenancy.Tenant, m slas.Mail) (string, error) {
			detail, err := nt.SendEmail(ctx, t, notify.Email{To: m.To, Subject: m.Subject, Body: m.Body})
			if errors.Is(err, notify.ErrUndeliverable) {
				return "", fmt.Errorf("%w: %w", slas.ErrUndeliverable, err)
			}
			return detail, err
		}})
	month := time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC)
	out, err := m.SendMonth(ctx, rig.tn, month)
	if err != nil || out.Outcome != "failed" || !strings.Contains(out.Detail, "not configured") {
		t.Fatalf("SendMonth = %+v, %v", out, err)
	}
	if again, err := m.SendMonth(ctx, rig.tn, month); err != nil || again.Outcome != "already" {
		t.Fatalf("again: %+v, %v", again, err)
	}
	if entries := auditOf(t, rig, "sla.report_not_emailed"); len(entries) != 1 || !strings.Contains(entries[0].Summary, "April 2026") {
		t.Fatalf("audit: %+v", entries)
	}
}

// auditOf lists the client's audit entries of one action.
func auditOf(t *testing.T, rig mailRig, action string) []audit.Entry {
	t.Helper()
	list, err := rig.audit.Tenant(context.Background(), rig.tn, audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return list
}
