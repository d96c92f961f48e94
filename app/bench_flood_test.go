package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestFloodCountsAnswers: the flood's raw requests are real HTTP that a Go
// server reads (method, path, key, body), its answers are counted by
// status, and a server that closes a connection is dialled again.
func TestFloodCountsAnswers(t *testing.T) {
	var served atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := served.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/alerts" || r.Header.Get("Authorization") != "Bearer sb_flood" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if n%7 == 0 { // now and then the server ends the connection
			w.Header().Set("Connection", "close")
		}
		switch {
		case n <= 10:
			w.WriteHeader(http.StatusAccepted)
		case n%5 == 0:
			w.WriteHeader(http.StatusInternalServerError)
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"error":"rate limit exceeded"}`, http.StatusTooManyRequests)
		}
	}))
	t.Cleanup(ts.Close)
	got := flood(context.Background(), floodOrder{URL: ts.URL + "/api/v1/alerts", Key: "sb_flood", Rate: 1e5, Total: 100, Conns: 4})
	// Of 100: 1..10 accepted; of 11..100, the 18 multiples of 5 fail, the rest are limited.
	want := floodResult{Sent: 100, Accepted: 10, Limited: 72, Other: 18}
	if got != want || served.Load() != 100 {
		t.Errorf("flood: %+v (server saw %d), want %+v", got, served.Load(), want)
	}
}

// TestFloodOrderIsChecked: the hidden command refuses a missing or
// incomplete order as a usage error.
func TestFloodOrderIsChecked(t *testing.T) {
	for _, stdin := range []string{"", "not json", `{"url":"http://127.0.0.1:1/api/v1/alerts","rate":10,"total":5,"conns":1}`} {
		c := newBenchFloodCommand()
		c.SetIn(strings.NewReader(stdin))
		c.SetOut(&bytes.Buffer{})
		c.SetErr(&bytes.Buffer{})
		if err := c.Execute(); err == nil || !isUserError(err) {
			t.Errorf("bench flood with %q on stdin: got %v, want a usage error", stdin, err)
		}
	}
}
