package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	"switchboard/platform/pgtest"
)

// A port taken by another program is a runtime error (exit status 1) that
// names the address and the setting, not bad input.
func TestServeOnABusyPort(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = taken.Close() })
	t.Setenv("SWITCHBOARD_SERVER_ADDR", taken.Addr().String())
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs([]string{"serve", "--database-url", pgtest.URL(), "--cell-url", "far=" + pgtest.SecondURL(), "--log-level", "warn"})
	err = root.ExecuteContext(context.Background())
	if code := exitStatus(err); code != 1 || err == nil ||
		!strings.Contains(err.Error(), taken.Addr().String()) || !strings.Contains(err.Error(), "server.addr") || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("serve on a busy port: exit %d, %v", exitStatus(err), err)
	}
}
