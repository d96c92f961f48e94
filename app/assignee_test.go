package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"switchboard/modules/identity"
)

// TestAlertsGoToStaffWhoSeeTheClient: the assignee is picked from the
// staff who can see the alert's client; anyone else (a typo, a technician
// of another client, a disabled user) is refused with a reason and nothing
// changes.
func TestAlertsGoToStaffWhoSeeTheClient(t *testing.T) {
	ctx := context.Background()
	e, _, ts := testServer(t)
	mine := seedPortalTenant(t, e, "asg")
	other := seedPortalTenant(t, e, "asgo")
	const pw = "assignee-password-1"
	people := map[string]identity.StaffInput{
		"sees":      {Email: "asg-sees@msp.example", Name: "Sam Sees", Role: "technician", Scope: "list", Tenants: []string{mine.tenant.Slug}},
		"elsewhere": {Email: "asg-elsewhere@msp.example", Role: "technician", Scope: "list", Tenants: []string{other.tenant.Slug}},
		"disabled":  {Email: "asg-disabled@msp.example", Role: "technician", Scope: "list", Tenants: []string{mine.tenant.Slug}},
	}
	for _, in := range people {
		in.Password = pw
		if _, _, err := e.identity.CreateStaff(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.identity.SetStaffDisabled(ctx, people["disabled"].Email, true); err != nil {
		t.Fatal(err)
	}
	owner := signedInOwner(t, e, ts.URL, "asg-owner@msp.example")
	alert := "/t/" + mine.tenant.Slug + "/alerts/" + itoa(mine.alertID)
	owner.waitAllowed(alert)

	// The picker offers exactly the enabled staff who can see the client
	// (once the new grants reach the authorizer).
	var body string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, body = owner.get(alert); strings.Contains(body, people["sees"].Email) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the new technician's grant never reached the authorizer")
		}
	}
	for who, want := range map[string]bool{"sees": true, "elsewhere": false, "disabled": false} {
		if got := strings.Contains(body, `value="`+people[who].Email+`"`); got != want {
			t.Errorf("picker offers %s: %v, want %v", who, got, want)
		}
	}
	if !strings.Contains(body, `<select id="assignee"`) || !strings.Contains(body, "Sam Sees") || !strings.Contains(body, "asg-owner@msp.example (me)") {
		t.Errorf("no assignee picker with names and the viewer marked:\n%s", body)
	}

	assigned := func() string {
		a, _, err := e.alerts.Get(ctx, mine.tenant, mine.alertID)
		if err != nil {
			t.Fatal(err)
		}
		return a.Assignee
	}
	for _, tc := range []struct {
		name, assignee string
		status         int
		want           string // the assignee afterwards
		reason         string
	}{
		{"someone who sees the client", people["sees"].Email, http.StatusSeeOther, people["sees"].Email, ""},
		{"a technician of another client", people["elsewhere"].Email, http.StatusBadRequest, people["sees"].Email, "only staff who can see this client"},
		{"a typo", "asg-sess@msp.example", http.StatusBadRequest, people["sees"].Email, "cannot be assigned"},
		{"a disabled user", people["disabled"].Email, http.StatusBadRequest, people["sees"].Email, "cannot be assigned"},
		{"the same person again", people["sees"].Email, http.StatusSeeOther, people["sees"].Email, ""},
		{"nobody", "", http.StatusSeeOther, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body, _ := owner.do(http.MethodPost, alert+"/assign", url.Values{"assignee": {tc.assignee}})
			if status != tc.status || !strings.Contains(body, tc.reason) {
				t.Errorf("status %d, want %d with %q; body %.300s", status, tc.status, tc.reason, body)
			}
			if got := assigned(); got != tc.want {
				t.Errorf("assignee %q, want %q", got, tc.want)
			}
		})
	}
}
