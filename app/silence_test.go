package main

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSilenceCommands: `switchboard silence create|list|expire|delete` on a
// client; bad input exits 2 with a message and writes nothing.
func TestSilenceCommands(t *testing.T) {
	if code, out := runCLI(t, "migrate"); code != 0 {
		t.Fatalf("migrate: %d %s", code, out)
	}
	slug := "sil-cli-" + strconv.Itoa(os.Getpid()%100000)
	if code, out := runCLI(t, "tenant", "create", "--slug", slug, "--name", "Silence CLI"); code != 0 {
		t.Fatalf("tenant create: %d %s", code, out)
	}
	var schema string
	conn := adminPG(t)
	ctx := context.Background()
	if err := conn.QueryRow(ctx, `SELECT 'tenant_' || id FROM control.tenants WHERE slug = $1`, slug).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		t.Helper()
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.silences`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"matcher without an operator", []string{"create", slug, "--matcher", "host", "--duration", "1h"}, "must look like name=value"},
		{"no matcher", []string{"create", slug, "--duration", "1h"}, "at least one matcher"},
		{"no duration", []string{"create", slug, "--matcher", "host=a"}, "--duration is required"},
		{"bad duration", []string{"create", slug, "--matcher", "host=a", "--duration", "forever"}, "duration must be like"},
		{"too long", []string{"create", slug, "--matcher", "host=a", "--duration", "91d"}, "to 90 days"},
		{"bad regular expression", []string{"create", slug, "--matcher", "host=~(", "--duration", "1h"}, "host"},
		{"unknown client", []string{"create", "no-such-client", "--matcher", "host=a", "--duration", "1h"}, "no-such-client"},
		{"bad id", []string{"expire", slug, "abc"}, "positive number"},
		{"missing silence (expire)", []string{"expire", slug, "999999"}, "No such silence"},
		{"missing silence (delete)", []string{"delete", slug, "999999"}, "No such silence"},
		{"missing argument", []string{"delete", slug}, "accepts 2 arg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, cli(t, append([]string{"silence"}, tc.args...)...), 2, tc.want)
		})
	}
	if n := count(); n != 0 {
		t.Fatalf("refused commands left %d silence(s)", n)
	}

	code, out := runCLI(t, "silence", "create", slug, "--matcher", "host=~web.*", "--matcher", "severity=warning", "--duration", "2h", "--comment", "planned reboot")
	m := regexp.MustCompile(`silence #(\d+) created: host=~web\.\*, severity=warning, until .* \(2 h\)`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("create: exit %d\n%s", code, out)
	}
	id := m[1]
	code, out = runCLI(t, "silence", "list", slug)
	if code != 0 || !regexp.MustCompile(`(?m)^`+id+`\s+active\s+host=~web\.\*, severity=warning\s+cli:\S+\s+just now\s+in 1 h .*\s0\s+planned reboot$`).MatchString(out) {
		t.Fatalf("list: exit %d\n%s", code, out)
	}
	code, out = runCLI(t, "silence", "list", slug, "--output", "json")
	var list []struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || strconv.FormatInt(list[0].ID, 10) != id || list[0].State != "active" {
		t.Fatalf("list json: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "silence", "expire", slug, id); code != 0 || !strings.Contains(out, "silence #"+id+" expired") {
		t.Fatalf("expire: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "silence", "expire", slug, "#"+id); code != 0 || !strings.Contains(out, "had already ended") {
		t.Fatalf("expire again: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "silence", "list", slug); code != 0 || !strings.Contains(out, "expired") {
		t.Fatalf("list after expire: exit %d\n%s", code, out)
	}
	if code, out := runCLI(t, "silence", "delete", slug, id); code != 0 || !strings.Contains(out, "silence #"+id+" deleted") {
		t.Fatalf("delete: exit %d\n%s", code, out)
	}
	expect(t, cli(t, "silence", "delete", slug, id), 2, "No such silence: #"+id)
	if n := count(); n != 0 {
		t.Fatalf("%d silence(s) after delete", n)
	}
	var audited int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+schema+`.audit_log WHERE action IN ('silence.created', 'silence.expired', 'silence.deleted') AND actor LIKE 'cli:%'`).
		Scan(&audited); err != nil || audited != 3 {
		t.Fatalf("audited %d (%v), want 3 by the CLI", audited, err)
	}
}
