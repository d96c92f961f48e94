package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// The noisy-neighbour phase's flood runs in a process of its own, as a real
// flood comes from another machine: its garbage and goroutines are then not
// the server's to collect and schedule. It still shares the machine's two
// cores with the server and the database.

// floodOrder is what the bench asks of the flood process, on its stdin (so
// that the API key is not on a command line for every user to read).
type floodOrder struct {
	URL   string  `json:"url"`
	Key   string  `json:"key"`
	Rate  float64 `json:"rate"`  // requests a second
	Total int     `json:"total"` // requests in all
	Conns int     `json:"conns"` // connections at most, so requests in flight at most
}

// floodResult counts the flood's answers.
type floodResult struct {
	Sent     int64 `json:"sent"`
	Accepted int64 `json:"accepted"` // 202
	Limited  int64 `json:"limited"`  // 429
	Other    int64 `json:"other"`    // anything else, or no answer
}

func (f *floodResult) add(g floodResult) {
	f.Sent, f.Accepted, f.Limited, f.Other = f.Sent+g.Sent, f.Accepted+g.Accepted, f.Limited+g.Limited, f.Other+g.Other
}

// newBenchFloodCommand is `switchboard bench flood`, hidden: the bench
// starts it; it reads one floodOrder from stdin, writes "started", floods,
// and writes its floodResult as one JSON line.
func newBenchFloodCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "flood",
		Short:  "The noisy-neighbour flood, in its own process (started by bench)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o floodOrder
			if err := json.NewDecoder(cmd.InOrStdin()).Decode(&o); err != nil {
				return usagef("bench flood reads its order as JSON on stdin: %v", err)
			}
			if o.URL == "" || o.Key == "" || o.Rate <= 0 || o.Total < 0 || o.Conns < 1 {
				return usagef("bench flood: incomplete order %+v", floodOrder{URL: o.URL, Rate: o.Rate, Total: o.Total, Conns: o.Conns})
			}
			out := cmd.OutOrStdout()
			fmt.Fprintln(out, "started")
			return json.NewEncoder(out).Encode(flood(cmd.Context(), o))
		},
	}
}

// flood sends o.Total alerts with o.Key at o.Rate over o.Conns keep-alive
// connections (each request waits for a free one: a flood is limited by
// the connections it has) and counts the answers. It writes prepared
// requests straight to the sockets: a flood is a cheap sender, and on this
// machine every cycle the load generator spends is one the server under
// test does not get, so the generator should spend as few as it can.
func flood(ctx context.Context, o floodOrder) floodResult {
	u, err := url.Parse(o.URL)
	if err != nil {
		return floodResult{Sent: int64(o.Total), Other: int64(o.Total)}
	}
	const variants = 1000 // distinct alerts, as labels n=0..999
	requests := make([][]byte, variants)
	for i := range requests {
		body := fmt.Sprintf(`{"source":"flood","rule":"flood","severity":"critical","labels":{"n":"%d"}}`, i)
		requests[i] = fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
			u.RequestURI(), u.Host, o.Key, len(body), body)
	}
	conns := make(chan *floodConn, o.Conns)
	for range o.Conns {
		conns <- &floodConn{addr: u.Host}
	}
	var sent, accepted, limited, other atomic.Int64
	paced(ctx, o.Rate, o.Total, o.Conns, false, func(i int, _ time.Time) {
		sent.Add(1)
		c := <-conns
		defer func() { conns <- c }()
		switch status, err := c.roundTrip(requests[i%variants]); {
		case err == nil && status == http.StatusAccepted:
			accepted.Add(1)
		case err == nil && status == http.StatusTooManyRequests:
			limited.Add(1)
		default:
			other.Add(1)
		}
	})
	close(conns)
	for c := range conns {
		c.close()
	}
	return floodResult{Sent: sent.Load(), Accepted: accepted.Load(), Limited: limited.Load(), Other: other.Load()}
}

// floodConn is one keep-alive connection of the flood, dialled on first
// use and again after the server closes it.
type floodConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
}

// roundTrip writes one prepared request and reads its answer's status,
// discarding the rest of the answer.
func (c *floodConn) roundTrip(req []byte) (int, error) {
	if c.conn == nil {
		conn, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
		if err != nil {
			return 0, err
		}
		c.conn, c.r = conn, bufio.NewReader(conn)
	}
	_ = c.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.conn.Write(req); err != nil {
		c.close()
		return 0, err
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		c.close()
		return 0, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil || resp.Close {
		c.close()
	}
	return resp.StatusCode, nil
}

func (c *floodConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn, c.r = nil, nil
	}
}

// startFlood runs o in a `switchboard bench flood` process and returns once
// it is sending, with a wait for its result. Cancelling ctx ends the process.
func startFlood(ctx context.Context, o floodOrder) (wait func() (floodResult, error), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding this program to start the flood: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, "bench", "flood")
	order, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	cmd.Stdin = strings.NewReader(string(order))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the flood process: %w", err)
	}
	// The lowest CPU priority: on a real deployment the flood's sender is
	// another machine, so the cycles it spends here are not the server's
	// doing and should go to the server and the database first. What is
	// measured is then the server answering the flood, which still takes
	// its share of the same two cores.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, 19)
	lines := bufio.NewReader(stdout)
	failed := func(err error) error {
		_ = cmd.Wait()
		return fmt.Errorf("the flood process: %w (%s)", err, strings.TrimSpace(stderr.String()))
	}
	if line, err := lines.ReadString('\n'); err != nil || line != "started\n" {
		return nil, failed(errors.Join(err, fmt.Errorf("said %q instead of started", line)))
	}
	return func() (floodResult, error) {
		var r floodResult
		if err := json.NewDecoder(lines).Decode(&r); err != nil {
			return floodResult{}, failed(err)
		}
		_, _ = io.Copy(io.Discard, lines)
		if err := cmd.Wait(); err != nil {
			return floodResult{}, fmt.Errorf("the flood process: %w (%s)", err, strings.TrimSpace(stderr.String()))
		}
		return r, nil
	}, nil
}

// newSender returns a function that posts one alert body to url with an
// API key over at most conns connections and returns the status, and a
// function that closes the idle connections. Requests are not cancelled
// with ctx: one in flight is answered, not cut off (which the server would
// log as a failure).
func newSender(ctx context.Context, url string, conns int) (func(key string, body []byte) (int, error), func()) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	return func(key string, body []byte) (int, error) {
		req := apiPost(url, func(*rand.Rand) (string, []byte) { return key, body })(context.WithoutCancel(ctx), nil)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}, client.CloseIdleConnections
}
