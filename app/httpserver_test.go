package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"switchboard/config"
)

// TestServerTimeoutConfig: the four timeouts have defaults, come from the
// environment like every key, and a bad one is a configuration error (exit
// status 2), never a server without limits.
func TestServerTimeoutConfig(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want [4]time.Duration // read, header, write, idle; zero: want an error
	}{
		{"defaults", nil, [4]time.Duration{30 * time.Second, 10 * time.Second, 60 * time.Second, 120 * time.Second}},
		{"from the environment", map[string]string{"SWITCHBOARD_SERVER_READ_TIMEOUT": "45s", "SWITCHBOARD_SERVER_READ_HEADER_TIMEOUT": "5s",
			"SWITCHBOARD_SERVER_WRITE_TIMEOUT": "2m", "SWITCHBOARD_SERVER_IDLE_TIMEOUT": "1m30s"},
			[4]time.Duration{45 * time.Second, 5 * time.Second, 2 * time.Minute, 90 * time.Second}},
		{"not a duration", map[string]string{"SWITCHBOARD_SERVER_READ_TIMEOUT": "soon"}, [4]time.Duration{}},
		{"zero would mean no limit", map[string]string{"SWITCHBOARD_SERVER_IDLE_TIMEOUT": "0s"}, [4]time.Duration{}},
		{"a bare number is nanoseconds", map[string]string{"SWITCHBOARD_SERVER_WRITE_TIMEOUT": "60"}, [4]time.Duration{}},
		{"over an hour", map[string]string{"SWITCHBOARD_SERVER_WRITE_TIMEOUT": "2h"}, [4]time.Duration{}},
		{"headers longer than the request", map[string]string{"SWITCHBOARD_SERVER_READ_HEADER_TIMEOUT": "40s"}, [4]time.Duration{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := config.Load("", nil, nil)
			if c.want == [4]time.Duration{} {
				if !errors.Is(err, config.ErrInvalid) || !isUserError(err) {
					t.Fatalf("Load = %v; want a configuration error (exit status 2)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			srv := newHTTPServer(cfg, http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if got := [4]time.Duration{srv.ReadTimeout, srv.ReadHeaderTimeout, srv.WriteTimeout, srv.IdleTimeout}; got != c.want {
				t.Fatalf("server timeouts %v, want %v", got, c.want)
			}
		})
	}
}

// Small timeouts for the connection tests; the bound is how late after its
// timeout the server may cut a connection.
const (
	testReadTimeout   = 600 * time.Millisecond
	testHeaderTimeout = 300 * time.Millisecond
	testWriteTimeout  = 600 * time.Millisecond
	testIdleTimeout   = 300 * time.Millisecond
	cutSlack          = time.Second
)

// timeoutServer serves h with newHTTPServer and the small timeouts on a
// real listener, and returns its address.
func timeoutServer(t *testing.T, h http.Handler) string {
	t.Helper()
	cfg, err := config.Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.ReadTimeout, cfg.Server.ReadHeaderTimeout = testReadTimeout, testHeaderTimeout
	cfg.Server.WriteTimeout, cfg.Server.IdleTimeout = testWriteTimeout, testIdleTimeout
	srv := newHTTPServer(cfg, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// echoBody answers with the size of the body it read, or 408 when reading
// it failed (the read deadline passed).
var echoBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, "the request was too slow", http.StatusRequestTimeout)
		return
	}
	fmt.Fprintf(w, "read %d bytes", n)
})

// waitClosed reads conn until the server closes it and returns how long
// that took from start. A read that reaches the client's own deadline fails
// the test: the server held the connection.
func waitClosed(t *testing.T, conn net.Conn, start time.Time, deadline time.Duration) time.Duration {
	t.Helper()
	if err := conn.SetReadDeadline(start.Add(deadline)); err != nil {
		t.Fatal(err)
	}
	_, err := io.Copy(io.Discard, conn)
	elapsed := time.Since(start)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the server still held the connection after %v", elapsed.Round(time.Millisecond))
	case err != nil && !errors.Is(err, syscall.ECONNRESET):
		t.Fatalf("reading until the server closes: %v", err)
	}
	return elapsed // io.Copy's nil error is EOF: closed by the server
}

// TestServerTimeoutsCutSlowClients: a body trickled a byte at a time,
// headers trickled a line at a time, an idle keep-alive and a client that
// never reads its answer are each cut off soon after their timeout, while a
// normal request on the same server, and a second one on its kept-alive
// connection, are answered.
func TestServerTimeoutsCutSlowClients(t *testing.T) {
	big := strings.Repeat("x", 64<<20) // more than socket buffers hold
	wrote := make(chan time.Duration, 1)
	mux := http.NewServeMux()
	mux.Handle("/echo", echoBody)
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, err := io.WriteString(w, big)
		if err == nil {
			wrote <- -1
			return
		}
		wrote <- time.Since(start)
	})
	addr := timeoutServer(t, mux)

	t.Run("normal requests on a kept-alive connection", func(t *testing.T) {
		client := &http.Client{Timeout: 5 * time.Second}
		for i := range 2 {
			resp, err := client.Post("http://"+addr+"/echo", "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || string(body) != "read 5 bytes" {
				t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
			}
		}
	})

	t.Run("trickled body", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n")
		go func() { // one byte every 100 ms: the body would take 10 s
			for range 100 {
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		elapsed := waitClosed(t, conn, start, testReadTimeout+cutSlack)
		if elapsed < testReadTimeout-50*time.Millisecond {
			t.Fatalf("cut after %v, before the read timeout %v", elapsed, testReadTimeout)
		}
		t.Logf("trickled body cut off after %v (read timeout %v)", elapsed.Round(time.Millisecond), testReadTimeout)
	})

	t.Run("trickled headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		fmt.Fprintf(conn, "GET /echo HTTP/1.1\r\nHost: x\r\n")
		go func() { // a header line every 100 ms, never the blank line
			for i := range 100 {
				if _, err := fmt.Fprintf(conn, "X-Slow-%d: 1\r\n", i); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		elapsed := waitClosed(t, conn, start, testHeaderTimeout+cutSlack)
		t.Logf("trickled headers cut off after %v (header timeout %v)", elapsed.Round(time.Millisecond), testHeaderTimeout)
	})

	t.Run("idle keep-alive", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
		if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Close {
			t.Fatalf("first answer %d, close %v: want 200 on a kept-alive connection", resp.StatusCode, resp.Close)
		}
		start := time.Now() // the connection is idle from here
		elapsed := waitClosed(t, conn, start, testIdleTimeout+cutSlack)
		if elapsed < testIdleTimeout-50*time.Millisecond {
			t.Fatalf("closed after %v, before the idle timeout %v", elapsed, testIdleTimeout)
		}
		t.Logf("idle keep-alive closed after %v (idle timeout %v)", elapsed.Round(time.Millisecond), testIdleTimeout)
	})

	t.Run("answer never read", func(t *testing.T) {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n") // and never read
		select {
		case d := <-wrote:
			if d < 0 {
				t.Fatal("64 MB were written to a client that reads nothing")
			}
			t.Logf("write to a client that does not read failed after %v (write timeout %v)", d.Round(time.Millisecond), testWriteTimeout)
		case <-time.After(testWriteTimeout + cutSlack):
			t.Fatalf("the handler still writes to a client that reads nothing after %v", testWriteTimeout+cutSlack)
		}
	})
}
