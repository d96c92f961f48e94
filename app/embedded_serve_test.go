package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeRestartsItsEmbeddedCluster: serve owns the embedded cluster it
// starts. When its postmaster is killed, /readyz says so (503 with the
// reason) while serve restarts it, on the same port, so the URL it printed
// stays valid; after SIGTERM serve stops the cluster it owns.
func TestServeRestartsItsEmbeddedCluster(t *testing.T) {
	bin := switchboardBinary(t)
	root, err := os.MkdirTemp("", "switchboard-embedded-")
	if err == nil {
		err = os.Chmod(root, 0o755) // PostgreSQL runs as its own OS user when we are root
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	dataDir := filepath.Join(root, "pg")
	t.Cleanup(func() { stopEmbedded(t, dataDir) })

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, "migrate", "--data-dir", dataDir).CombinedOutput(); err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	logPath := filepath.Join(root, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	serve := exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", addr)
	serve.Env, serve.Stdout, serve.Stderr = commandEnv(), logFile, logFile
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		<-done
	})
	logText := func() string { b, _ := os.ReadFile(logPath); return string(b) }

	client := &http.Client{Timeout: 2 * time.Second}
	readyz := func() (int, string) {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	waitReady := func(what string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if code, _ := readyz(); code == http.StatusOK {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /readyz never 200:\n%s", what, logText())
			}
		}
	}
	waitReady("start")
	portBefore, _ := os.ReadFile(filepath.Join(dataDir, "port"))

	pid, alive := postmasterAlive(dataDir)
	if !alive {
		t.Fatal("no postmaster running under serve")
	}
	killedAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	saw503 := ""
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		code, body := readyz()
		if code == http.StatusServiceUnavailable && saw503 == "" {
			saw503 = strings.TrimSpace(body)
		}
		if code == http.StatusOK && saw503 != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the kill /readyz never went 503 then 200 (503 seen: %q):\n%s", saw503, logText())
		}
	}
	t.Logf("/readyz said %q, then ready again %v after the kill", saw503, time.Since(killedAt).Round(10*time.Millisecond))
	if portAfter, _ := os.ReadFile(filepath.Join(dataDir, "port")); string(portAfter) != string(portBefore) || len(portBefore) == 0 {
		t.Errorf("port %q before the kill, %q after", portBefore, portAfter)
	}
	if !strings.Contains(logText(), "restart") {
		t.Errorf("the log does not mention the restart:\n%s", logText())
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		done <- err
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM:\n%s", err, logText())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still running 30 s after SIGTERM:\n%s", logText())
	}
	if pid, alive := postmasterAlive(dataDir); alive {
		t.Errorf("serve left the cluster it owns running (pid %d)", pid)
	}
}
