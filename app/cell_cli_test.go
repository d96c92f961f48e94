package main

import (
	"strings"
	"testing"
)

// TestCellCommands: add, list, drain and open, and one clear line with exit
// status 2 for every bad input, leaving nothing half-made.
func TestCellCommands(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	if code, out := runCLI(t, "cell", "add", "cli-near", "--capacity", "1"); code != 0 || !strings.Contains(out, "cell cli-near added on control: capacity 1") {
		t.Fatalf("cell add: %d %s", code, out)
	}
	// Other tests of this package may have added far already (exit 2,
	// "exists"); the listing below shows it either way.
	if code, out := runCLI(t, "cell", "add", "far", "--capacity", "5"); code != 0 && code != 2 {
		t.Fatalf("cell add far: %d %s", code, out)
	}
	if code, out := runCLI(t, "tenant", "create", "--slug", "cli-celled", "--name", "Celled", "--cell", "cli-near"); code != 0 {
		t.Fatalf("create in cli-near: %d %s", code, out)
	}
	code, out := runCLI(t, "cell", "list")
	if code != 0 {
		t.Fatalf("cell list: %d %s", code, out)
	}
	for _, want := range []string{"CELL", "main", "cli-near", "far", "sb_cell_cli_near"} {
		if !strings.Contains(out, want) {
			t.Errorf("cell list lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "cli-near ") && !strings.Contains(strings.Join(strings.Fields(line), " "), "open 1 1") {
			t.Errorf("cli-near should list 1 tenant of capacity 1: %q", line)
		}
	}
	if code, out := runCLI(t, "cell", "drain", "cli-near"); code != 0 || !strings.Contains(out, "cell cli-near is draining") {
		t.Fatalf("drain: %d %s", code, out)
	}
	if code, out := runCLI(t, "cell", "open", "cli-near"); code != 0 || !strings.Contains(out, "is open") {
		t.Fatalf("open: %d %s", code, out)
	}
	if code, out := runCLI(t, "migrate", "--status"); code != 0 || !strings.Contains(out, "cli-near") {
		t.Fatalf("migrate --status by cell: %d %s", code, out)
	}

	bad := []struct {
		args []string
		want string
	}{
		{[]string{"cell", "add", "Bad Name"}, "cell name"},
		{[]string{"cell", "add", "cli-near"}, "exists"},
		{[]string{"cell", "add", "cli-zero", "--capacity", "0"}, "--capacity must be at least 1"},
		{[]string{"--cell-url", "cli-gone=postgres://switchboard:x@127.0.0.1:1/switchboard?connect_timeout=2", "cell", "add", "cli-gone"}, "unreachable"},
		{[]string{"--cell-url", "no-equals-sign", "cell", "list"}, "NAME=URL"},
		{[]string{"cell", "drain", "no-such-cell"}, `no cell named "no-such-cell"`},
		{[]string{"cell", "open"}, "accepts 1 arg"},
		{[]string{"tenant", "create", "--slug", "cli-full", "--name", "Full", "--cell", "cli-near"}, "is full (1 of 1 tenants)"},
		{[]string{"tenant", "create", "--slug", "cli-nocell", "--name", "No", "--cell", "no-such-cell"}, `no cell named "no-such-cell"`},
		{[]string{"tenant", "create", "--slug", "cli-both", "--name", "Both", "--cell", "main", "--dedicated"}, "not both"},
	}
	for _, tc := range bad {
		r := cli(t, tc.args...)
		if r.code != 2 || !strings.Contains(r.errMsg, tc.want) || strings.Contains(r.errMsg, "\n") || r.stdout != "" {
			t.Errorf("want exit 2 and one line with %q\n%s", tc.want, r)
		}
	}
	code, out = runCLI(t, "cell", "list")
	if code != 0 || strings.Contains(out, "cli-gone") || strings.Contains(out, "cli-zero") {
		t.Errorf("refused cells were recorded: %s", out)
	}
	if code, out := runCLI(t, "tenant", "list"); code != 0 || strings.Contains(out, "cli-full") || strings.Contains(out, "cli-nocell") {
		t.Errorf("refused tenants were recorded: %s", out)
	}
}
