package tenants

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gorm.io/gorm"

	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// Statuses of one attestation check. Only StatusFail makes an attestation
// fail; StatusInfo is a fact worth knowing that breaks no isolation rule.
const (
	AttestPass = "pass"
	AttestFail = "fail"
	AttestInfo = "info"
)

// Names of the attestation checks, stable for JSON readers.
const (
	CheckSchemaOwner       = "schema_owner"
	CheckTenantRole        = "tenant_role"
	CheckPrivileges        = "privileges"
	CheckCanBecome         = "can_become"
	CheckLoginRole         = "login_role"
	CheckAuditTrigger      = "audit_trigger"
	CheckDefaultPrivileges = "default_privileges"
	CheckAuditEntries      = "audit_entries"
	CheckExport            = "export"
)

// attestAuditEntries is how many of the newest audit entries an attestation lists.
const attestAuditEntries = 10

// Attestation is what the live database of a tenant's own server says
// about the tenant's isolation, at one moment. It is read from the
// catalogs, never from what Switchboard believes it configured.
type Attestation struct {
	Tenant        string             `json:"tenant"`
	Name          string             `json:"name"`
	Schema        string             `json:"schema"`
	Role          string             `json:"role"`
	Cell          string             `json:"cell"`
	CellLoginRole string             `json:"cell_login_role"`
	Server        string             `json:"server"` // host:port/database of the server inspected
	AttestedAt    time.Time          `json:"attested_at"`
	Passed        bool               `json:"passed"`
	Failed        int                `json:"failed"` // how many checks failed
	Checks        []AttestCheck      `json:"checks"`
	RecentAudit   []AttestAuditEntry `json:"recent_audit"`
	Export        AttestExport       `json:"export"`
}

// AttestCheck is one line of an attestation: what was checked, about whom,
// the outcome and why, in words an operator can act on.
type AttestCheck struct {
	Check   string `json:"check"`   // one of the Check* names
	Subject string `json:"subject"` // the role, object or value the line is about
	Status  string `json:"status"`  // AttestPass, AttestFail or AttestInfo
	Detail  string `json:"detail"`
}

// AttestAuditEntry is one entry of the tenant's own audit log.
type AttestAuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Summary string    `json:"summary"`
}

// AttestExport is the fresh export an attestation took: its checksum
// proves what the tenant's data was at that moment.
type AttestExport struct {
	SHA256 string `json:"sha256"`
	Bytes  int64  `json:"bytes"`
}

// Attest inspects the live catalogs of the tenant's cell server (which may
// not be the control plane's) and lists, each with pass, fail or info:
// the schema's owner, the tenant role's attributes, every role holding a
// privilege on the schema or its objects, the login roles that can become
// the tenant's role, the application's login roles on that server, the
// audit log's append-only trigger, default privileges touching the
// schema, the newest audit entries and the checksum of a fresh export.
// A failed check is a result, not an error: errors are for a tenant that
// does not exist, a server that does not answer or a catalog read that
// broke.
func (s *Service) Attest(ctx context.Context, slug string) (Attestation, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Attestation{}, err
	}
	cell, err := s.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return Attestation{}, fault.Newf(ErrCellUnreachable, "attesting %q: %v", slug, err)
	}
	name := tenancy.SchemaName(t.ID)
	a := Attestation{Tenant: t.Slug, Name: t.Name, Schema: name, Role: name, Cell: t.Cell, CellLoginRole: cell.Role,
		Server: cell.Host().Location(), AttestedAt: time.Now().UTC(), Checks: []AttestCheck{}, RecentAudit: []AttestAuditEntry{}}
	db := cell.Admin().WithContext(ctx)

	steps := []func(*gorm.DB, *Attestation) error{
		attestSchemaOwner, attestTenantRole, attestPrivileges, attestCanBecome,
		func(db *gorm.DB, a *Attestation) error { return s.attestLoginRoles(ctx, db, cell.Server, a) },
		attestAuditTrigger, attestDefaultPrivileges,
	}
	for _, step := range steps {
		if err := step(db, &a); err != nil {
			return Attestation{}, fmt.Errorf("attesting %q on %s: %w", slug, a.Server, err)
		}
	}
	s.attestAuditEntries(ctx, t, &a)
	s.attestExport(ctx, t, &a)
	for _, c := range a.Checks {
		if c.Status == AttestFail {
			a.Failed++
		}
	}
	a.Passed = a.Failed == 0
	return a, nil
}

func (a *Attestation) add(check, subject, status, format string, args ...any) {
	a.Checks = append(a.Checks, AttestCheck{Check: check, Subject: subject, Status: status, Detail: fmt.Sprintf(format, args...)})
}

// attestSchemaOwner: the schema must belong to the tenant role, or its
// owner (whoever that is) holds every right on it and can grant them.
func attestSchemaOwner(db *gorm.DB, a *Attestation) error {
	var owners []string
	if err := db.Raw(`SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = ?`, a.Schema).Scan(&owners).Error; err != nil {
		return fmt.Errorf("reading the schema's owner: %w", err)
	}
	switch {
	case len(owners) == 0:
		a.add(CheckSchemaOwner, a.Schema, AttestFail, "schema %s does not exist on this server", a.Schema)
	case owners[0] != a.Role:
		a.add(CheckSchemaOwner, owners[0], AttestFail, "schema %s is owned by %s, not by the tenant role %s: that role holds every right on it", a.Schema, owners[0], a.Role)
	default:
		a.add(CheckSchemaOwner, owners[0], AttestPass, "schema %s is owned by the tenant role", a.Schema)
	}
	return nil
}

// attestTenantRole: the tenant role must exist, be unable to log in, and
// carry no attribute or membership that reaches past its own schema.
func attestTenantRole(db *gorm.DB, a *Attestation) error {
	var rows []struct {
		Login, Super, Inherit, CreateRole, CreateDB, BypassRLS bool
		MemberOf                                               string
	}
	err := db.Raw(`SELECT r.rolcanlogin AS login, r.rolsuper AS super, r.rolinherit AS inherit, r.rolcreaterole AS create_role,
			r.rolcreatedb AS create_db, r.rolbypassrls AS bypass_rls,
			coalesce((SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
				WHERE m.member = r.oid), '') AS member_of
		FROM pg_roles r WHERE r.rolname = ?`, a.Role).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("reading the tenant role: %w", err)
	}
	if len(rows) == 0 {
		a.add(CheckTenantRole, a.Role, AttestFail, "role %s does not exist on this server", a.Role)
		return nil
	}
	r := rows[0]
	var wrong []string
	for _, attr := range []struct {
		bad  bool
		what string
	}{{r.Login, "can log in"}, {r.Super, "is a superuser"}, {r.Inherit, "inherits the privileges of roles it is a member of"},
		{r.CreateRole, "may create roles"}, {r.CreateDB, "may create databases"}, {r.BypassRLS, "bypasses row-level security"},
		{r.MemberOf != "", "is a member of " + r.MemberOf}} {
		if attr.bad {
			wrong = append(wrong, attr.what)
		}
	}
	if len(wrong) > 0 {
		a.add(CheckTenantRole, a.Role, AttestFail, "the tenant role %s", strings.Join(wrong, "; "))
		return nil
	}
	a.add(CheckTenantRole, a.Role, AttestPass, "NOLOGIN, NOINHERIT, not a superuser, no CREATEROLE, member of no role")
	return nil
}

// privilegeSQL lists every privilege on the schema and every table, view,
// sequence, column, function and procedure in it, with objects that never
// had a GRANT shown with PostgreSQL's built-in default (owner, and for
// functions EXECUTE to PUBLIC), so nothing held is missed. Types are left
// out: their built-in USAGE to PUBLIC gives nothing without USAGE on the
// schema, which the schema's own line shows.
const privilegeSQL = `
WITH s AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace WHERE nspname = @schema),
objs AS (
	SELECT 'schema' AS kind, s.nspname::text AS name, coalesce(s.nspacl, acldefault('n'::"char", s.nspowner)) AS acl FROM s
	UNION ALL
	SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
			WHEN 'f' THEN 'foreign table' ELSE 'table' END,
		c.relname::text, coalesce(c.relacl, acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))
	FROM pg_class c JOIN s ON c.relnamespace = s.oid WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
	UNION ALL
	SELECT 'column', c.relname || '.' || at.attname, at.attacl
	FROM pg_attribute at JOIN pg_class c ON c.oid = at.attrelid JOIN s ON c.relnamespace = s.oid
	WHERE at.attacl IS NOT NULL AND at.attnum > 0 AND NOT at.attisdropped
	UNION ALL
	SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END,
		p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', coalesce(p.proacl, acldefault('f'::"char", p.proowner))
	FROM pg_proc p JOIN s ON p.pronamespace = s.oid
)
SELECT o.kind, o.name, CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee, x.privilege_type AS privilege
FROM objs o, aclexplode(o.acl) x
ORDER BY 3, 1, 2, 4`

// attestPrivileges: only the tenant role may hold privileges in its
// schema. One line per role that holds any.
func attestPrivileges(db *gorm.DB, a *Attestation) error {
	var rows []struct{ Kind, Name, Grantee, Privilege string }
	if err := db.Raw(privilegeSQL, map[string]any{"schema": a.Schema}).Scan(&rows).Error; err != nil {
		return fmt.Errorf("reading privileges in the schema: %w", err)
	}
	type held struct {
		objects map[string]bool
		grants  []string
	}
	byRole := map[string]*held{}
	var roles []string
	publicExecute := 0
	for _, r := range rows {
		if r.Grantee == "PUBLIC" && r.Privilege == "EXECUTE" && (r.Kind == "function" || r.Kind == "procedure") {
			// PostgreSQL gives every new function EXECUTE to PUBLIC. Calling
			// one needs USAGE on its schema, which the schema's line shows
			// (and fails) for anyone but the tenant role; trigger functions
			// cannot be called at all. Reported, not failed.
			publicExecute++
			continue
		}
		h := byRole[r.Grantee]
		if h == nil {
			h = &held{objects: map[string]bool{}}
			byRole[r.Grantee] = h
			roles = append(roles, r.Grantee)
		}
		obj := r.Kind + " " + r.Name
		if r.Kind != "schema" {
			h.objects[obj] = true
		}
		h.grants = append(h.grants, r.Privilege+" on "+obj)
	}
	if len(rows) == 0 {
		a.add(CheckPrivileges, a.Schema, AttestFail, "no privileges found: schema %s does not exist on this server", a.Schema)
		return nil
	}
	if h := byRole[a.Role]; h == nil {
		a.add(CheckPrivileges, a.Role, AttestFail, "the tenant role holds no privilege in its own schema")
	} else {
		a.add(CheckPrivileges, a.Role, AttestPass, "the tenant role: %d privileges on the schema and its %d objects", len(h.grants), len(h.objects))
	}
	for _, role := range roles {
		h := byRole[role]
		if role == a.Role {
			continue
		}
		who := "role " + role
		if role == "PUBLIC" {
			who = "PUBLIC (every role)"
		}
		a.add(CheckPrivileges, role, AttestFail, "%s is not the tenant role but holds %s", who, summarize(h.grants, 4))
	}
	if publicExecute > 0 {
		a.add(CheckPrivileges, "PUBLIC", AttestInfo, "EXECUTE on %d functions: PostgreSQL's default for every function; unusable without USAGE on schema %s", publicExecute, a.Schema)
	}
	return nil
}

// summarize joins the first n items and says how many more there are.
func summarize(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// attestCanBecome: the login roles that can SET ROLE to the tenant role
// (directly or through other roles) must be exactly its cell's login role.
// Superusers can become any role and are listed for information; so are
// roles that could grant themselves the membership (CREATEROLE, or ADMIN
// OPTION on PostgreSQL 16+) but hold none: the application's administering
// role needs that to provision and delete tenants.
func attestCanBecome(db *gorm.DB, a *Attestation) error {
	var rows []struct {
		Name                             string
		Admin, Super, CreateRole, CanSet bool
	}
	// PostgreSQL 16 split membership: MEMBER includes a grant with ADMIN
	// OPTION but SET FALSE (what CREATEROLE now gets on roles it creates);
	// SET is the right to become the role. Before 16, MEMBER was that right.
	err := db.Raw(`SELECT r.rolname AS name, r.rolname = current_user AS admin, r.rolsuper AS super, r.rolcreaterole AS create_role,
			pg_has_role(r.oid, t.oid, CASE WHEN current_setting('server_version_num')::int >= 160000 THEN 'SET' ELSE 'MEMBER' END) AS can_set
		FROM pg_roles r, pg_roles t
		WHERE t.rolname = ? AND r.rolcanlogin AND (r.rolsuper OR r.rolcreaterole OR pg_has_role(r.oid, t.oid, 'MEMBER'))
		ORDER BY r.rolname`, a.Role).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("reading who can become the tenant role: %w", err)
	}
	cellFound := false
	for _, r := range rows {
		switch {
		case r.Super:
			a.add(CheckCanBecome, r.Name, AttestInfo, "superuser: PostgreSQL lets it become any role (see the login_role lines for the application's own)")
		case r.CanSet && r.Name == a.CellLoginRole:
			cellFound = true
			a.add(CheckCanBecome, r.Name, AttestPass, "the login role of cell %s, the tenant's own", a.Cell)
		case r.CanSet:
			a.add(CheckCanBecome, r.Name, AttestFail, "login role %s can SET ROLE %s but is not the login role of the tenant's cell (%s)", r.Name, a.Role, a.CellLoginRole)
		case r.CreateRole && r.Admin:
			a.add(CheckCanBecome, r.Name, AttestInfo, "the application's administering role: holds no membership, but with CREATEROLE could grant itself one, as provisioning and deletion need")
		case r.CreateRole:
			a.add(CheckCanBecome, r.Name, AttestInfo, "holds no membership, but with CREATEROLE could grant itself one")
		default:
			a.add(CheckCanBecome, r.Name, AttestInfo, "holds ADMIN OPTION on %s without the right to SET ROLE to it", a.Role)
		}
	}
	if !cellFound {
		a.add(CheckCanBecome, a.CellLoginRole, AttestFail, "the cell's login role cannot become %s: the tenant cannot be served from cell %s", a.Role, a.Cell)
	}
	return nil
}

// attestLoginRoles checks the application's login roles on the tenant's
// server: the role the application administers the server as (on the
// control plane's server, the control plane's own login) and every cell
// login role there, recorded or left behind. Each must be NOINHERIT (so a
// membership grants nothing until SET ROLE) and not a superuser; a cell
// role must not have CREATEROLE either, or it could grant itself any
// tenant and cells would bound nothing.
//
// A superuser is a FAIL, also for the administering role, also on a
// development server: a superuser passes every privilege check, so none of
// the isolation the other lines attest holds against a statement run as
// it. The embedded server Switchboard starts creates a non-superuser role,
// so this fails only where someone configured a superuser's URL.
func (s *Service) attestLoginRoles(ctx context.Context, db *gorm.DB, server string, a *Attestation) error {
	var recorded []string
	if err := s.root(ctx).Raw(`SELECT login_role FROM control.cells WHERE server = ? ORDER BY login_role`, server).Scan(&recorded).Error; err != nil {
		return fmt.Errorf("listing the cells of the server: %w", err)
	}
	var rows []struct {
		Name                                     string
		Admin, Login, Super, Inherit, CreateRole bool
	}
	err := db.Raw(`SELECT rolname AS name, rolname = current_user AS admin, rolcanlogin AS login, rolsuper AS super,
			rolinherit AS inherit, rolcreaterole AS create_role
		FROM pg_roles WHERE rolname = current_user OR rolname IN ? OR rolname LIKE 'sb\_cell\_%'
		ORDER BY rolname <> current_user, rolname`, append(recorded, "")).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("reading the application's login roles: %w", err)
	}
	for _, r := range rows {
		var wrong []string
		if r.Super {
			wrong = append(wrong, "is a superuser: it passes every privilege check, so no isolation holds against it")
		}
		if r.Inherit {
			wrong = append(wrong, "is INHERIT: it would use the privileges of every role it is a member of without SET ROLE")
		}
		if !r.Admin && r.CreateRole {
			wrong = append(wrong, "has CREATEROLE: it could grant itself any tenant's role")
		}
		what := "cell login role"
		switch {
		case r.Admin:
			what = "the application's administering login role on this server"
		case !slices.Contains(recorded, r.Name):
			what = "cell login role of no recorded cell on this server"
		}
		if !r.Login && !r.Admin {
			what += " (cannot log in)"
		}
		if len(wrong) > 0 {
			a.add(CheckLoginRole, r.Name, AttestFail, "%s %s", what, strings.Join(wrong, "; "))
			continue
		}
		a.add(CheckLoginRole, r.Name, AttestPass, "%s: NOINHERIT, not a superuser", what)
	}
	return nil
}

// attestAuditTrigger: the tenant's audit log refuses UPDATE, DELETE and
// TRUNCATE through a trigger that must be enabled and still raise. The
// tenant role owns the table and the function, so a statement running as
// it could disable or replace either; this is how that would show.
func attestAuditTrigger(db *gorm.DB, a *Attestation) error {
	var rows []struct {
		Enabled string
		Type    int
		Source  string
	}
	err := db.Raw(`SELECT t.tgenabled::text AS enabled, t.tgtype::int AS type, p.prosrc AS source
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			JOIN pg_proc p ON p.oid = t.tgfoid
		WHERE n.nspname = ? AND c.relname = 'audit_log' AND t.tgname = 'audit_log_append_only'`, a.Schema).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("reading the audit log's trigger: %w", err)
	}
	const subject = "audit_log_append_only"
	if len(rows) == 0 {
		a.add(CheckAuditTrigger, subject, AttestFail, "the audit log has no append-only trigger: its entries can be changed or deleted")
		return nil
	}
	r := rows[0]
	// pg_trigger.tgtype bits: BEFORE 2, DELETE 8, UPDATE 16, TRUNCATE 32.
	const before, guarded = 2, 8 | 16 | 32
	switch {
	case r.Enabled != "O" && r.Enabled != "A": // D disabled, R fires only in replication
		a.add(CheckAuditTrigger, subject, AttestFail, "the append-only trigger is disabled (tgenabled %s): audit entries can be changed or deleted", r.Enabled)
	case r.Type&before == 0 || r.Type&guarded != guarded:
		a.add(CheckAuditTrigger, subject, AttestFail, "the append-only trigger no longer fires before every UPDATE, DELETE and TRUNCATE")
	case !strings.Contains(strings.ToUpper(r.Source), "RAISE EXCEPTION"):
		a.add(CheckAuditTrigger, subject, AttestFail, "the append-only trigger's function was replaced and no longer refuses the change")
	default:
		a.add(CheckAuditTrigger, subject, AttestPass, "enabled; refuses UPDATE, DELETE and TRUNCATE of the audit log")
	}
	return nil
}

// attestDefaultPrivileges: default privileges decide who gets rights on
// objects created later. Entries for the schema, or for every schema by
// the tenant role (which creates the tenant's objects), must give nothing
// to anyone but the tenant role.
func attestDefaultPrivileges(db *gorm.DB, a *Attestation) error {
	var rows []struct{ Owner, Scope, Objects, Grantee, Privilege string }
	err := db.Raw(`SELECT pg_get_userbyid(d.defaclrole) AS owner, coalesce(n.nspname, '') AS scope,
			CASE d.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
				WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE d.defaclobjtype::text END AS objects,
			CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END AS grantee, x.privilege_type AS privilege
		FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace, aclexplode(d.defaclacl) x
		WHERE n.nspname = @schema OR (d.defaclnamespace = 0 AND d.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = @role))
		ORDER BY 4, 1, 3, 5`, map[string]any{"schema": a.Schema, "role": a.Role}).Scan(&rows).Error
	if err != nil {
		return fmt.Errorf("reading default privileges: %w", err)
	}
	byGrantee := map[string][]string{}
	var grantees []string
	for _, r := range rows {
		if _, ok := byGrantee[r.Grantee]; !ok {
			grantees = append(grantees, r.Grantee)
		}
		where := "in every schema"
		if r.Scope != "" {
			where = "in schema " + r.Scope
		}
		byGrantee[r.Grantee] = append(byGrantee[r.Grantee], fmt.Sprintf("%s on new %s made by %s %s", r.Privilege, r.Objects, r.Owner, where))
	}
	if len(grantees) == 0 {
		a.add(CheckDefaultPrivileges, a.Schema, AttestPass, "no default privileges touch the schema: new objects get PostgreSQL's defaults (owner only)")
		return nil
	}
	for _, g := range grantees {
		if g == a.Role {
			a.add(CheckDefaultPrivileges, g, AttestPass, "default privileges give only the tenant role itself: %s", summarize(byGrantee[g], 3))
			continue
		}
		a.add(CheckDefaultPrivileges, g, AttestFail, "objects created later will give %s %s", g, summarize(byGrantee[g], 3))
	}
	return nil
}

// attestAuditEntries reads the newest audit entries the way the
// application does, through the tenant's cell as its role; failing to is
// itself a finding (the cell could not serve the tenant).
func (s *Service) attestAuditEntries(ctx context.Context, t Tenant, a *Attestation) {
	err := tenancy.Do(ctx, s.Scope(t), func(tx *gorm.DB) error {
		return tx.Raw(`SELECT id, at, actor, action, target, summary FROM audit_log ORDER BY id DESC LIMIT ?`, attestAuditEntries).
			Scan(&a.RecentAudit).Error
	})
	if a.RecentAudit == nil {
		a.RecentAudit = []AttestAuditEntry{} // JSON readers get a list, never null
	}
	if err != nil {
		a.add(CheckAuditEntries, a.Schema+".audit_log", AttestFail, "could not be read through cell %s as %s: %s", a.Cell, a.Role, oneLine(err))
		return
	}
	a.add(CheckAuditEntries, a.Schema+".audit_log", AttestInfo, "read %d entries (newest first, at most %d) through cell %s as %s; listed below",
		len(a.RecentAudit), attestAuditEntries, a.Cell, a.Role)
}

// attestExport takes a fresh export (the same pg_dump as `tenant export`)
// into a private temporary folder and records its SHA-256. The archive
// carries its creation time, so each attestation has a checksum of its own.
func (s *Service) attestExport(ctx context.Context, t Tenant, a *Attestation) {
	sum, size, err := s.exportChecksum(ctx, t.Slug)
	if err != nil {
		a.add(CheckExport, a.Schema, AttestFail, "a fresh export failed: %s", oneLine(err))
		return
	}
	a.Export = AttestExport{SHA256: sum, Bytes: size}
	a.add(CheckExport, a.Schema, AttestPass, "sha256 %s of a fresh pg_dump as %s (%d bytes)", sum, a.Role, size)
}

func (s *Service) exportChecksum(ctx context.Context, slug string) (string, int64, error) {
	dir, err := os.MkdirTemp("", "switchboard-attest-*")
	if err != nil {
		return "", 0, fmt.Errorf("making a folder for the export: %w", err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "export.dump")
	if _, err := s.Export(ctx, slug, path); err != nil {
		return "", 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("reading the export: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("reading the export: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// oneLine keeps an error (pg_dump's stderr can span lines) to one line.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}

// WriteText writes the attestation for people: a header, one aligned line
// per check with PASS, FAIL or INFO, the newest audit entries and the
// verdict.
func (a Attestation) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Isolation attestation of %s (%s)\n", a.Tenant, a.Name)
	fmt.Fprintf(tw, "schema and role:\t%s\n", a.Schema)
	fmt.Fprintf(tw, "cell:\t%s (login role %s)\n", a.Cell, a.CellLoginRole)
	fmt.Fprintf(tw, "server inspected:\t%s\n", a.Server)
	fmt.Fprintf(tw, "attested at:\t%s\n\n", a.AttestedAt.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RESULT\tCHECK\tSUBJECT\tDETAIL")
	for _, c := range a.Checks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(c.Status), c.Check, c.Subject, c.Detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nNewest audit entries (%d):\n", len(a.RecentAudit))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tACTION\tSUMMARY")
	for _, e := range a.RecentAudit {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.At.UTC().Format("2006-01-02 15:04:05"), e.Actor, e.Action, e.Summary)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	verdict := "PASS: every check passed"
	if !a.Passed {
		verdict = fmt.Sprintf("FAIL: %d check(s) failed", a.Failed)
	}
	_, err := fmt.Fprintf(w, "\n%s\n", verdict)
	return err
}
