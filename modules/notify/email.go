package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"switchboard/modules/alerts"
	"switchboard/platform/tenancy"
)

// SMTPConfig says how e-mail leaves: through one relay.
type SMTPConfig struct {
	Host string
	Port int    // default 587
	From string // sender, e.g. "Switchboard <alerts@msp.example>"
	// Username and Password, when set, authenticate with AUTH PLAIN, which
	// is only ever sent over TLS (or to localhost).
	Username string
	Password string
	// RequireTLS refuses to send when the server does not offer STARTTLS;
	// otherwise STARTTLS is used whenever it is offered.
	RequireTLS bool
	// TLS overrides the STARTTLS settings (e.g. a private CA); nil verifies
	// the server's certificate against the system roots for Host.
	TLS *tls.Config
}

// smtpTimeout bounds one whole SMTP conversation.
const smtpTimeout = 30 * time.Second

// sendEmail mails the notice to the channel's addresses.
func (s *Service) sendEmail(ctx context.Context, t tenancy.Tenant, ch Channel, n notice) (string, error) {
	cfg := s.opts.SMTP
	if cfg.Host == "" || cfg.From == "" {
		return "", permanent(errors.New("e-mail is not configured on this server (notify.smtp.host and notify.smtp.from)"))
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return "", permanent(fmt.Errorf("the configured sender %q is not an address: %w", cfg.From, err))
	}
	var brand *EmailBrand
	if s.deps.Brand != nil {
		b, err := s.deps.Brand(ctx, t)
		if err != nil {
			return "", fmt.Errorf("reading the client's e-mail brand: %w", err)
		}
		brand = &b
		if b.SenderName != "" {
			from = &mail.Address{Name: b.SenderName, Address: from.Address}
		}
	}
	msg := s.message(from, ch.EmailTo, n, brand)
	accepted, refused, err := sendMail(ctx, cfg, from.Address, ch.EmailTo, msg)
	if err != nil {
		return "", err
	}
	detail := "sent to " + strings.Join(accepted, ", ")
	if len(refused) > 0 {
		detail += "; refused: " + strings.Join(refused, "; ")
	}
	return detail, nil
}

// subject is tenant-neutral and short: "[CRITICAL] disk_full on web1", or
// for an escalation or a follow-up "[SLA BREACH: response] disk_full on
// web1", "[RESOLVED] disk_full on web1".
func subject(a alerts.Alert, reason string) string {
	tag := strings.ToUpper(a.Severity)
	switch eventOf(reason) {
	case AlertCreated:
	case AlertNoted:
		tag = "NOTE"
	case AlertAssigned:
		tag = "ASSIGNED"
	default:
		tag = strings.ToUpper(reason)
	}
	s := "[" + tag + "] " + a.Rule
	if a.Endpoint != "" {
		s += " on " + a.Endpoint
	}
	return oneLine(s)
}

// message builds the whole RFC 5322 message: plain text, quoted-printable.
// With a brand, it links to the client's portal (or nowhere) and is signed
// by the client's service desk, so nothing in it points at the console.
func (s *Service) message(from *mail.Address, to []string, n notice, brand *EmailBrand) []byte {
	a, reason := n.Alert, n.Reason
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject(a, reason)))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", messageID(from.Address, a.ID))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no auto-replies, please
	b.WriteString("\r\n")

	summary := a.Summary
	if summary == "" {
		summary = a.Rule
	}
	var body strings.Builder
	body.WriteString(summary + "\n\n")
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&body, "%-9s %s\n", k+":", oneLine(v))
		}
	}
	line("Severity", a.Severity)
	line("Status", a.Status)
	line("Endpoint", a.Endpoint)
	line("Rule", a.Rule)
	line("Source", a.Source)
	if !a.FirstSeenAt.IsZero() {
		line("Since", a.FirstSeenAt.UTC().Format("2006-01-02 15:04 MST"))
	}
	line("Labels", labelList(a.Labels))
	if note := n.What.Note; note != nil {
		line("Note", note.Author+": "+note.Text)
	}
	if as := n.What.Assignment; as != nil {
		line("Assignee", nobodyWord(as.To)+" (was "+nobodyWord(as.From)+", by "+as.By+")")
	}
	why := "because a routing policy sends this alert here"
	if n.Event == EventTest {
		why = "to test this notification channel"
	}
	switch {
	case brand == nil:
		fmt.Fprintf(&body, "\nView the alert: %s\n", n.Link)
		body.WriteString("\n-- \nSent by Switchboard " + why + ".\n")
	default:
		if brand.PortalURL != "" && n.Event != EventTest {
			fmt.Fprintf(&body, "\nView the alert: %s/alerts/%d\n", strings.TrimRight(brand.PortalURL, "/"), a.ID)
		}
		fmt.Fprintf(&body, "\n-- \nSent by %s %s.\n", oneLine(brand.Name), why)
	}

	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(body.String(), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// nobodyWord names an empty assignee for people.
func nobodyWord(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

func labelList(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

// oneLine keeps header-bound text on one line: alert fields are sender input.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

func messageID(from string, alertID int64) string {
	r := make([]byte, 8)
	_, _ = rand.Read(r)
	domain := "switchboard.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	return fmt.Sprintf("<alert-%d.%s@%s>", alertID, hex.EncodeToString(r), domain)
}

// sendMail runs one SMTP conversation: STARTTLS when offered, AUTH when
// configured, then the message to every recipient the server accepts. It
// returns the accepted and refused recipients. 5xx answers are permanent.
func sendMail(ctx context.Context, cfg SMTPConfig, from string, to []string, msg []byte) (accepted, refused []string, err error) {
	port := cfg.Port
	if port == 0 {
		port = 587
	}
	ctx, cancel := context.WithTimeout(ctx, smtpTimeout)
	defer cancel()
	d := net.Dialer{Timeout: 10 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(port)))
	if err != nil {
		return nil, nil, fmt.Errorf("connecting to the SMTP server: %w", err)
	}
	// net/smtp has no contexts: the deadline and AfterFunc stand in for them.
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		_ = conn.Close()
		return nil, nil, smtpErr("greeting", err)
	}
	defer c.Close()
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := cfg.TLS
		if tc == nil {
			tc = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tc); err != nil {
			return nil, nil, smtpErr("STARTTLS", err)
		}
	} else if cfg.RequireTLS {
		return nil, nil, permanent(errors.New("the SMTP server does not offer STARTTLS and notify.smtp.require_tls is set"))
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return nil, nil, smtpErr("AUTH", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return nil, nil, smtpErr("MAIL FROM", err)
	}
	var lastRefusal error
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt); err != nil {
			refused = append(refused, rcpt+" ("+err.Error()+")")
			lastRefusal = err
			continue
		}
		accepted = append(accepted, rcpt)
	}
	if len(accepted) == 0 {
		return nil, nil, smtpErr("RCPT TO", lastRefusal)
	}
	w, err := c.Data()
	if err != nil {
		return nil, nil, smtpErr("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return nil, nil, smtpErr("DATA", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, smtpErr("DATA", err)
	}
	_ = c.Quit() // the message is accepted; a failed goodbye changes nothing
	return accepted, refused, nil
}

// smtpErr names the step that failed and marks 5xx replies permanent.
func smtpErr(step string, err error) error {
	wrapped := fmt.Errorf("SMTP %s: %w", step, err)
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return permanent(wrapped)
	}
	return wrapped
}

// ErrUndeliverable marks an e-mail that retrying cannot send: e-mail is not
// configured on this server, or the relay refused it for good (5xx).
var ErrUndeliverable = errors.New("the e-mail cannot be delivered")

// Email is a message another module sends in a client's name (a monthly
// report), with files attached.
type Email struct {
	To          []string
	Subject     string
	Body        string // plain text, signed by the caller
	Attachments []Attachment
}

// Attachment is one file of an Email.
type Attachment struct {
	Name, ContentType string
	Data              []byte
}

// SendEmail sends m through the SMTP relay as the client's service desk
// (its sender name, never the platform's) and returns who accepted it. An
// error wrapping ErrUndeliverable will not go away by trying again.
func (s *Service) SendEmail(ctx context.Context, t tenancy.Tenant, m Email) (string, error) {
	cfg := s.opts.SMTP
	if cfg.Host == "" || cfg.From == "" {
		return "", fmt.Errorf("%w: e-mail is not configured on this server (notify.smtp.host and notify.smtp.from)", ErrUndeliverable)
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return "", fmt.Errorf("%w: the configured sender %q is not an address: %w", ErrUndeliverable, cfg.From, err)
	}
	if s.deps.Brand != nil {
		b, err := s.deps.Brand(ctx, t)
		if err != nil {
			return "", fmt.Errorf("reading the client's e-mail brand: %w", err)
		}
		if b.SenderName != "" {
			from = &mail.Address{Name: b.SenderName, Address: from.Address}
		}
	}
	msg := mixedMessage(from, m)
	accepted, refused, err := sendMail(ctx, cfg, from.Address, m.To, msg)
	if isPermanent(err) {
		return "", fmt.Errorf("%w: %w", ErrUndeliverable, err)
	} else if err != nil {
		return "", err
	}
	detail := "sent to " + strings.Join(accepted, ", ")
	if len(refused) > 0 {
		detail += "; refused: " + strings.Join(refused, "; ")
	}
	return detail, nil
}

// mixedMessage is m as multipart/mixed: the text, then each file in base64.
func mixedMessage(from *mail.Address, m Email) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	var head bytes.Buffer
	header := func(k, v string) { head.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", strings.Join(m.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	header("Date", time.Now().UTC().Format(time.RFC1123Z))
	header("Message-ID", strings.Replace(messageID(from.Address, 0), "<alert-0.", "<message.", 1))
	header("MIME-Version", "1.0")
	header("Content-Type", `multipart/mixed; boundary="`+mw.Boundary()+`"`)
	header("Auto-Submitted", "auto-generated")
	head.WriteString("\r\n")

	text, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=utf-8"}, "Content-Transfer-Encoding": {"quoted-printable"}})
	qp := quotedprintable.NewWriter(text)
	_, _ = qp.Write([]byte(strings.ReplaceAll(m.Body, "\n", "\r\n")))
	_ = qp.Close()
	for _, a := range m.Attachments {
		part, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {a.ContentType},
			"Content-Transfer-Encoding": {"base64"},
			"Content-Disposition":       {mime.FormatMediaType("attachment", map[string]string{"filename": oneLine(a.Name)})}})
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 { // RFC 2045: lines of at most 76 characters
			_, _ = io.WriteString(part, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		_, _ = io.WriteString(part, enc+"\r\n")
	}
	_ = mw.Close()
	return append(head.Bytes(), b.Bytes()...)
}
