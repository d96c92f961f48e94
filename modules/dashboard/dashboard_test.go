package dashboard

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"switchboard/modules/alerts"
	"switchboard/modules/identity"
	"switchboard/modules/policies"
	"switchboard/modules/slas"
	"switchboard/modules/tenants"
	"switchboard/modules/tenants/tenantstest"
	"switchboard/platform/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(m)) }

func setup(t testing.TB, n int) (*Service, *identity.Service, []tenants.Tenant) {
	t.Helper()
	c, ts := tenantstest.Open(t)
	var list []tenants.Tenant
	for i := 0; i < n; i++ {
		list = append(list, tenantstest.Create(t, ts, strings.ToLower(t.Name()[4:8])))
	}
	pol := policies.NewService(c)
	return NewService(ts, alerts.NewService(pol, slas.Panel(pol)), pol), identity.NewService(c, ts, tenantstest.Quiet), list
}

func admin(t *testing.T, q string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestQueueReadsOnlyBusyTenants(t *testing.T) {
	s, _, list := setup(t, 12)
	ctx := context.Background()
	for i, tn := range list[:3] {
		sev := alerts.SeverityWarning
		if i == 1 {
			sev = alerts.SeverityCritical
		}
		if _, err := s.alerts.Ingest(ctx, s.tenants.Scope(tn), []alerts.Signal{{Source: "t", Rule: "r", Severity: sev, Summary: tn.Slug}}); err != nil {
			t.Fatal(err)
		}
	}
	// An info alert does not make a tenant busy.
	if _, err := s.alerts.Ingest(ctx, s.tenants.Scope(list[5]), []alerts.Signal{{Source: "t", Rule: "r", Severity: alerts.SeverityInfo}}); err != nil {
		t.Fatal(err)
	}
	sums, err := s.tenants.Summaries(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	queue, read, err := s.Queue(ctx, sums, 10)
	if err != nil {
		t.Fatal(err)
	}
	if read != 3 || len(queue) != 3 {
		t.Fatalf("read %d schemas, queue %d; want 3 and 3", read, len(queue))
	}
	if queue[0].Alert.Severity != alerts.SeverityCritical || queue[0].TenantSlug != list[1].Slug {
		t.Fatalf("critical first: %+v", queue[0])
	}
}

func TestReconcileFindsAndFixesDrift(t *testing.T) {
	s, ids, list := setup(t, 3)
	ctx := context.Background()
	tn := list[0]
	if _, err := s.alerts.Ingest(ctx, s.tenants.Scope(tn), []alerts.Signal{{Source: "t", Rule: "a", Severity: alerts.SeverityCritical}, {Source: "t", Rule: "b", Severity: alerts.SeverityCritical}}); err != nil {
		t.Fatal(err)
	}
	src := CountSources{Identity: ids}
	if d, err := s.Reconcile(ctx, src, false, nil); err != nil || len(d) != 0 {
		t.Fatalf("fresh rollups drift: %+v %v", d, err)
	}
	admin(t, `UPDATE control.tenant_rollups SET open_critical = 7, active_users = 3 WHERE tenant_id = $1`, tn.ID)
	d, err := s.Reconcile(ctx, src, false, nil)
	if err != nil || len(d) != 2 || d[0].Counter != "active_users" || d[1].Actual != 2 || d[1].Rollup != 7 {
		t.Fatalf("dry run: %+v %v", d, err)
	}
	if d, _ := s.Reconcile(ctx, src, true, nil); len(d) != 2 {
		t.Fatalf("fix run reports what it fixed: %+v", d)
	}
	if d, err := s.Reconcile(ctx, src, false, nil); err != nil || len(d) != 0 {
		t.Fatalf("after fixing: %+v %v", d, err)
	}
}
