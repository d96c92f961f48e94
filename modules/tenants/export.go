package tenants

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// ExportConfig tells Export where pg_dump is.
type ExportConfig struct {
	BinDir string // folder holding pg_dump; empty means PATH
}

// Export writes a pg_dump custom-format archive of the tenant's schema to
// outPath. pg_dump connects to the tenant's cell server as the cell's login
// role and runs with --role set to the tenant role, because no login role
// has privileges of its own in tenant schemas. The file appears only when
// the dump succeeded (written beside it, then renamed). Restore with:
// pg_restore --role=tenant_<id> -d URL FILE (into the same tenant after its
// schema was emptied, or a fresh cluster with that role).
func (s *Service) Export(ctx context.Context, slug, outPath string) (Tenant, error) {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return Tenant{}, err
	}
	if outPath == "" {
		return Tenant{}, invalid("an output file is required (--out FILE)")
	}
	cell, err := s.cluster.Cell(ctx, t.Cell)
	if err != nil {
		return Tenant{}, fault.Newf(ErrCellUnreachable, "exporting %q: %v", slug, err)
	}
	pgDump := "pg_dump"
	if s.export.BinDir != "" {
		pgDump = filepath.Join(s.export.BinDir, "pg_dump")
	}
	dir := filepath.Dir(outPath)
	tmp, err := os.CreateTemp(dir, ".export-*")
	if err != nil {
		return Tenant{}, invalid("cannot write to %s: %v", dir, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // no-op after the rename

	name := tenancy.SchemaName(t.ID)
	dsn, env := cell.Tool()
	cmd := exec.CommandContext(ctx, pgDump,
		"--dbname", dsn,
		"--schema", name,
		"--role", name,
		"--format", "custom",
		"--no-password",
		"--file", tmpName)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return Tenant{}, fmt.Errorf("pg_dump of %s failed: %w: %s", slug, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmpName, outPath); err != nil {
		return Tenant{}, fmt.Errorf("saving export: %w", err)
	}
	return t, nil
}
