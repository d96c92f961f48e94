package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gorm.io/gorm"

	"switchboard/modules/tenants"
	"switchboard/platform/failpoint"
	"switchboard/platform/tenancy"
)

// TestProvisioningKilledAtEachStep kills `switchboard tenant create` with
// SIGKILL after each of its steps, in a cell on the control plane's server
// and in one on a second server. What is left is never served, `migrate
// --status` lists it, and either the same command finishes it or `tenant
// delete` removes everything it made on both servers.
func TestProvisioningKilledAtEachStep(t *testing.T) {
	ctx := context.Background()
	rig := newKillRig(t, "prov-owner@msp.example")
	e, owner, run := rig.e, rig.owner, rig.run
	n := 0
	for _, cell := range []string{tenancy.DefaultCell, "far"} {
		for _, point := range []string{failpoint.ProvisionReserved, failpoint.ProvisionBuilt} {
			for _, recovery := range []string{"finish", "delete"} {
				n++
				slug := fmt.Sprintf("prov-kill-%d", n)
				t.Run(fmt.Sprintf("%s/%s/%s", cell, point, recovery), func(t *testing.T) {
					if cmd, out, err := run(point, "tenant", "create", "--slug", slug, "--name", "Killed", "--cell", cell); !killed(cmd, err) {
						t.Fatalf("create was not killed at %s: %v %s", point, err, out)
					}
					left, err := e.tenants.Get(ctx, slug)
					if err != nil || left.Status != tenancy.StatusProvisioning {
						t.Fatalf("after the kill: %+v, %v; want status provisioning", left, err)
					}
					if status, _ := owner.get("/t/" + slug + "/"); status != http.StatusNotFound {
						t.Errorf("a provisioning client was served: %d", status)
					}
					if _, out, err := run("", "migrate", "--status"); err != nil || !strings.Contains(out, slug) || !strings.Contains(out, "provisioning") {
						t.Errorf("migrate --status does not list %s: %v\n%s", slug, err, out)
					}

					switch recovery {
					case "finish":
						if _, out, err := run("", "tenant", "create", "--slug", slug, "--name", "Killed", "--cell", cell); err != nil {
							t.Fatalf("rerunning create: %v %s", err, out)
						}
						done, err := e.tenants.Get(ctx, slug)
						if err != nil || done.Status != tenancy.StatusActive || done.SchemaVersion != e.tenants.TargetVersion() || done.Cell != cell {
							t.Fatalf("after finishing: %+v, %v", done, err)
						}
						var name string
						if err := tenancy.Do(ctx, e.tenants.Scope(done), func(tx *gorm.DB) error {
							return tx.Raw(`SELECT value FROM settings WHERE key = 'display_name'`).Scan(&name).Error
						}); err != nil || name != "Killed" {
							t.Fatalf("the finished client's data: %q, %v", name, err)
						}
					case "delete":
						if _, out, err := run("", "tenant", "delete", slug, "--confirm", slug); err != nil {
							t.Fatalf("deleting: %v %s", err, out)
						}
						if _, err := e.tenants.Get(ctx, slug); !errors.Is(err, tenants.ErrNotFound) {
							t.Fatalf("after delete: %v", err)
						}
						c, err := e.cluster.Cell(ctx, cell)
						if err != nil {
							t.Fatal(err)
						}
						var objects int
						if err := c.Admin().Raw(`SELECT (SELECT count(*) FROM pg_namespace WHERE nspname = @n) + (SELECT count(*) FROM pg_roles WHERE rolname = @n)`,
							map[string]any{"n": left.SchemaName}).Scan(&objects).Error; err != nil {
							t.Fatal(err)
						}
						if objects != 0 {
							t.Fatalf("delete left %d of the schema and role %s on the cell's server", objects, left.SchemaName)
						}
					}
				})
			}
		}
	}
}
