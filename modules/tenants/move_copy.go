package tenants

import (
	"bytes"
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"

	"switchboard/platform/tenancy"
)

// serverTables are the tables every cell server keeps outside the tenant
// schemas, with the columns their shared definition has
// (db/migrations/server): the tenant's rows there move with it. Columns are
// named because the control plane's server made these tables with older
// migrations, whose column order may differ.
var serverTables = []struct{ name, cols string }{
	{"control.tenant_rollups", "tenant_id, active_users, updated_at, open_critical, open_warning, open_info, next_offline_at"},
	{"control.sla_rollups", "tenant_id, month, alerts, response_decided, response_met, resolution_decided, resolution_met, updated_at"},
	{"control.policy_overrides", "tenant_id, policy_key"},
	{"control.outbox_due", "tenant_id, generation, due_since"},
}

// copyTenant makes the tenant's copy on the target server from scratch:
// whatever an unfinished copy left is dropped; the role, the administering
// login's membership and the empty schema are created (CreateSchema, in a
// committed transaction, since pg_restore is another session); the archive
// pg_dump wrote as the tenant's role on the source is restored as that role
// on the target, in one transaction; then, in one transaction, the
// tenant's rows of the server tables are copied and the role is handed to
// the target cell (Seal, which also ends the administering membership).
func (s *Service) copyTenant(ctx context.Context, t Tenant, from, to *tenancy.Cell) (string, error) {
	if err := s.dropCopy(ctx, t, to); err != nil {
		return "", err
	}
	if err := to.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error { return tenancy.CreateSchema(tx, t.ID) }); err != nil {
		return "", err
	}
	begin := time.Now()
	archive, err := s.dumpTenant(ctx, t, from)
	if err != nil {
		return "", err
	}
	defer os.Remove(archive)
	info, err := os.Stat(archive)
	if err != nil {
		return "", err
	}
	dumped := time.Since(begin)
	if err := s.restoreTenant(ctx, t, to, archive); err != nil {
		return "", err
	}
	restored := time.Since(begin) - dumped
	if err := s.movePoint(ctx, moveRestored); err != nil {
		return "", err
	}
	err = to.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := syncServerRows(ctx, from.Admin(), tx, t.ID); err != nil {
			return err
		}
		return tenancy.Seal(tx, t.ID, to.Role)
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("a %s archive (pg_dump %v, pg_restore %v) restored on %s and handed to cell %s", byteSize(info.Size()),
		dumped.Round(time.Millisecond), restored.Round(time.Millisecond), serverName(to), to.Name), nil
}

// dropCopy removes the tenant's schema, role and server rows from the
// target server. Only called before the switch-over, while the directory
// names the source, which oneServer checked is another server.
func (s *Service) dropCopy(ctx context.Context, t Tenant, to *tenancy.Cell) error {
	err := to.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tenancy.DropSchema(tx, t.ID); err != nil {
			return err
		}
		return forgetOnServer(tx, t.ID)
	})
	if err != nil {
		return fmt.Errorf("dropping an unfinished copy of %q on %s: %w", t.Slug, serverName(to), err)
	}
	return nil
}

// dumpTenant writes a custom-format archive of the tenant's schema to a
// temporary file (readable by this OS user only), as Export does: pg_dump
// connects as the source cell's login role and works as the tenant's role.
// The file is uncompressed: it is read back at once, and compressing would
// lengthen the fence. Its name carries the tenant and a hash of the control
// plane's location, so that a rerun removes what a killed run left of this
// tenant's archives (and nothing of another installation's).
func (s *Service) dumpTenant(ctx context.Context, t Tenant, from *tenancy.Cell) (string, error) {
	h := fnv.New32a()
	h.Write([]byte(s.cluster.Control().Location()))
	prefix := fmt.Sprintf("switchboard-move-%08x-%d-", h.Sum32(), t.ID)
	leftovers, _ := filepath.Glob(filepath.Join(os.TempDir(), prefix+"*"))
	for _, f := range leftovers {
		_ = os.Remove(f)
	}
	f, err := os.CreateTemp("", prefix+"*.dump")
	if err != nil {
		return "", fmt.Errorf("a file for the archive: %w", err)
	}
	name := f.Name()
	_ = f.Close()
	schema := tenancy.SchemaName(t.ID)
	dsn, env := from.Tool()
	err = s.runTool(ctx, "pg_dump", env, "--dbname", dsn, "--schema", schema, "--role", schema,
		"--format", "custom", "--compress", "0", "--lock-wait-timeout", "10s", "--no-password", "--file", name)
	if err != nil {
		_ = os.Remove(name)
		return "", err
	}
	return name, nil
}

// schemaEntry matches the archive's own CREATE SCHEMA in pg_restore's list:
// the schema exists already, made by the administering login for the
// tenant's role, which may not create schemas itself.
var schemaEntry = regexp.MustCompile(`^\d+; \d+ \d+ SCHEMA - tenant_\d+ `)

// restoreTenant restores the archive into the tenant's (empty) schema on
// the target, as the target server's administering login with
// --role tenant_<id>, in one transaction. Privileges and owners are not
// restored: the archive was taken with writes revoked, and every object is
// the tenant role's by creation, with its default privileges.
func (s *Service) restoreTenant(ctx context.Context, t Tenant, to *tenancy.Cell, archive string) error {
	list, err := s.toolOutput(ctx, "pg_restore", nil, "--list", archive)
	if err != nil {
		return err
	}
	var kept strings.Builder
	for _, line := range strings.Split(list, "\n") {
		if schemaEntry.MatchString(line) {
			line = ";" + line
		}
		kept.WriteString(line + "\n")
	}
	listFile := archive + ".list"
	if err := os.WriteFile(listFile, []byte(kept.String()), 0o600); err != nil {
		return fmt.Errorf("writing the restore list: %w", err)
	}
	defer os.Remove(listFile)
	schema := tenancy.SchemaName(t.ID)
	dsn, env := to.Host().Tool()
	return s.runTool(ctx, "pg_restore", env, "--dbname", dsn, "--role", schema, "--no-owner", "--no-acl",
		"--single-transaction", "--exit-on-error", "--no-password", "--use-list", listFile, archive)
}

// runTool runs one of the PostgreSQL client programs (from ExportConfig's
// folder, or PATH) with env added, and returns its error with its stderr.
func (s *Service) runTool(ctx context.Context, tool string, env []string, args ...string) error {
	_, err := s.toolOutput(ctx, tool, env, args...)
	return err
}

func (s *Service) toolOutput(ctx context.Context, tool string, env []string, args ...string) (string, error) {
	path := tool
	if s.export.BinDir != "" {
		path = filepath.Join(s.export.BinDir, tool)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s failed: %w: %s", tool, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// syncServerRows replaces the tenant's rows of the server tables in dst (a
// transaction on the target server) with those src holds.
func syncServerRows(ctx context.Context, src, dst *gorm.DB, id int64) error {
	if err := forgetOnServer(dst, id); err != nil {
		return err
	}
	for _, st := range serverTables {
		var rows string
		err := src.WithContext(ctx).Raw(`SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]')::text FROM (SELECT `+st.cols+` FROM `+st.name+` WHERE tenant_id = ?) r`, id).
			Row().Scan(&rows)
		if err != nil {
			return fmt.Errorf("reading tenant %d's rows of %s: %w", id, st.name, err)
		}
		err = dst.Exec(`INSERT INTO `+st.name+` (`+st.cols+`) SELECT `+st.cols+` FROM jsonb_populate_recordset(NULL::`+st.name+`, ?::jsonb)`, rows).Error
		if err != nil {
			return fmt.Errorf("copying tenant %d's rows of %s: %w", id, st.name, err)
		}
	}
	return nil
}

// sums is what verification compares of one side: a digest of the schema's
// structure and, per table (and sequence, and server table), its row count
// and a checksum.
type sums struct {
	structure string
	tables    map[string]tableSum
}

type tableSum struct {
	Rows int64
	Sum  string
}

// verifyCopy compares the copy with the source: the same relations,
// columns, constraints, triggers and functions; per table the same row
// count and checksum; per sequence the same position; the same rows of the
// server tables. Each side is read as the tenant's role through its cell
// (and the server tables as each server's administering login), both at
// once.
//
// The checksum of a table is the sum of a 64-bit hash of each row's text:
// it does not depend on the order of rows, so neither side sorts (an
// ordered md5 over string_agg took 2.5 times as long on 100,000 alerts,
// and its ORDER BY would follow each database's collation). The session's
// time zone and output formats are pinned, so a row's text is the same on
// both servers whatever their settings.
//
// The server tables' rows are copied again first: a few of them (rollup
// recounts, report totals) are written through functions the fence does
// not cover. They are derived figures, which their next recount corrects,
// should one change between here and the switch-over.
func (s *Service) verifyCopy(ctx context.Context, t Tenant, from, to *tenancy.Cell, src, dst tenancy.Tenant) (string, error) {
	if err := to.Admin().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return syncServerRows(ctx, from.Admin(), tx, t.ID)
	}); err != nil {
		return "", err
	}
	var a, b sums
	var ra, rb map[string]tableSum
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { a, err = schemaSums(gctx, src); return })
	g.Go(func() (err error) { b, err = schemaSums(gctx, dst); return })
	g.Go(func() (err error) { ra, err = serverSums(gctx, from.Admin(), t.ID); return })
	g.Go(func() (err error) { rb, err = serverSums(gctx, to.Admin(), t.ID); return })
	if err := g.Wait(); err != nil {
		return "", fmt.Errorf("verifying the copy: %w", err)
	}
	var diffs []string
	if a.structure != b.structure {
		diffs = append(diffs, "the schema's structure")
	}
	diffs = append(diffs, compareSums(a.tables, b.tables)...)
	diffs = append(diffs, compareSums(ra, rb)...)
	if len(diffs) > 0 {
		if len(diffs) > 5 {
			diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
		}
		return "", fmt.Errorf("the copy differs from the source: %s", strings.Join(diffs, "; "))
	}
	var rows int64
	for _, ts := range a.tables {
		rows += ts.Rows
	}
	return fmt.Sprintf("%d tables and sequences, %d rows: counts and checksums equal on both servers", len(a.tables), rows), nil
}

// compareSums lists what differs between two sides' sums.
func compareSums(a, b map[string]tableSum) []string {
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		x, inA := a[n]
		y, inB := b[n]
		switch {
		case !inA:
			out = append(out, n+" only on the target")
		case !inB:
			out = append(out, n+" missing on the target")
		case x.Rows != y.Rows:
			out = append(out, fmt.Sprintf("%s has %d rows on the source, %d on the target", n, x.Rows, y.Rows))
		case x.Sum != y.Sum:
			out = append(out, n+"'s checksum")
		}
	}
	return out
}

// pinFormats makes a row's text the same on every server.
const pinFormats = `SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres';
	SET LOCAL extra_float_digits = 3; SET LOCAL bytea_output = 'hex'`

// structureDigest is one md5 over the schema's relations, columns,
// constraints, triggers and functions, in a fixed order.
const structureDigest = `SELECT md5(coalesce(string_agg(x, E'\n' ORDER BY x COLLATE "C"), '')) FROM (
	SELECT 'rel ' || c.relname || ' ' || c.relkind::text AS x FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = @ns)
	UNION ALL SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = @ns) AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL SELECT 'con ' || c.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = @ns)
	UNION ALL SELECT 'trg ' || c.relname || '.' || g.tgname || ' ' || g.tgenabled::text
		FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = @ns) AND NOT g.tgisinternal
	UNION ALL SELECT 'fn ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(p.prosrc)
		FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = @ns)
) d`

// schemaSums reads one side's sums as the tenant's role, in one round trip
// for all tables and sequences.
func schemaSums(ctx context.Context, t tenancy.Tenant) (sums, error) {
	out := sums{tables: map[string]tableSum{}}
	schema := tenancy.SchemaName(t.ID)
	err := tenancy.Upgrade(ctx, t, func(tx *gorm.DB) error {
		if err := tx.Exec(pinFormats).Error; err != nil {
			return err
		}
		if err := tx.Raw(structureDigest, map[string]any{"ns": schema}).Row().Scan(&out.structure); err != nil {
			return fmt.Errorf("reading the structure of %s: %w", schema, err)
		}
		var rels []struct{ Name, Kind string }
		err := tx.Raw(`SELECT relname AS name, relkind AS kind FROM pg_class WHERE relnamespace = ?::regnamespace AND relkind IN ('r', 'S')
			ORDER BY relname COLLATE "C"`, schema).Scan(&rels).Error
		if err != nil {
			return fmt.Errorf("listing the tables of %s: %w", schema, err)
		}
		if len(rels) == 0 {
			return nil
		}
		parts := make([]string, len(rels))
		for i, r := range rels {
			q := quoteIdent(schema) + "." + quoteIdent(r.Name)
			lit := "'" + strings.ReplaceAll(r.Name, "'", "''") + "'"
			if r.Kind == "S" {
				parts[i] = `SELECT ` + lit + `, 0::bigint, last_value::text || '/' || is_called::text FROM ` + q
			} else {
				parts[i] = `SELECT ` + lit + `, count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text FROM ` + q + ` t`
			}
		}
		rows, err := tx.Raw(strings.Join(parts, "\nUNION ALL ")).Rows()
		if err != nil {
			return fmt.Errorf("summing the tables of %s: %w", schema, err)
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var ts tableSum
			if err := rows.Scan(&name, &ts.Rows, &ts.Sum); err != nil {
				return err
			}
			out.tables[name] = ts
		}
		return rows.Err()
	})
	return out, err
}

// serverSums reads the tenant's rows of the server tables on one server.
func serverSums(ctx context.Context, admin *gorm.DB, id int64) (map[string]tableSum, error) {
	out := map[string]tableSum{}
	err := admin.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(pinFormats).Error; err != nil {
			return err
		}
		for _, st := range serverTables {
			var ts tableSum
			err := tx.Raw(`SELECT count(*), coalesce(sum(hashtextextended(ROW(`+st.cols+`)::text, 0)::numeric), 0)::text FROM `+st.name+` WHERE tenant_id = ?`, id).
				Row().Scan(&ts.Rows, &ts.Sum)
			if err != nil {
				return fmt.Errorf("summing %s: %w", st.name, err)
			}
			out[st.name] = ts
		}
		return nil
	})
	return out, err
}

// quoteIdent quotes a name from the catalog for SQL.
func quoteIdent(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// byteSize formats a file size for progress lines.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
