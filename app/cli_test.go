package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"switchboard/db"
	"switchboard/platform/pgembed"
	"switchboard/platform/pgtest"
)

func TestMain(m *testing.M) {
	// The package's tests sign owners and admins in with a password only;
	// by default those roles must have a second factor (security.require_mfa)
	// and would only reach the enrolment page. The tests of multi-factor
	// sign-in (mfa_test.go, passkey_browser_test.go) require it explicitly.
	if err := os.Setenv("SWITCHBOARD_SECURITY_REQUIRE_MFA", "none"); err != nil {
		panic(err)
	}
	code := pgtest.Run(m)
	for _, dir := range binDirs { // binaries built for process tests
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// cliResult is what one in-process run of the binary produced.
type cliResult struct {
	args   []string
	code   int    // exit status, as main would exit
	stdout string // what the command wrote to its output
	stderr string // what it wrote to its error stream
	errMsg string // the error main would print ("" on success)
}

func (r cliResult) String() string {
	return fmt.Sprintf("switchboard %s\nexit %d\nstdout:\n%s\nstderr:\n%s\nerror: %s",
		strings.Join(r.args, " "), r.code, r.stdout, r.stderr, r.errMsg)
}

// cli runs the root command in-process against the package's test database,
// logging only warnings unless args choose a level.
func cli(t *testing.T, args ...string) cliResult {
	t.Helper()
	full := append(slices.Clone(args), "--database-url", pgtest.URL(), "--cell-url", "far="+pgtest.SecondURL())
	if !slices.Contains(args, "--log-level") {
		full = append(full, "--log-level", "warn")
	}
	return cliRaw(t, full...)
}

// cliRaw runs the root command with exactly args.
func cliRaw(t *testing.T, args ...string) cliResult {
	t.Helper()
	root := newRootCommand()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := root.ExecuteContext(ctx)
	r := cliResult{args: args, code: exitStatus(err), stdout: out.String(), stderr: errb.String()}
	if err != nil {
		r.errMsg = err.Error()
	}
	return r
}

// expect fails the test unless r exited with want and its combined output
// contains every fragment.
func expect(t *testing.T, r cliResult, want int, fragments ...string) {
	t.Helper()
	if r.code != want {
		t.Fatalf("exit status %d, want %d\n%s", r.code, want, r)
	}
	all := r.stdout + r.stderr + r.errMsg
	for _, f := range fragments {
		if !strings.Contains(all, f) {
			t.Errorf("output does not contain %q\n%s", f, r)
		}
	}
}

// adminConn connects as the superuser, to look at the catalog from outside.
func adminConn(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return conn
}

// footprint is what onboarding leaves in the database.
type footprint struct{ rows, domains, schemas, roles int }

func countFootprint(t *testing.T, conn *pgx.Conn) footprint {
	t.Helper()
	var f footprint
	err := conn.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM control.tenants),
		(SELECT count(*) FROM control.tenant_domains),
		(SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenant\_%'),
		(SELECT count(*) FROM pg_roles WHERE rolname LIKE 'tenant\_%')`).Scan(&f.rows, &f.domains, &f.schemas, &f.roles)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// jsonTenant is the JSON shape of a tenant, as scripts rely on it.
type jsonTenant struct {
	ID            int64  `json:"id"`
	Slug          string `json:"slug"`
	Name          string `json:"name"`
	Status        string `json:"status"`
	Schema        string `json:"schema"`
	Role          string `json:"role"`
	Cell          string `json:"cell"`
	SchemaVersion int    `json:"schema_version"`
	Domains       []struct {
		Hostname string `json:"hostname"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	} `json:"domains"`
}

func showJSON(t *testing.T, slug string) jsonTenant {
	t.Helper()
	r := cli(t, "tenant", "show", slug, "--output", "json")
	expect(t, r, 0)
	var jt jsonTenant
	if err := json.Unmarshal([]byte(r.stdout), &jt); err != nil {
		t.Fatalf("tenant show --output json is not a JSON object: %v\n%s", err, r)
	}
	return jt
}

// pgRestore finds pg_restore beside the server binaries, or on PATH.
func pgRestore(t *testing.T) string {
	t.Helper()
	if dir, err := pgembed.FindBinaries(); err == nil {
		if p := filepath.Join(dir, "pg_restore"); fileExists(p) {
			return p
		}
	}
	p, err := exec.LookPath("pg_restore")
	if err != nil {
		t.Fatal("pg_restore not found beside the PostgreSQL binaries or on PATH")
	}
	return p
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// TestCLI drives the operator CLI end to end. The steps share one database
// and run in order: each builds on the tenants the previous ones created.
func TestCLI(t *testing.T) {
	conn := adminConn(t)
	sfx := strconv.Itoa(os.Getpid() % 100000)
	slug := "acme-" + sfx
	name := "Acme Health"
	domain := "portal.acme-" + sfx + ".example"
	slug2 := "cafe-" + sfx
	name2 := "Café Zürich & Söhne" // multi-byte: columns are counted in characters
	target := db.Tenant().Latest()

	t.Run("commands refuse to run before migrate", func(t *testing.T) {
		var migrated bool
		if err := conn.QueryRow(context.Background(), `SELECT to_regclass('control.schema_migrations') IS NOT NULL`).Scan(&migrated); err != nil {
			t.Fatal(err)
		}
		if migrated {
			t.Skip("the control plane was already migrated by an earlier test")
		}
		r := cli(t, "tenant", "list")
		if r.code == 0 {
			t.Fatalf("tenant list succeeded on an unmigrated database\n%s", r)
		}
		expect(t, r, r.code, "switchboard migrate")
	})

	t.Run("migrate", func(t *testing.T) {
		r := cli(t, "migrate")
		expect(t, r, 0, fmt.Sprintf("at version %d", db.Control().Latest()), fmt.Sprintf("target version %d", target))
		// A second run has nothing to do.
		r = cli(t, "migrate")
		expect(t, r, 0, "control plane: 0 migration(s) applied", "0 migrated", "0 failed")
	})
	if t.Failed() {
		t.FailNow()
	}

	t.Run("create", func(t *testing.T) {
		before := countFootprint(t, conn)
		r := cli(t, "tenant", "create", "--slug", slug, "--name", name, "--domain", strings.ToUpper(domain))
		expect(t, r, 0)
		for _, re := range []string{
			`(?m)^slug:\s+` + regexp.QuoteMeta(slug) + `$`,
			`(?m)^name:\s+` + regexp.QuoteMeta(name) + `$`,
			`(?m)^status:\s+active$`,
			`(?m)^schema:\s+tenant_[1-9][0-9]*$`,
			`(?m)^role:\s+tenant_[1-9][0-9]*$`,
			`(?m)^schema version:\s+` + strconv.Itoa(target) + `$`,
			`(?m)^domains:\s+` + regexp.QuoteMeta(domain) + ` \(unverified\)$`,                             // normalised to lower case, unverified until DNS proves it
			`(?m)^  _switchboard-challenge\.` + regexp.QuoteMeta(domain) + `\. 300 IN TXT "[0-9a-f]{32}"$`, // the record to create
		} {
			if !regexp.MustCompile(re).MatchString(r.stdout) {
				t.Errorf("create output does not match %s\n%s", re, r)
			}
		}
		after := countFootprint(t, conn)
		if want := (footprint{before.rows + 1, before.domains + 1, before.schemas + 1, before.roles + 1}); after != want {
			t.Errorf("footprint after create = %+v, want %+v", after, want)
		}

		r = cli(t, "tenant", "create", "--slug", slug2, "--name", name2, "--output", "json")
		expect(t, r, 0)
		var jt jsonTenant
		if err := json.Unmarshal([]byte(r.stdout), &jt); err != nil {
			t.Fatalf("create --output json: %v\n%s", err, r)
		}
		if jt.Slug != slug2 || jt.Name != name2 || jt.Schema != fmt.Sprintf("tenant_%d", jt.ID) || len(jt.Domains) != 0 {
			t.Errorf("create --output json = %+v", jt)
		}
	})
	if t.Failed() {
		t.FailNow()
	}
	first := showJSON(t, slug)

	t.Run("show", func(t *testing.T) {
		want := jsonTenant{ID: first.ID, Slug: slug, Name: name, Status: "active", Schema: fmt.Sprintf("tenant_%d", first.ID),
			Role: fmt.Sprintf("tenant_%d", first.ID), Cell: "main", SchemaVersion: target}
		got := first
		got.Domains = nil
		if !reflect.DeepEqual(got, want) {
			t.Errorf("show --output json = %+v, want %+v", got, want)
		}
		if len(first.Domains) != 1 || first.Domains[0].Hostname != domain || !first.Domains[0].Primary || first.Domains[0].Verified {
			t.Errorf("domains = %+v, want one unverified primary %q", first.Domains, domain)
		}
		// The schema really exists, owned by the role of the same name.
		var owner string
		if err := conn.QueryRow(context.Background(), `SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = $1`, want.Schema).Scan(&owner); err != nil {
			t.Fatalf("schema %s: %v", want.Schema, err)
		}
		if owner != want.Role {
			t.Errorf("schema %s is owned by %q, want %q", want.Schema, owner, want.Role)
		}

		r := cli(t, "tenant", "show", slug)
		expect(t, r, 0, "id:", strconv.FormatInt(first.ID, 10), want.Schema)
	})

	t.Run("list", func(t *testing.T) {
		r := cli(t, "tenant", "list")
		expect(t, r, 0)
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		header := []rune(lines[0])
		columns := []string{"SLUG", "NAME", "STATUS", "SCHEMA", "VERSION", "DOMAINS"}
		starts := make([]int, len(columns))
		for i, col := range columns {
			starts[i] = strings.Index(string(header), col) // ASCII header: byte index = rune index
			if starts[i] < 0 || (i > 0 && starts[i] <= starts[i-1]) {
				t.Fatalf("header %q lacks column %s in order", lines[0], col)
			}
		}
		second := showJSON(t, slug2)
		for _, tn := range []jsonTenant{first, second} {
			domains := "-"
			if len(tn.Domains) > 0 {
				domains = tn.Domains[0].Hostname
			}
			cells := []string{tn.Slug, tn.Name, tn.Status, tn.Schema, strconv.Itoa(tn.SchemaVersion), domains}
			var row []rune
			for _, l := range lines[1:] {
				if strings.HasPrefix(l, tn.Slug+" ") {
					row = []rune(l)
				}
			}
			if row == nil {
				t.Fatalf("tenant list has no row for %s\n%s", tn.Slug, r)
			}
			// Every cell starts exactly under its header (counted in characters).
			for i, cell := range cells {
				if starts[i] > len(row) || !strings.HasPrefix(string(row[starts[i]:]), cell) {
					t.Errorf("row %q: column %s does not start with %q at character %d", string(row), columns[i], cell, starts[i])
				}
			}
		}

		r = cli(t, "tenant", "list", "-o", "json")
		expect(t, r, 0)
		var list []jsonTenant
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
			t.Fatalf("tenant list --output json is not a JSON array: %v\n%s", err, r)
		}
		var raw []map[string]any
		_ = json.Unmarshal([]byte(r.stdout), &raw)
		found := 0
		for i, tn := range list {
			if tn.Slug != slug {
				continue
			}
			found++
			for _, key := range []string{"id", "slug", "name", "status", "schema", "role", "schema_version", "domains", "created_at"} {
				if _, ok := raw[i][key]; !ok {
					t.Errorf("JSON tenant lacks %q: %v", key, raw[i])
				}
			}
			if tn.ID != first.ID || tn.Name != name || tn.Status != "active" || tn.Schema != first.Schema || tn.SchemaVersion != target ||
				len(tn.Domains) != 1 || tn.Domains[0].Hostname != domain {
				t.Errorf("JSON tenant = %+v, want %+v", tn, first)
			}
		}
		if found != 1 {
			t.Errorf("tenant list --output json has %d entries for %s, want 1", found, slug)
		}
	})

	t.Run("bad input is refused and writes nothing", func(t *testing.T) {
		fresh := "fresh-" + sfx
		cases := []struct {
			name string
			args []string
			want string // fragment of the error
		}{
			{"one upper-case letter", []string{"--slug", "X", "--name", "N"}, "slug"},
			{"leading hyphen", []string{"--slug=-abc", "--name", "N"}, "slug"},
			{"trailing hyphen", []string{"--slug", "abc-", "--name", "N"}, "slug"},
			{"two characters", []string{"--slug", "ab", "--name", "N"}, "slug"},
			{"41 characters", []string{"--slug", "a" + strings.Repeat("b", 40), "--name", "N"}, "slug"},
			{"double hyphen", []string{"--slug", "a--b", "--name", "N"}, "--"},
			{"leading digit", []string{"--slug", "1abc", "--name", "N"}, "slug"},
			{"underscore", []string{"--slug", "ab_c", "--name", "N"}, "slug"},
			{"upper case", []string{"--slug", "Acme", "--name", "N"}, "slug"},
			{"empty name", []string{"--slug", fresh, "--name", ""}, "--name"},
			{"control character in name", []string{"--slug", fresh, "--name", "Acme\x07Health"}, "control"},
			{"newline in name", []string{"--slug", fresh, "--name", "Acme\nHealth"}, "control"},
			{"name with leading space", []string{"--slug", fresh, "--name", " Acme"}, "name"},
			{"201-character name", []string{"--slug", fresh, "--name", strings.Repeat("n", 201)}, "200"},
			{"invalid UTF-8 name", []string{"--slug", fresh, "--name", "Acme \xff"}, "UTF-8"},
			{"underscore host", []string{"--slug", fresh, "--name", "N", "--domain", "bad_host"}, "hostname"},
			{"IP address", []string{"--slug", fresh, "--name", "N", "--domain", "1.2.3.4"}, "IP address"},
			{"IPv6 address", []string{"--slug", fresh, "--name", "N", "--domain", "::1"}, "hostname"},
			{"wildcard", []string{"--slug", fresh, "--name", "N", "--domain", "*.example.com"}, "hostname"},
			{"single label", []string{"--slug", fresh, "--name", "N", "--domain", "localhost"}, "two labels"},
			{"host with port", []string{"--slug", fresh, "--name", "N", "--domain", "portal.example.com:8080"}, "hostname"},
			{"host with path", []string{"--slug", fresh, "--name", "N", "--domain", "portal.example.com/x"}, "hostname"},
			{"duplicate slug", []string{"--slug", slug, "--name", "Another"}, "taken"},
			{"duplicate domain", []string{"--slug", fresh, "--name", "Another", "--domain", domain}, "another tenant"},
			{"duplicate domain in other case", []string{"--slug", fresh, "--name", "Another", "--domain", strings.ToUpper(domain) + "."}, "another tenant"},
			{"missing slug", []string{"--name", "N"}, "--slug"},
			{"missing name", []string{"--slug", fresh}, "--name"},
			{"positional argument", []string{fresh, "--name", "N"}, "unknown command"},
			{"bad output format", []string{"--slug", fresh, "--name", "N", "--output", "xml"}, "--output"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := countFootprint(t, conn)
				r := cli(t, append([]string{"tenant", "create"}, tc.args...)...)
				expect(t, r, 2, tc.want)
				if r.stdout != "" {
					t.Errorf("a refused create printed to stdout: %q", r.stdout)
				}
				if after := countFootprint(t, conn); after != before {
					t.Errorf("footprint changed from %+v to %+v", before, after)
				}
			})
		}
		expect(t, cli(t, "tenant", "show", fresh), 2, "no such tenant")
		// The tenant that a refused duplicate collided with is untouched.
		if got := showJSON(t, slug); got.Name != name || len(got.Domains) != 1 {
			t.Errorf("after refused duplicates, %s = %+v", slug, got)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		cases := []struct {
			name string
			args []string
			want string
		}{
			{"unknown top-level command", []string{"frobnicate"}, "unknown command"},
			{"unknown tenant subcommand", []string{"tenant", "frobnicate"}, "unknown command"},
			{"unknown apikey subcommand", []string{"tenant", "apikey", "frobnicate"}, "unknown command"},
			{"unknown flag", []string{"tenant", "list", "--frobnicate"}, "unknown flag"},
			{"unknown shorthand flag", []string{"tenant", "list", "-z"}, "unknown shorthand flag"},
			{"flag value of the wrong type", []string{"migrate", "--workers", "many"}, "invalid argument"},
			{"show without slug", []string{"tenant", "show"}, "accepts 1 arg"},
			{"show with two slugs", []string{"tenant", "show", slug, slug2}, "accepts 1 arg"},
			{"suspend without slug", []string{"tenant", "suspend"}, "accepts 1 arg"},
			{"delete without slug", []string{"tenant", "delete"}, "accepts 1 arg"},
			{"export without --out", []string{"tenant", "export", slug}, "--out"},
			{"apikey create without --name", []string{"tenant", "apikey", "create", slug}, "--name"},
			{"apikey revoke without prefix", []string{"tenant", "apikey", "revoke", slug}, "accepts 2 arg"},
			{"list with an argument", []string{"tenant", "list", "extra"}, "unknown command"},
			{"list --output xml", []string{"tenant", "list", "--output", "xml"}, "--output must be table or json"},
			{"show --output xml", []string{"tenant", "show", slug, "--output", "xml"}, "--output must be table or json"},
			{"migrate --output xml", []string{"migrate", "--output", "xml"}, "--output must be table or json"},
			{"migrate --workers -1", []string{"migrate", "--workers", "-1"}, "--workers"},
			{"migrate --workers 65", []string{"migrate", "--workers", "65"}, "--workers"},
			{"migrate --lock-timeout 0", []string{"migrate", "--lock-timeout", "0s"}, "--lock-timeout"},
			{"show unknown tenant", []string{"tenant", "show", "nope-" + sfx}, "no such tenant"},
			{"suspend unknown tenant", []string{"tenant", "suspend", "nope-" + sfx}, "no such tenant"},
			{"export unknown tenant", []string{"tenant", "export", "nope-" + sfx, "--out", filepath.Join(t.TempDir(), "x.dump")}, "no such tenant"},
			{"apikey list of unknown tenant", []string{"tenant", "apikey", "list", "nope-" + sfx}, "no such tenant"},
			{"apikey with a blank name", []string{"tenant", "apikey", "create", slug, "--name", "   "}, "name"},
			{"bad log level", []string{"tenant", "list", "--log-level", "loud"}, "log.level"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := cli(t, tc.args...)
				expect(t, r, 2, tc.want)
			})
		}
	})

	t.Run("delete needs confirmation", func(t *testing.T) {
		for _, args := range [][]string{
			{"tenant", "delete", slug2},
			{"tenant", "delete", slug2, "--confirm", slug},
			{"tenant", "delete", slug2, "--confirm", ""},
			{"tenant", "delete", slug2, "--confirm", strings.ToUpper(slug2)},
		} {
			r := cli(t, args...)
			expect(t, r, 2, "--confirm")
			if got := showJSON(t, slug2); got.Status != "active" {
				t.Errorf("after %v the tenant is %q", args, got.Status)
			}
		}
	})

	t.Run("suspend and resume are idempotent", func(t *testing.T) {
		for _, step := range []struct{ verb, status string }{
			{"suspend", "suspended"}, {"suspend", "suspended"}, {"resume", "active"}, {"resume", "active"},
		} {
			r := cli(t, "tenant", step.verb, slug)
			expect(t, r, 0, slug, step.status)
			if got := showJSON(t, slug).Status; got != step.status {
				t.Fatalf("after %s: status %q, want %q", step.verb, got, step.status)
			}
		}
		r := cli(t, "tenant", "suspend", slug, "-o", "json")
		expect(t, r, 0)
		var list []jsonTenant
		if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0].Status != "suspended" {
			t.Errorf("suspend -o json = %v %+v\n%s", err, list, r)
		}
		expect(t, cli(t, "tenant", "resume", slug), 0, "active")
	})

	t.Run("api keys", func(t *testing.T) {
		r := cli(t, "tenant", "apikey", "create", slug, "--name", "ci")
		expect(t, r, 0, `"ci"`)
		m := regexp.MustCompile(`(?m)^(sbk_[a-z2-7]{32})$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("no key on a line of its own starting with sbk_\n%s", r)
		}
		key := m[1]
		prefix := key[:len("sbk_")+6]
		if !strings.Contains(r.stdout, "("+prefix+")") {
			t.Errorf("create does not name the key's prefix %q\n%s", prefix, r)
		}
		// A second key is different.
		r2 := cli(t, "tenant", "apikey", "create", slug, "--name", "monitoring")
		expect(t, r2, 0)
		if strings.Contains(r2.stdout, key) {
			t.Fatal("two keys are the same")
		}

		r = cli(t, "tenant", "apikey", "list", slug)
		expect(t, r, 0, "PREFIX", prefix, "ci", "monitoring")
		if strings.Contains(r.stdout, key) {
			t.Error("apikey list shows the secret key")
		}
		r = cli(t, "tenant", "apikey", "list", slug, "-o", "json")
		expect(t, r, 0)
		if strings.Contains(r.stdout, key) || strings.Contains(r.stdout, "hash") {
			t.Errorf("apikey list -o json exposes the key or its hash\n%s", r)
		}
		var keys []struct {
			Name      string     `json:"name"`
			Prefix    string     `json:"prefix"`
			RevokedAt *time.Time `json:"revoked_at"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 2 || keys[0].Prefix != prefix || keys[0].Name != "ci" || keys[0].RevokedAt != nil {
			t.Fatalf("apikey list -o json = %v %+v\n%s", err, keys, r)
		}
		// Other tenants' keys are separate.
		r = cli(t, "tenant", "apikey", "list", slug2, "-o", "json")
		expect(t, r, 0)
		if strings.TrimSpace(r.stdout) != "[]" {
			t.Errorf("%s has keys it never got: %s", slug2, r.stdout)
		}
		expect(t, cli(t, "tenant", "apikey", "revoke", slug2, prefix), 2, "no live API key")

		expect(t, cli(t, "tenant", "apikey", "revoke", slug, prefix), 0, "revoked "+prefix)
		expect(t, cli(t, "tenant", "apikey", "revoke", slug, prefix), 2, "no live API key")
		expect(t, cli(t, "tenant", "apikey", "revoke", slug, "sbk_nope"), 2, "no live API key")

		r = cli(t, "tenant", "apikey", "list", slug, "-o", "json")
		expect(t, r, 0)
		if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil || len(keys) != 2 || keys[0].RevokedAt == nil || keys[1].RevokedAt != nil {
			t.Errorf("after revoking %s: %v %+v", prefix, err, keys)
		}
	})

	t.Run("export", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "acme.dump")
		r := cli(t, "tenant", "export", slug, "--out", out)
		expect(t, r, 0, "exported "+slug, first.Schema, out)
		if got := dirEntries(t, dir); !slices.Equal(got, []string{"acme.dump"}) {
			t.Errorf("export folder holds %v, want only acme.dump", got)
		}
		list, err := exec.Command(pgRestore(t), "--list", out).CombinedOutput()
		if err != nil {
			t.Fatalf("pg_restore --list: %v\n%s", err, list)
		}
		for _, table := range []string{"settings", "audit_log"} {
			for _, kind := range []string{"TABLE", "TABLE DATA"} {
				re := regexp.MustCompile(`(?m)\b` + kind + ` ` + first.Schema + ` ` + table + `\b`)
				if !re.Match(list) {
					t.Errorf("the archive lists no %s %s.%s\n%s", kind, first.Schema, table, list)
				}
			}
		}
		// Only this tenant's schema is in it.
		if other := showJSON(t, slug2).Schema; bytes.Contains(list, []byte(" "+other+" ")) {
			t.Errorf("the archive of %s contains %s\n%s", slug, other, list)
		}

		// Exporting again over the file replaces it.
		expect(t, cli(t, "tenant", "export", slug, "--out", out), 0)

		// Unwritable destinations fail as the user's mistake and leave nothing behind.
		notADir := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(notADir, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		missing := filepath.Join(t.TempDir(), "missing")
		bad := []struct{ name, out, check string }{
			{"folder does not exist", filepath.Join(missing, "x.dump"), filepath.Dir(missing)},
			{"parent is a file", filepath.Join(notADir, "x.dump"), filepath.Dir(notADir)},
		}
		if os.Geteuid() != 0 { // root writes through permissions
			ro := t.TempDir()
			if err := os.Chmod(ro, 0o555); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Chmod(ro, 0o755) })
			bad = append(bad, struct{ name, out, check string }{"read-only folder", filepath.Join(ro, "x.dump"), ro})
		}
		for _, b := range bad {
			t.Run(b.name, func(t *testing.T) {
				before := dirEntries(t, b.check)
				r := cli(t, "tenant", "export", slug, "--out", b.out)
				expect(t, r, 2, "cannot write")
				if _, err := os.Stat(b.out); err == nil {
					t.Errorf("%s exists after a failed export", b.out)
				}
				if after := dirEntries(t, b.check); !slices.Equal(before, after) {
					t.Errorf("%s changed from %v to %v", b.check, before, after)
				}
			})
		}
	})

	t.Run("migrate status", func(t *testing.T) {
		r := cli(t, "migrate", "--status")
		expect(t, r, 0, fmt.Sprintf("all tenants at version %d", target), fmt.Sprintf("control plane: version %d, target %d", db.Control().Latest(), db.Control().Latest()))
		r = cli(t, "migrate", "--status", "-o", "json")
		expect(t, r, 0)
		var st struct {
			ControlVersion int               `json:"control_version"`
			TenantTarget   int               `json:"tenant_target"`
			Behind         []json.RawMessage `json:"tenants_behind"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || st.ControlVersion != db.Control().Latest() || st.TenantTarget != target || st.Behind == nil || len(st.Behind) != 0 {
			t.Errorf("migrate --status -o json = %v %+v\n%s", err, st, r)
		}
		// With every tenant current, migrate skips them all.
		var n int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM control.tenants WHERE status <> 'deleting'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		expect(t, cli(t, "migrate", "--workers", "2"), 0, fmt.Sprintf("0 migrated, %d skipped, 0 failed", n))
	})

	t.Run("delete", func(t *testing.T) {
		doomed := showJSON(t, slug2)
		expect(t, cli(t, "tenant", "apikey", "create", slug2, "--name", "agent"), 0)
		before := countFootprint(t, conn)

		r := cli(t, "tenant", "delete", slug2, "--confirm", slug2)
		expect(t, r, 0, "deleted "+slug2)
		expect(t, cli(t, "tenant", "show", slug2), 2, "no such tenant")
		expect(t, cli(t, "tenant", "delete", slug2, "--confirm", slug2), 2, "no such tenant")

		var schemas, roles, rows, keys int
		err := conn.QueryRow(context.Background(), `SELECT
			(SELECT count(*) FROM pg_namespace WHERE nspname = $1),
			(SELECT count(*) FROM pg_roles WHERE rolname = $1),
			(SELECT count(*) FROM control.tenants WHERE id = $2),
			(SELECT count(*) FROM control.api_keys WHERE tenant_id = $2)`, doomed.Schema, doomed.ID).Scan(&schemas, &roles, &rows, &keys)
		if err != nil {
			t.Fatal(err)
		}
		if schemas != 0 || roles != 0 || rows != 0 || keys != 0 {
			t.Errorf("after delete: %d schema(s), %d role(s), %d tenant row(s), %d API key(s) of %s remain", schemas, roles, rows, keys, doomed.Schema)
		}
		after := countFootprint(t, conn)
		if want := (footprint{before.rows - 1, before.domains, before.schemas - 1, before.roles - 1}); after != want {
			t.Errorf("footprint after delete = %+v, want %+v", after, want)
		}
		// The other tenant is untouched.
		if got := showJSON(t, slug); got.ID != first.ID || got.Status != "active" {
			t.Errorf("after deleting %s, %s = %+v", slug2, slug, got)
		}
		// The slug can be used again, for a new tenant with a new schema.
		r = cli(t, "tenant", "create", "--slug", slug2, "--name", name2, "-o", "json")
		expect(t, r, 0)
		var again jsonTenant
		if err := json.Unmarshal([]byte(r.stdout), &again); err != nil || again.ID == doomed.ID || again.Schema == doomed.Schema {
			t.Errorf("re-created %s = %v %+v (deleted one was id %d)", slug2, err, again, doomed.ID)
		}
	})
}

// TestHelpOnEveryCommand walks the command tree: --help must succeed and
// show the command's usage line, and needs no database.
func TestHelpOnEveryCommand(t *testing.T) {
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		paths = append(paths, path)
		for _, sub := range c.Commands() {
			walk(sub, append(slices.Clone(path), sub.Name()))
		}
	}
	walk(newRootCommand(), nil)
	if len(paths) < 10 {
		t.Fatalf("found only %d commands: %v", len(paths), paths)
	}
	for _, path := range paths {
		t.Run(strings.Join(append([]string{"switchboard"}, path...), " "), func(t *testing.T) {
			// Find the command in a fresh tree, as cobra would after parsing.
			cmd, _, err := newRootCommand().Find(path)
			if err != nil {
				t.Fatal(err)
			}
			r := cliRaw(t, append(slices.Clone(path), "--help")...)
			expect(t, r, 0)
			want := cmd.CommandPath() + " [command]"
			if cmd.Runnable() {
				want = cmd.UseLine()
			}
			if !strings.Contains(r.stdout, want) {
				t.Errorf("help does not show the usage line %q\n%s", want, r)
			}
			if !strings.Contains(r.stdout, cmd.Short) && (cmd.Long == "" || !strings.Contains(r.stdout, strings.SplitN(cmd.Long, "\n", 2)[0])) {
				t.Errorf("help shows neither the short nor the long description\n%s", r)
			}
			if r.stderr != "" {
				t.Errorf("help wrote to stderr: %q", r.stderr)
			}
			if !utf8.ValidString(r.stdout) {
				t.Error("help is not valid UTF-8")
			}
		})
	}
}
