package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Webhook requests: POST, Content-Type application/json, body
//
//	{"event": "alert.created", "id": "7-42-created", "occurred_at": "2025-01-31T12:00:00Z",
//	 "tenant": {"slug": "acme", "name": "Acme Health"}, "client": "Acme Health",
//	 "alert": {"id": 42, "rule": "disk_full", "severity": "critical",
//	 "status": "firing", "summary": "disk 97% full", "endpoint": "web1",
//	 "labels": {"mount": "/"}, "first_seen_at": "2025-01-31T12:00:00Z",
//	 "assignee": "", "url": "https://console.msp.example/t/acme/alerts/42"}}
//
// "event" is alert.created, alert.assigned ("assignment" says from, to and
// by), alert.noted ("note" carries the text, its author and whether the
// client reads it), alert.acknowledged, alert.resolved, sla.warning and
// sla.breached ("sla" names the clock and level; "reason" reads "sla
// breach: response"), client.created and client.suspended (MSP-wide
// webhooks only; no "alert"), or test (sent from the channels page; alert
// id 0). webhooks.openapi.json describes every payload. A subscription
// receives the events it chose. "id" is the event's (the same for every
// subscription); "client" is the client's display name; "alert.url" is the
// alert's page in the console (notify.base_url + path; a bare path when
// that is not set). Headers:
//
//	X-Switchboard-Timestamp: 1738324800        (Unix seconds when this attempt was sent)
//	X-Switchboard-Signature: v1=<64 hex digits>
//	X-Switchboard-Delivery:  42-7              (the same on every retry and redelivery)
//
// The signature is the hex HMAC-SHA256, keyed with the subscription's secret, of
// the timestamp, a dot, and the raw body: "1738324800.{"tenant":...}". A
// receiver recomputes it over the exact bytes it received (before parsing
// them), compares in constant time, and rejects a timestamp more than five
// minutes from its own clock, so a captured request cannot be replayed.
// Every retry is signed afresh with its own timestamp; delivery is
// at-least-once, so use X-Switchboard-Delivery to drop repeats. "v1" names
// the scheme so a later one can be added beside it. Any 2xx answer counts as
// delivered; 4xx other than 408 and 429 is a permanent failure (no retry);
// anything else, a timeout (10 s) or a network error is retried with backoff.
//
// Verifying in Go:
//
//	func verify(r *http.Request, secret string) ([]byte, error) {
//		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
//		if err != nil {
//			return nil, err
//		}
//		ts := r.Header.Get("X-Switchboard-Timestamp")
//		sec, err := strconv.ParseInt(ts, 10, 64)
//		if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
//			return nil, errors.New("missing or stale timestamp")
//		}
//		mac := hmac.New(sha256.New, []byte(secret))
//		mac.Write([]byte(ts + "."))
//		mac.Write(body)
//		want := "v1=" + hex.EncodeToString(mac.Sum(nil))
//		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Switchboard-Signature"))) {
//			return nil, errors.New("bad signature")
//		}
//		return body, nil
//	}
//
// Or in a shell: printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret".
const (
	HeaderTimestamp = "X-Switchboard-Timestamp"
	HeaderSignature = "X-Switchboard-Signature"
	HeaderDelivery  = "X-Switchboard-Delivery"
)

// webhookTimeout bounds one webhook attempt, connection included.
const webhookTimeout = 10 * time.Second

// sign returns the signature header value for body sent at ts.
func sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10) + "."))
	mac.Write(body)
	return "v1=" + hex.EncodeToString(mac.Sum(nil))
}

// sendWebhook POSTs the signed notice and classifies the answer.
func (s *Service) sendWebhook(ctx context.Context, ch Channel, n notice) (string, error) {
	body, err := json.Marshal(n.body())
	if err != nil {
		return "", permanent(fmt.Errorf("encoding the payload: %w", err))
	}
	_, detail, err := s.postSigned(ctx, ch.URL, ch.Secret, n.Delivery, body)
	return detail, err
}

// postSigned POSTs body to rawURL, signed with secret and stamped with the
// delivery id, and classifies the answer: the HTTP status (0 when none
// came), what happened for people, and an error (permanent when retrying
// cannot help). Client channels and MSP-wide webhooks both send with it,
// so they are signed and judged alike.
func (s *Service) postSigned(ctx context.Context, rawURL, secret, delivery string, body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, webhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return 0, "", permanent(fmt.Errorf("building the request: %w", err))
	}
	ts := time.Now().Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Switchboard-Webhook/1")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	req.Header.Set(HeaderSignature, sign(secret, ts, body))
	req.Header.Set(HeaderDelivery, delivery)

	resp, err := s.http.Do(req)
	if err != nil {
		if isBlocked(err) {
			return 0, "", permanent(unwrapURLError(err))
		}
		return 0, "", fmt.Errorf("POST %s: %w", redactURL(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // drained so the connection can be reused
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		return code, fmt.Sprintf("delivered, HTTP %d", code), nil
	case code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests:
		return code, "", permanent(fmt.Errorf("HTTP %d%s", code, quote(snippet)))
	default:
		return code, "", fmt.Errorf("HTTP %d%s", code, quote(snippet))
	}
}

// quote shows the start of a receiver's answer, printable characters only.
func quote(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, strings.TrimSpace(string(b)))
	if s == "" {
		return ""
	}
	if r := []rune(s); len(r) > 200 {
		s = string(r[:200]) + "…"
	}
	return ": " + s
}
