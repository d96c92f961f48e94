package alerts

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/tenancy"
)

// TestSilenceLifecycle: a silence is listed with its state and what it is
// muting; expiring it ends it now (new alerts fire again, another expire
// changes nothing, an upcoming one must be deleted instead); deleting it
// removes it; a missing id is ErrNotFound; every change is audited.
func TestSilenceLifecycle(t *testing.T) {
	f := newFixture(t)
	tn := f.tenant(t)
	ctx := audit.WithOrigin(context.Background(), audit.Origin{Actor: "tech@msp.example"})
	signal := func(rule string) Outcome {
		t.Helper()
		out, err := f.alerts.Ingest(ctx, tn, []Signal{{Source: "nagios", Rule: rule, Severity: SeverityWarning, Labels: map[string]string{"host": "web1"}}})
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	now := time.Now()
	web1, err := f.alerts.CreateSilence(ctx, tn, []Matcher{{Name: "host", Op: "=", Value: "web1"}}, now.Add(-time.Minute), now.Add(time.Hour), "reboot")
	if err != nil {
		t.Fatal(err)
	}
	later, err := f.alerts.CreateSilence(ctx, tn, []Matcher{{Name: "host", Op: "=~", Value: "db.*"}}, now.Add(time.Hour), now.Add(2*time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if o := signal("disk"); o.Status != StatusSuppressed {
		t.Fatalf("under an active silence: %+v", o)
	}

	list, err := f.alerts.Silences(ctx, tn, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != web1.ID || list[0].State != SilenceActive || list[0].Muting != 1 || list[0].CreatedBy != "tech@msp.example" ||
		list[0].Comment != "reboot" || list[1].ID != later.ID || list[1].State != SilenceUpcoming || list[1].MatcherText() != "host=~db.*" {
		t.Fatalf("list %+v", list)
	}
	// The caller's clock decides the states: a day later both have ended.
	if list, _ := f.alerts.Silences(ctx, tn, time.Now().Add(24*time.Hour)); len(list) != 2 || list[0].State != SilenceExpired || list[1].State != SilenceExpired {
		t.Fatalf("a day later %+v", list)
	}

	sil, changed, err := f.alerts.ExpireSilence(ctx, tn, web1.ID)
	if err != nil || !changed || sil.EndsAt.After(time.Now()) {
		t.Fatalf("expire: %+v %v %v", sil, changed, err)
	}
	if o := signal("cpu"); o.Status != StatusFiring {
		t.Fatalf("a new alert after the silence was expired: %+v", o)
	}
	if o := signal("disk"); o.Status != StatusFiring {
		t.Fatalf("the muted alert's next signal after the silence was expired: %+v", o)
	}
	if _, changed, err := f.alerts.ExpireSilence(ctx, tn, web1.ID); err != nil || changed {
		t.Fatalf("expiring an ended silence: changed %v, %v", changed, err)
	}
	if _, _, err := f.alerts.ExpireSilence(ctx, tn, later.ID); !errors.Is(err, ErrSilenceNotStarted) || !errors.Is(err, fault.Conflict) ||
		!strings.Contains(err.Error(), "delete it instead") {
		t.Fatalf("expiring an upcoming silence: %v", err)
	}
	if list, _ := f.alerts.Silences(ctx, tn, time.Now()); len(list) != 2 || list[0].ID != later.ID || list[1].ID != web1.ID || list[1].State != SilenceExpired {
		t.Fatalf("after expiring %+v", list)
	}

	// Deleting an active silence ends its effect at once.
	db1, err := f.alerts.CreateSilence(ctx, tn, []Matcher{{Name: "host", Op: "=", Value: "web1"}}, time.Now(), time.Now().Add(time.Hour), "")
	if err != nil {
		t.Fatal(err)
	}
	if o := signal("mem"); o.Status != StatusSuppressed {
		t.Fatalf("under the new silence: %+v", o)
	}
	for _, id := range []int64{db1.ID, later.ID} {
		if _, err := f.alerts.DeleteSilence(ctx, tn, id); err != nil {
			t.Fatal(err)
		}
	}
	if o := signal("swap"); o.Status != StatusFiring {
		t.Fatalf("after the silence was deleted: %+v", o)
	}
	if list, _ := f.alerts.Silences(ctx, tn, time.Now()); len(list) != 1 || list[0].ID != web1.ID {
		t.Fatalf("after deleting %+v", list)
	}
	for name, op := range map[string]func(id int64) error{
		"delete": func(id int64) error { _, err := f.alerts.DeleteSilence(ctx, tn, id); return err },
		"expire": func(id int64) error { _, _, err := f.alerts.ExpireSilence(ctx, tn, id); return err },
	} {
		for _, id := range []int64{db1.ID, 999999} {
			if err := op(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s #%d: %v, want ErrNotFound", name, id, err)
			}
		}
	}
	// Another tenant's silences are not this one's.
	other := f.tenant(t)
	if _, err := f.alerts.DeleteSilence(ctx, other, web1.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting through another tenant: %v", err)
	}

	var entries []struct{ Actor, Action, Target string }
	if err := tenancy.Do(ctx, tn, func(tx *gorm.DB) error {
		return tx.Raw(`SELECT actor, action, target FROM audit_log WHERE action LIKE 'silence.%' ORDER BY id`).Scan(&entries).Error
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{"silence.created", "silence.created", "silence.expired", "silence.created", "silence.deleted", "silence.deleted"}
	if len(entries) != len(want) {
		t.Fatalf("audit %+v", entries)
	}
	for i, e := range entries {
		if e.Action != want[i] || e.Actor != "tech@msp.example" {
			t.Errorf("audit entry %d: %+v, want %s", i, e, want[i])
		}
	}
	if entries[2].Target != "silence #"+strconv.FormatInt(web1.ID, 10) {
		t.Errorf("expiry audited as %q", entries[2].Target)
	}
}

func TestParseSilenceInput(t *testing.T) {
	matchers := []struct {
		in   []string
		want string // MatcherText, or a fragment of the error
		ok   bool
	}{
		{[]string{"host=web1", " alertname=~disk_.* "}, "host=web1, alertname=~disk_.*", true},
		{[]string{"env!=prod", "job!~node|black.*"}, "env!=prod, job!~node|black.*", true},
		{[]string{"host"}, "must look like name=value", false},
		{[]string{"=value"}, "must look like", false},
		{[]string{"", " "}, "at least one matcher", false},
	}
	for _, tc := range matchers {
		ms, err := ParseMatchers(tc.in)
		if tc.ok {
			if err != nil || (Silence{Matchers: ms}).MatcherText() != tc.want {
				t.Errorf("ParseMatchers(%q) = %v, %v; want %s", tc.in, ms, err, tc.want)
			}
		} else if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseMatchers(%q): %v, want %q", tc.in, err, tc.want)
		}
	}
	durations := map[string]time.Duration{"2h": 2 * time.Hour, "90m": 90 * time.Minute, "3d": 72 * time.Hour, "90d": 90 * 24 * time.Hour,
		"1m": time.Minute, "30s": 0, "91d": 0, "forever": 0, "d": 0, "2hd": 0, "-1h": 0, "1.5d": 0, "": 0}
	for in, want := range durations {
		d, err := ParseSilenceDuration(in)
		if want == 0 {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "duration") {
				t.Errorf("ParseSilenceDuration(%q) = %v, %v; want refused", in, d, err)
			}
		} else if err != nil || d != want {
			t.Errorf("ParseSilenceDuration(%q) = %v, %v; want %v", in, d, err, want)
		}
	}
}
