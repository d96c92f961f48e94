package slas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/humane"
	"switchboard/platform/jobs"
	"switchboard/platform/tenancy"
)

// ErrUndeliverable marks a report e-mail that retrying cannot send (e-mail
// is not configured, or the relay refused it for good); the month is then
// recorded as failed, with the reason in the client's audit log.
var ErrUndeliverable = errors.New("the report e-mail cannot be delivered")

// Mail is a monthly report e-mail: text and the PDF.
type Mail struct {
	To       []string
	Subject  string
	Body     string
	FileName string
	PDF      []byte
}

// SendFunc e-mails m in the client's name and says who accepted it.
type SendFunc func(ctx context.Context, t tenancy.Tenant, m Mail) (string, error)

// MailDeps are what monthly mailing needs from other modules; app wires them.
type MailDeps struct {
	Tenants jobs.TenantLookup
	// Clients lists the ids of the clients created before the given moment
	// (the control plane's directory).
	Clients func(ctx context.Context, createdBefore time.Time) ([]int64, error)
	// Zone is the client's time zone (its settings).
	Zone func(ctx context.Context, t tenancy.Tenant) (*time.Location, error)
	// Admins are the e-mail addresses of the client's enabled client admins.
	Admins func(ctx context.Context, t tenancy.Tenant) ([]string, error)
	Send   SendFunc
	Jobs   *jobs.Client
	Logger *slog.Logger
	Now    func() time.Time // the search's clock; nil: time.Now (tests move it)
}

// Mailing e-mails each client's previous month's report to its admins on
// the first working day of the month at 08:00 on the client's clock. A
// periodic search (Enqueue) finds the clients that are due and inserts one
// job per client and month, unique in River; the job records the month in
// the client's sla_report_mailings in the transaction that sends, so
// replicas racing for it send once.
type Mailing struct {
	docs *Documents
	deps MailDeps

	mu   sync.Mutex
	done map[int64]string // client → the newest month known recorded, so the search skips it
}

// NewMailing returns the monthly mailing of docs' reports, with its job
// worker registered on deps.Jobs.
func NewMailing(docs *Documents, deps MailDeps) *Mailing {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	m := &Mailing{docs: docs, deps: deps, done: map[int64]string{}}
	river.AddWorker(deps.Jobs.Workers(), &mailWorker{m: m})
	return m
}

// mailParallel bounds how many clients the search reads at once.
const mailParallel = 4

// Enqueue is the periodic search: inside the days when some client can be
// due (mailWindowOpen), it reads each client's time zone and newest
// recorded month and inserts a job for each one due. It returns how many
// jobs it asked for (River drops those already waiting or done).
func (m *Mailing) Enqueue(ctx context.Context) (int, error) {
	now := m.deps.Now()
	if !mailWindowOpen(now) {
		return 0, nil
	}
	// A client recorded for the month before the furthest-ahead zone's
	// (UTC+14) current month needs no read: nothing newer can be due.
	ahead := now.UTC().Add(14 * time.Hour)
	settled := time.Date(ahead.Year(), ahead.Month()-1, 1, 0, 0, 0, 0, time.UTC).Format("2006-01")
	ids, err := m.deps.Clients(ctx, reportedMonthEnd(now))
	if err != nil {
		return 0, err
	}
	var mu sync.Mutex
	var params []river.InsertManyParams
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(mailParallel)
	for _, id := range ids {
		m.mu.Lock()
		known := m.done[id]
		m.mu.Unlock()
		if known >= settled {
			continue
		}
		g.Go(func() error {
			month, due, err := m.due(gctx, id, now)
			if err != nil || !due {
				return err
			}
			mu.Lock()
			params = append(params, river.InsertManyParams{Args: mailArgs{TenantArgs: jobs.TenantArgs{TenantID: id}, Month: month.Format("2006-01")},
				InsertOpts: &river.InsertOpts{Queue: Queue, MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true}}})
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	if _, err := m.deps.Jobs.InsertMany(ctx, params); err != nil {
		return 0, fmt.Errorf("sla: scheduling report e-mails: %w", err)
	}
	return len(params), nil
}

// due reads one client and applies reportDue. A client that is not active
// (suspended, being deleted) is never due.
func (m *Mailing) due(ctx context.Context, id int64, now time.Time) (time.Time, bool, error) {
	t, err := m.deps.Tenants.ByID(ctx, id)
	if errors.Is(err, tenancy.ErrUnknownTenant) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	if t.Status != tenancy.StatusActive || t.Moving {
		return time.Time{}, false, nil // a moving client is found again in 15 minutes
	}
	loc, err := m.deps.Zone(ctx, t)
	if err != nil {
		return time.Time{}, false, err
	}
	last, err := lastMailed(ctx, t)
	if err != nil {
		return time.Time{}, false, err
	}
	m.remember(id, last)
	month, due := reportDue(now, loc, last)
	return month, due, nil
}

func (m *Mailing) remember(id int64, month string) {
	if month == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if month > m.done[id] {
		m.done[id] = month
	}
}

// lastMailed is the newest month recorded for the client ("" for none).
func lastMailed(ctx context.Context, t tenancy.Tenant) (string, error) {
	var last string
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT coalesce(to_char(max(month), 'YYYY-MM'), '') FROM sla_report_mailings`).Scan(&last).Error
	})
	if err != nil {
		return "", fmt.Errorf("reading the report e-mails of %s: %w", t.Slug, err)
	}
	return last, nil
}

// Mailed is what SendMonth did.
type Mailed struct {
	Outcome string   // sent, no_sla, no_recipients, failed, or already (recorded before)
	To      []string // the admins it was addressed to
	Detail  string
}

// SendMonth e-mails the client's report of month to its admins, once: the
// month's row is inserted in the transaction that sends, so a second
// sender waits on it and then finds the month recorded. A client without
// an SLA or without admins is recorded as such and sent nothing. An error
// is worth retrying (the claim was rolled back); a refusal for good is
// recorded as failed, with the reason in the audit log.
func (m *Mailing) SendMonth(ctx context.Context, t tenancy.Tenant, month time.Time) (Mailed, error) {
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, time.UTC)
	key := month.Format("2006-01")
	last, err := lastMailed(ctx, t)
	if err != nil {
		return Mailed{}, err
	}
	if last >= key {
		m.remember(t.ID, last)
		return Mailed{Outcome: "already"}, nil
	}
	doc, err := m.docs.build(ctx, t, month)
	if err != nil {
		return Mailed{}, err
	}
	if doc.Report.Origin == "" {
		return m.record(ctx, t, month, Mailed{Outcome: "no_sla", Detail: "no SLA is agreed"}, "")
	}
	to, err := m.deps.Admins(ctx, t)
	if err != nil {
		return Mailed{}, err
	}
	if len(to) == 0 {
		return m.record(ctx, t, month, Mailed{Outcome: "no_recipients", Detail: "the client has no client admin"},
			"The "+month.Format("January 2006")+" SLA report was not e-mailed: the client has no client admin.")
	}
	pdf, err := renderPDF(doc, m.docs.compress)
	if err != nil {
		return Mailed{}, err
	}
	mail := reportMail(doc, to, pdf)
	out := Mailed{Outcome: "sent", To: to}
	claimed := false
	err = tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		// A racing sender's insert waits here until this one commits, then
		// finds the row: one e-mail per client and month.
		res := tx.Exec(`INSERT INTO sla_report_mailings (month, outcome, recipients) VALUES (?::date, 'sent', ?) ON CONFLICT (month) DO NOTHING`,
			month.Format("2006-01-02"), strings.Join(to, ", "))
		if res.Error != nil {
			return fmt.Errorf("recording the report e-mail: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil
		}
		claimed = true
		detail, err := m.deps.Send(ctx, t, mail)
		if err != nil {
			return err
		}
		out.Detail = detail
		return audit.Record(ctx, tx, "sla.report_emailed", key, "The "+month.Format("January 2006")+" SLA report was e-mailed: "+detail)
	})
	switch {
	case errors.Is(err, ErrUndeliverable):
		m.deps.Logger.WarnContext(ctx, "monthly SLA report not e-mailed", "tenant", t.Slug, "month", key, "err", err)
		return m.record(ctx, t, month, Mailed{Outcome: "failed", To: to, Detail: err.Error()},
			"The "+month.Format("January 2006")+" SLA report could not be e-mailed: "+err.Error())
	case err != nil:
		return Mailed{}, err
	case !claimed:
		return Mailed{Outcome: "already"}, nil
	}
	m.remember(t.ID, key)
	return out, nil
}

// record writes a month that was not sent (and why, in the audit log when
// summary is set), unless another sender recorded it first.
func (m *Mailing) record(ctx context.Context, t tenancy.Tenant, month time.Time, out Mailed, summary string) (Mailed, error) {
	err := tenancy.Do(ctx, t, func(tx *gorm.DB) error {
		res := tx.Exec(`INSERT INTO sla_report_mailings (month, outcome, recipients, detail) VALUES (?::date, ?, ?, left(?, 2000)) ON CONFLICT (month) DO NOTHING`,
			month.Format("2006-01-02"), out.Outcome, strings.Join(out.To, ", "), out.Detail)
		if res.Error != nil {
			return fmt.Errorf("recording the report e-mail: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			out = Mailed{Outcome: "already"}
			return nil
		}
		if summary == "" {
			return nil
		}
		return audit.Record(ctx, tx, "sla.report_not_emailed", month.Format("2006-01"), summary)
	})
	if err != nil {
		return Mailed{}, err
	}
	m.remember(t.ID, month.Format("2006-01"))
	return out, nil
}

// reportMail is the e-mail of a report: a few lines in the client's name
// with the headline figures, and the PDF.
func reportMail(doc reportDoc, to []string, pdf []byte) Mail {
	rep := doc.Report
	monthName := rep.Month.Format("January 2006")
	share := func(o Outcome) string {
		if !o.Measured() {
			return humane.None + " (no alert decided)"
		}
		return doc.Head.Locale.Percent(o.Percent(), 0)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nattached is the service level report of %s for %s.\n\n", doc.Head.Name, monthName)
	fmt.Fprintf(&b, "Alerts opened:          %d\n", rep.Alerts)
	fmt.Fprintf(&b, "Acknowledged in time:   %s\n", share(rep.Response))
	fmt.Fprintf(&b, "Resolved in time:       %s\n", share(rep.Resolution))
	fmt.Fprintf(&b, "Breaches:               %d\n", len(rep.Breaches))
	b.WriteString("\nThe report is also on your portal, under Service levels.\n\n-- \n" + doc.Head.Name + "\n")
	return Mail{To: to, Subject: "Service level report, " + monthName + " · " + doc.Head.Name, Body: b.String(),
		FileName: "sla-report-" + rep.Month.Format("2006-01") + ".pdf", PDF: pdf}
}

// mailArgs sends one client's report of one month; unique, so the search
// running again while it waits or after it ran adds nothing.
type mailArgs struct {
	jobs.TenantArgs
	Month string `json:"month" river:"unique"` // 2006-01
}

// Kind names the job in River.
func (mailArgs) Kind() string { return "sla_report_mail" }

type mailWorker struct {
	river.WorkerDefaults[mailArgs]
	m *Mailing
}

// Work sends the month's report (or finds it sent).
func (w *mailWorker) Work(ctx context.Context, job *river.Job[mailArgs]) error {
	t, err := jobs.ResolveTenant(ctx, w.m.deps.Tenants, job.Args.TenantArgs)
	if err != nil {
		return err
	}
	month, err := time.Parse("2006-01", job.Args.Month)
	if err != nil {
		return river.JobCancel(fmt.Errorf("bad month %q: %w", job.Args.Month, err))
	}
	_, err = w.m.SendMonth(ctx, t, month)
	return err
}
