package tenants

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/platform/pgtest"
)

// onServer runs statements as the superuser of the package's first or
// second server: how an attacker with a foothold, or a careless DBA,
// would loosen a tenant's isolation.
func onServer(t *testing.T, far bool, sql string) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.AdminURL()
	if far {
		url = pgtest.SecondAdminURL()
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// dropAfter deletes the tenant when the test ends: other tests of the
// package walk every tenant (and expect each on the control server, or
// untouched), so a tenant made here, broken or on the second server, must
// not outlive its test.
func dropAfter(t *testing.T, s *Service, tn Tenant) {
	t.Helper()
	t.Cleanup(func() {
		if err := s.Delete(context.Background(), tn.Slug, tn.Slug); err != nil {
			t.Error(err)
		}
	})
}

// failing returns the failed lines of an attestation.
func failing(a Attestation) []AttestCheck {
	var out []AttestCheck
	for _, c := range a.Checks {
		if c.Status == AttestFail {
			out = append(out, c)
		}
	}
	return out
}

// A clean tenant attests all-pass, on the control plane's server and on a
// second one, and the attestation is read from the tenant's own server.
func TestAttestCleanTenantPasses(t *testing.T) {
	s, c := openTwoServers(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, cell string
	}{{"shared cell on the control server", ""}, {"far cell on the second server", farCell}, {"dedicated cell", "dedicated"}} {
		t.Run(tc.name, func(t *testing.T) {
			in := CreateInput{Slug: uniqueSlug("attest-clean"), Name: "Attest Clean", Cell: tc.cell}
			if tc.cell == "dedicated" {
				in.Cell, in.Dedicated = "", true
			}
			tn, err := s.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			dropAfter(t, s, tn)
			a, err := s.Attest(ctx, tn.Slug)
			if err != nil {
				t.Fatal(err)
			}
			if !a.Passed || a.Failed != 0 {
				t.Fatalf("clean tenant failed: %+v", failing(a))
			}
			cell, err := c.Cell(ctx, tn.Cell)
			if err != nil {
				t.Fatal(err)
			}
			if a.Server != cell.Host().Location() || (tc.cell == farCell) == (a.Server == c.Control().Location()) {
				t.Fatalf("inspected %s; the tenant's cell %s is on %s (control plane %s)", a.Server, tn.Cell, cell.Host().Location(), c.Control().Location())
			}
			seen := map[string]string{}
			for _, ch := range a.Checks {
				if ch.Status == AttestPass {
					seen[ch.Check] = ch.Subject
				}
			}
			for check, subject := range map[string]string{CheckSchemaOwner: tn.RoleName, CheckTenantRole: tn.RoleName, CheckPrivileges: tn.RoleName,
				CheckCanBecome: cell.Role, CheckAuditTrigger: "audit_log_append_only", CheckDefaultPrivileges: tn.SchemaName} {
				if seen[check] != subject {
					t.Errorf("no passing %s line about %s; passing lines: %v", check, subject, seen)
				}
			}
			if _, ok := seen[CheckLoginRole]; !ok {
				t.Errorf("no login role was checked: %+v", a.Checks)
			}
			if len(a.Export.SHA256) != 64 || a.Export.Bytes == 0 {
				t.Errorf("export checksum %q of %d bytes", a.Export.SHA256, a.Export.Bytes)
			}
			if len(a.RecentAudit) == 0 || a.RecentAudit[0].Action != "tenant.created" {
				t.Errorf("recent audit entries: %+v", a.RecentAudit)
			}
			var text bytes.Buffer
			if err := a.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?m)^PASS +schema_owner +`+tn.RoleName+` `).MatchString(text.String()) || !strings.Contains(text.String(), "PASS: every check passed") {
				t.Errorf("text output:\n%s", text.String())
			}
		})
	}
	if _, err := s.Attest(ctx, "no-such-client"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown slug: %v, want ErrNotFound", err)
	}
}

// Each way of loosening a tenant's isolation makes the attestation fail
// and name what loosened it, on whichever server the tenant lives.
func TestAttestNamesWhatBreaksIsolation(t *testing.T) {
	s, _ := openTwoServers(t)
	ctx := context.Background()
	// In the statements, TENANT is the tenant's schema (and role), CELL its
	// cell's login role, OTHER a role made for the case (dropped after it),
	// NEIGHBOUR another tenant's role.
	cases := []struct {
		name      string
		far       bool // the tenant lives on the second server
		dedicated bool // the tenant gets a cell of its own (the case alters its login role)
		setup     string
		undo      string // run after the case, for what outlives the tenant
		check     string // the check that must fail
		subject   string // and what it must name: "OTHER", "NEIGHBOUR", "CELL" or a literal
		alsoFails string // a check that rightly fails as a consequence
	}{
		{name: "SELECT on a table to another role",
			setup: `CREATE ROLE OTHER NOLOGIN; GRANT SELECT ON TENANT.alerts TO OTHER`, check: CheckPrivileges, subject: "OTHER"},
		{name: "SELECT on a table to another role, second server", far: true,
			setup: `CREATE ROLE OTHER NOLOGIN; GRANT SELECT ON TENANT.alerts TO OTHER`, check: CheckPrivileges, subject: "OTHER"},
		{name: "USAGE on the schema to another tenant",
			setup: `GRANT USAGE ON SCHEMA TENANT TO NEIGHBOUR`, check: CheckPrivileges, subject: "NEIGHBOUR"},
		{name: "UPDATE on a table to PUBLIC",
			setup: `GRANT UPDATE ON TENANT.settings TO PUBLIC`, check: CheckPrivileges, subject: "PUBLIC"},
		{name: "a sequence owned by another role",
			setup: `CREATE ROLE OTHER NOLOGIN; CREATE SEQUENCE TENANT.smuggled; ALTER SEQUENCE TENANT.smuggled OWNER TO OTHER`,
			check: CheckPrivileges, subject: "OTHER",
			alsoFails: CheckExport}, // the tenant role cannot read the sequence, so neither can pg_dump
		{name: "another login role made a member",
			setup: `CREATE ROLE OTHER LOGIN NOINHERIT; GRANT TENANT TO OTHER`, check: CheckCanBecome, subject: "OTHER"},
		{name: "the audit log's trigger disabled",
			setup: `ALTER TABLE TENANT.audit_log DISABLE TRIGGER audit_log_append_only`, check: CheckAuditTrigger, subject: "audit_log_append_only"},
		{name: "the audit log's trigger function replaced",
			setup: `CREATE OR REPLACE FUNCTION TENANT.refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$`,
			check: CheckAuditTrigger, subject: "audit_log_append_only"},
		{name: "default privileges for new tables",
			setup: `CREATE ROLE OTHER NOLOGIN; ALTER DEFAULT PRIVILEGES FOR ROLE TENANT IN SCHEMA TENANT GRANT SELECT ON TABLES TO OTHER`,
			check: CheckDefaultPrivileges, subject: "OTHER"},
		{name: "a cell login role made INHERIT", dedicated: true,
			setup: `ALTER ROLE CELL INHERIT`, undo: `ALTER ROLE CELL NOINHERIT`, check: CheckLoginRole, subject: "CELL"},
	}
	neighbour, err := s.Create(ctx, CreateInput{Slug: uniqueSlug("attest-neighbour"), Name: "Neighbour"})
	if err != nil {
		t.Fatal(err)
	}
	dropAfter(t, s, neighbour)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := CreateInput{Slug: uniqueSlug("attest-broken"), Name: "Attest Broken", Dedicated: tc.dedicated}
			if tc.far {
				in.Cell = farCell
			}
			tn, err := s.Create(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			dropAfter(t, s, tn) // last: cleanups run in reverse
			cell, err := s.GetCell(ctx, tn.Cell)
			if err != nil {
				t.Fatal(err)
			}
			other := strings.ReplaceAll(uniqueSlug("attest_other"), "-", "_")
			names := strings.NewReplacer("TENANT", tn.SchemaName, "CELL", cell.LoginRole, "OTHER", other, "NEIGHBOUR", neighbour.RoleName)
			if strings.Contains(tc.setup, "OTHER") {
				t.Cleanup(func() { onServer(t, tc.far, `DROP OWNED BY `+other+`; DROP ROLE `+other) })
			}
			if tc.undo != "" {
				t.Cleanup(func() { onServer(t, tc.far, names.Replace(tc.undo)) })
			}
			onServer(t, tc.far, names.Replace(tc.setup))
			subject := names.Replace(tc.subject)

			a, err := s.Attest(ctx, tn.Slug)
			if err != nil {
				t.Fatal(err)
			}
			if a.Passed {
				t.Fatalf("attestation passed after %q", tc.setup)
			}
			var named bool
			for _, c := range failing(a) {
				switch {
				case c.Check == tc.check && c.Subject == subject:
					named = true
				case c.Check == tc.alsoFails:
				default:
					t.Errorf("an unrelated line failed too: %+v", c)
				}
			}
			if !named {
				t.Fatalf("no failing %s line names %s: %+v", tc.check, subject, a.Checks)
			}
			var text bytes.Buffer
			if err := a.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !regexp.MustCompile(`(?m)^FAIL +` + tc.check + ` +` + regexp.QuoteMeta(subject) + ` `).MatchString(text.String()) {
				t.Errorf("text output does not show the failure:\n%s", text.String())
			}
		})
	}
}
