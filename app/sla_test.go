package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"switchboard/platform/pgtest"
)

// runCLI runs one command in-process and returns its exit status and output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRootCommand()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append(args, "--database-url", pgtest.URL(), "--log-level", "warn"))
	err := root.ExecuteContext(context.Background())
	return exitStatus(err), out.String()
}

func TestSLACommands(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, out := runCLI(t, "tenant", "create", "--slug", "sla-cli", "--name", "SLA CLI"); code != 0 {
		t.Fatalf("create: %d %s", code, out)
	}
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sla", "show"}, 0, "24×7; msp calendar"},
		{[]string{"sla", "show", "sla-cli"}, 0, "(global)"},
		{[]string{"sla", "set", "--tenant", "sla-cli", "--target", "critical=30m/4h", "--target", "warning=2h/8h", "--target", "info=8h/40h",
			"--zone", "Europe/Berlin", "--hours", "Mon 09:00-17:00", "--clock", "client"}, 0, "Europe/Berlin Mon 09:00-17:00"},
		{[]string{"sla", "show", "sla-cli"}, 0, "(overridden)"},
		{[]string{"sla", "show"}, 0, "critical ack 15m0s"},         // the baseline is untouched
		{[]string{"sla", "set", "--target", "critical=1h"}, 2, ""}, // exitStatus prints the one-line reason to stderr
		{[]string{"sla", "set", "--target", "critical=1h/2h", "--target", "warning=1h/2h", "--target", "info=1h/2h", "--zone", "Nowhere/X", "--hours", "Mon 09:00-17:00"}, 2, ""},
		{[]string{"sla", "set", "--target", "critical=1h/2h", "--always-open"}, 2, ""}, // warning and info missing
		{[]string{"sla", "show", "no-such-client"}, 2, ""},
	}
	for _, tc := range cases {
		code, out := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, output %q; want %d containing %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}
