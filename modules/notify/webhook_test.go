package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river/rivertype"

	"switchboard/modules/alerts"
	"switchboard/modules/policies"
)

// receiver is an httptest webhook endpoint that verifies signatures the way
// the package documentation tells receivers to, then answers with the next
// status of its script (200 once the script runs out).
type receiver struct {
	*httptest.Server
	secret string

	mu       sync.Mutex
	script   []int
	requests []*http.Request
	bodies   [][]byte
}

func newReceiver(t *testing.T, secret string, script ...int) *receiver {
	t.Helper()
	r := &receiver{secret: secret, script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	raw, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(raw))
	_, err := verify(req, r.secret)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, req)
	r.bodies = append(r.bodies, raw)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := http.StatusOK
	if len(r.script) > 0 {
		status, r.script = r.script[0], r.script[1:]
	}
	w.WriteHeader(status)
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// verify is the verification snippet from the package documentation.
func verify(r *http.Request, secret string) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	ts := r.Header.Get("X-Switchboard-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return nil, errors.New("missing or stale timestamp")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "v1=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Switchboard-Signature"))) {
		return nil, errors.New("bad signature")
	}
	return body, nil
}

const secret = "whsec_test_0123456789abcdef"

func TestWebhookDelivery(t *testing.T) {
	cases := []struct {
		name           string
		receiverSecret string
		script         []int
		wantKinds      []string
		wantLast       string // fragment of the last event's body
		wantState      rivertype.JobState
	}{
		{"signed and accepted", secret, nil, []string{EventNotified}, "delivered, HTTP 200 (attempt 1)", rivertype.JobStateCompleted},
		{"any 2xx", secret, []int{http.StatusNoContent}, []string{EventNotified}, "HTTP 204", rivertype.JobStateCompleted},
		{"503 twice, then delivered on the third attempt", secret, []int{503, 503, 200},
			[]string{EventNotifyFailed, EventNotifyFailed, EventNotified}, "(attempt 3)", rivertype.JobStateCompleted},
		{"429 is retried", secret, []int{429, 200}, []string{EventNotifyFailed, EventNotified}, "(attempt 2)", rivertype.JobStateCompleted},
		{"408 is retried", secret, []int{408, 200}, []string{EventNotifyFailed, EventNotified}, "(attempt 2)", rivertype.JobStateCompleted},
		{"400 is permanent", secret, []int{400}, []string{EventNotifyFailed}, "HTTP 400", rivertype.JobStateCancelled},
		{"a bad signature is rejected", "whsec_someone_elses_secret", nil, []string{EventNotifyFailed}, "HTTP 401: bad signature (permanent; not retried)", rivertype.JobStateCancelled},
		{"gives up after max attempts", secret, []int{500, 500, 500}, []string{EventNotifyFailed, EventNotifyFailed, EventNotifyFailed},
			"giving up after 3 attempts", rivertype.JobStateDiscarded},
	}
	f := newFixture(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each case has its own tenant, receiver, queue and River client
			h := newHarness(t, f, func(o *Options) { o.MaxAttempts = 3 })
			tn := f.tenant(t)
			ctx := context.Background()
			rcv := newReceiver(t, tc.receiverSecret, tc.script...)
			ch, err := h.svc.Create(ctx, tn, ChannelInput{Name: "hook", Kind: KindWebhook, URL: rcv.URL + "/in", Secret: secret})
			if err != nil {
				t.Fatal(err)
			}
			a := fire(t, f, tn, diskFull())
			if _, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, []policies.EffectiveItem{routingItem("", nil, "hook")}); err != nil {
				t.Fatal(err)
			}
			events := notifyEvents(t, f, tn, a.ID, len(tc.wantKinds))
			var kinds []string
			for _, e := range events {
				kinds = append(kinds, e.Kind)
			}
			if !slices.Equal(kinds, tc.wantKinds) {
				t.Fatalf("events %q, want %q", kinds, tc.wantKinds)
			}
			if last := events[len(events)-1].Body; !strings.Contains(last, tc.wantLast) {
				t.Fatalf("last event %q lacks %q", last, tc.wantLast)
			}
			if st := h.finalState(t); st != tc.wantState {
				t.Fatalf("job %s, want %s", st, tc.wantState)
			}
			if n := rcv.count(); n != len(tc.wantKinds) {
				t.Fatalf("receiver saw %d requests, want %d", n, len(tc.wantKinds))
			}

			// Every attempt is the same delivery, freshly signed, with the documented body.
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			req := rcv.requests[0]
			if req.Method != http.MethodPost || req.URL.Path != "/in" || req.Header.Get("Content-Type") != "application/json" ||
				req.Header.Get(HeaderDelivery) != strconv.FormatInt(a.ID, 10)+"-"+strconv.FormatInt(ch.ID, 10) {
				t.Fatalf("request %s %s %v", req.Method, req.URL, req.Header)
			}
			var got map[string]any
			if err := json.Unmarshal(rcv.bodies[0], &got); err != nil {
				t.Fatalf("body %s: %v", rcv.bodies[0], err)
			}
			alert := got["alert"].(map[string]any)
			if got["tenant"].(map[string]any)["slug"] != tn.Slug || got["event"] != AlertCreated || alert["id"] != float64(a.ID) || alert["rule"] != "disk_full" || alert["severity"] != "critical" ||
				alert["status"] != "firing" || alert["summary"] != "disk 97% full on /" || alert["endpoint"] != "web1" ||
				alert["labels"].(map[string]any)["mount"] != "/" || alert["first_seen_at"] == "" {
				t.Fatalf("payload %s", rcv.bodies[0])
			}
		})
	}
}

func TestSignature(t *testing.T) {
	// A fixed vector, computed independently:
	// printf '%s' '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test_0123456789abcdef'
	const want = "v1=07728d7e7b1736bac3de36a46c9bc0b660d59aa4a6f251544124fede1dc42a6c"
	if got := sign(secret, 1700000000, []byte(`{"a":1}`)); got != want {
		t.Fatalf("sign = %s, want %s", got, want)
	}
}

func TestWebhookRefusesPrivateAddresses(t *testing.T) {
	f := newFixture(t)
	h := newHarness(t, f, func(o *Options) { o.AllowPrivateNetworks = false })
	tn := f.tenant(t)
	ctx := context.Background()
	rcv := newReceiver(t, secret)
	if _, err := h.svc.Create(ctx, tn, ChannelInput{Name: "internal", Kind: KindWebhook, URL: rcv.URL, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	a := fire(t, f, tn, diskFull())
	if _, err := h.svc.Enqueue(ctx, tn, []alerts.Alert{a}, []policies.EffectiveItem{routingItem("", nil, "internal")}); err != nil {
		t.Fatal(err)
	}
	ev := notifyEvents(t, f, tn, a.ID, 1)[0]
	if ev.Kind != EventNotifyFailed || !strings.Contains(ev.Body, "loopback, private or link-local") || !strings.Contains(ev.Body, "not retried") {
		t.Fatalf("event %+v", ev)
	}
	if strings.Contains(ev.Body, rcv.URL) {
		t.Fatalf("the event shows the full URL: %s", ev.Body)
	}
	if rcv.count() != 0 {
		t.Fatal("the private address was reached")
	}
}
