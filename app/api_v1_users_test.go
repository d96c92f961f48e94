package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"switchboard/modules/audit"
	"switchboard/modules/identity"
)

// TestStaffAPIStaffUsers: staff users and grants on the staff API: listing
// with a cursor, showing, creating (with replay), changing grants with
// If-Match, and every refusal a caller can cause as a 4xx.
func TestStaffAPIStaffUsers(t *testing.T) {
	f := newAPIFixture(t, "apiusr")
	ctx := context.Background()
	admin, _, err := f.e.identity.CreateStaff(ctx, identity.StaffInput{Email: "apiusr-admin@msp.example", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	f.syncGrants(t)
	_, f.tokens["admin"], err = f.e.identity.CreateToken(ctx, admin.Email, identity.TokenInput{Name: "admin", Scopes: identity.TokenScopes, Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const newEmail = "apiusr-new@msp.example"
	tech := "/api/v1/staff/" + f.tech.Email
	create := `{"email":"` + newEmail + `","name":"New Tech","role":"technician","scope":"list","clients":["` + f.alpha.Slug + `"]}`
	key := map[string]string{"Idempotency-Key": "apiusr-k1"}
	var next, firstEmail, etag string
	f.run(t, []apiScenario{
		{name: "technician may not list staff", token: "tech", method: "GET", path: "/api/v1/staff", status: 403, contains: []string{"Your role may not do this"}},
		{name: "technician may not create staff", token: "tech", method: "POST", path: "/api/v1/staff", body: create, status: 403},
		{name: "technician may not change grants", token: "tech", method: "PUT", path: tech + "/grant", body: `{"role":"admin"}`, status: 403},
		{name: "token without staff:read", token: "owner-read", method: "GET", path: "/api/v1/staff", status: 403, contains: []string{"staff:read"}},
		{name: "list", token: "owner", method: "GET", path: "/api/v1/staff?limit=500", status: 200,
			contains: []string{f.owner.Email, f.tech.Email, `"mfa_enrolled":false`, `"disabled":false`}, lacks: []string{"password", "hash"}},
		{name: "page 1", token: "owner", method: "GET", path: "/api/v1/staff?limit=1", status: 200, contains: []string{`"next"`},
			after: func(t *testing.T, body string, _ http.Header) {
				var p struct {
					Items []struct{ Email string }
					Next  string
				}
				if err := json.Unmarshal([]byte(body), &p); err != nil || len(p.Items) != 1 {
					t.Fatalf("page 1: %v %s", err, body)
				}
				next, firstEmail = p.Next, p.Items[0].Email
			}},
		{name: "bad cursor", token: "owner", method: "GET", path: "/api/v1/staff?cursor=xyz", status: 400},
		{name: "bad limit", token: "owner", method: "GET", path: "/api/v1/staff?limit=501", status: 400},
		{name: "show", token: "owner", method: "GET", path: tech, status: 200,
			contains: []string{`"role":"technician"`, `"scope":"list"`, `"clients":["` + f.alpha.Slug + `"]`, `"mfa_enrolled":false`}, lacks: []string{"password"},
			after: func(t *testing.T, _ string, hdr http.Header) { etag = hdr.Get("ETag") }},
		{name: "show, e-mail escaped", token: "owner", method: "GET", path: "/api/v1/staff/" + strings.Replace(f.tech.Email, "@", "%40", 1), status: 200, contains: []string{f.tech.Email}},
		{name: "unknown staff user", token: "owner", method: "GET", path: "/api/v1/staff/nobody@msp.example", status: 404},
		{name: "malformed e-mail is unknown", token: "owner", method: "GET", path: "/api/v1/staff/not-an-address", status: 404},
		{name: "create", token: "owner", method: "POST", path: "/api/v1/staff", body: create, headers: key, status: 201,
			contains: []string{`"email":"` + newEmail + `"`, `"password":"`, `"scope":"list"`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Location") != "/api/v1/staff/"+newEmail || hdr.Get("Idempotent-Replayed") != "" {
					t.Errorf("create headers: %v", hdr)
				}
			}},
		{name: "create replayed, without the password", token: "owner", method: "POST", path: "/api/v1/staff", body: create, headers: key, status: 201,
			contains: []string{`"email":"` + newEmail + `"`}, lacks: []string{"password"},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Idempotent-Replayed") != "true" || hdr.Get("Location") != "/api/v1/staff/"+newEmail {
					t.Errorf("replay headers: %v", hdr)
				}
			}},
		{name: "same key, other body", token: "owner", method: "POST", path: "/api/v1/staff", body: strings.Replace(create, "New Tech", "Other", 1), headers: key, status: 422},
		{name: "duplicate e-mail", token: "owner", method: "POST", path: "/api/v1/staff", body: create, status: 409},
		{name: "bad role", token: "owner", method: "POST", path: "/api/v1/staff", body: `{"email":"apiusr-x@msp.example","role":"wizard"}`, status: 400, contains: []string{"owner, admin or technician"}},
		{name: "bad e-mail", token: "owner", method: "POST", path: "/api/v1/staff", body: `{"email":"nope","role":"technician"}`, status: 400},
		{name: "unknown client in the grant", token: "owner", method: "POST", path: "/api/v1/staff",
			body: `{"email":"apiusr-x@msp.example","role":"technician","scope":"list","clients":["no-such-client"]}`, status: 422, contains: []string{"no-such-client"}},
		{name: "admins are not limited", token: "owner", method: "POST", path: "/api/v1/staff",
			body: `{"email":"apiusr-x@msp.example","role":"admin","scope":"list","clients":["` + f.alpha.Slug + `"]}`, status: 400},
		{name: "unknown field", token: "owner", method: "POST", path: "/api/v1/staff", body: `{"email":"apiusr-x@msp.example","role":"technician","password":"x"}`, status: 400},
		{name: "not JSON", token: "owner", method: "POST", path: "/api/v1/staff", body: `email=x`, status: 400},
		{name: "only owners make owners", token: "admin", method: "POST", path: "/api/v1/staff", body: `{"email":"apiusr-x@msp.example","role":"owner"}`, status: 403},
		{name: "only owners change an owner", token: "admin", method: "PUT", path: "/api/v1/staff/" + f.owner.Email + "/grant", body: `{"role":"technician"}`, status: 403},
		{name: "only owners disable an owner", token: "admin", method: "POST", path: "/api/v1/staff/" + f.owner.Email + "/disable", status: 403},
		{name: "admin creates a technician", token: "admin", method: "POST", path: "/api/v1/staff", body: `{"email":"apiusr-byadmin@msp.example","role":"technician"}`, status: 201, contains: []string{`"password":"`}},
		{name: "grant: bad role", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"wizard"}`, status: 400},
		{name: "grant: unknown client", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","scope":"list","clients":["no-such-client"]}`, status: 422},
		{name: "grant: list without clients", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","scope":"list"}`, status: 400},
		{name: "grant: e-mail is not part of it", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","email":"x@msp.example"}`, status: 400},
		{name: "grant: unknown user", token: "owner", method: "PUT", path: "/api/v1/staff/nobody@msp.example/grant", body: `{"role":"technician"}`, status: 404},
		{name: "grant: stale If-Match", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","scope":"all"}`, headers: map[string]string{"If-Match": `"stale"`}, status: 412},
		{name: "disable unknown", token: "owner", method: "POST", path: "/api/v1/staff/nobody@msp.example/disable", status: 404},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "page 2", token: "owner", method: "GET", path: "/api/v1/staff?limit=1&cursor=" + next, status: 200, lacks: []string{`"email":"` + firstEmail + `"`}},
		{name: "grant with If-Match", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","scope":"all_except","clients":["` + f.beta.Slug + `"]}`,
			headers: map[string]string{"If-Match": etag}, status: 200, contains: []string{`"scope":"all_except"`, `"clients":["` + f.beta.Slug + `"]`},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if e := hdr.Get("ETag"); e == "" || e == etag {
					t.Errorf("ETag not changed by the grant: %q", e)
				}
			}},
		{name: "old ETag now stale", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician"}`, headers: map[string]string{"If-Match": etag}, status: 412},
	})
	// Nothing partial: the refused requests created nobody.
	if _, err := f.e.identity.StaffByEmail(ctx, "apiusr-x@msp.example"); err == nil {
		t.Error("a refused request created apiusr-x")
	}
	// The audit log records the creation once (the replay did not create
	// again), by the token's user, as the console's creation is recorded.
	if e := f.onePlatformEntry(t, "staff.created", newEmail); e.Target != newEmail {
		t.Errorf("audit of the creation names %q", e.Target)
	}
	f.onePlatformEntry(t, "staff.grant_changed", f.tech.Email)
}

// onePlatformEntry asserts that the platform audit log holds exactly one
// entry of action about text, made by the fixture's owner (the token's user).
func (f *apiFixture) onePlatformEntry(t *testing.T, action, text string) audit.Entry {
	t.Helper()
	entries, err := f.e.audit.Platform(context.Background(), audit.Filter{Action: action, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != f.owner.Email {
		t.Fatalf("%s entries about %s: %+v, want one by %s", action, text, entries, f.owner.Email)
	}
	return entries[0]
}

// TestStaffAPIStaffAccess: what the staff routes change reaches tokens at
// once: a shrunken grant, a disabled user (sessions ended, tokens 401), an
// enabled one; and the last owner is kept (409).
func TestStaffAPIStaffAccess(t *testing.T) {
	f := newAPIFixture(t, "apiacc")
	db := f.e.cluster.ControlDB()
	alerts := "/api/v1/clients/" + f.alpha.Slug + "/alerts"
	tech := "/api/v1/staff/" + f.tech.Email
	if err := db.Exec(`INSERT INTO control.sessions (token_hash, subject, data, expiry) VALUES (?, ?, '\x00', now() + interval '1 hour')`,
		"apiacc-session", f.tech.Subject()).Error; err != nil {
		t.Fatal(err)
	}
	sessions := func(t *testing.T, want int64) {
		t.Helper()
		var n int64
		if err := db.Raw(`SELECT count(*) FROM control.sessions WHERE subject = ?`, f.tech.Subject()).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("technician's sessions: %d, want %d", n, want)
		}
	}
	f.run(t, []apiScenario{
		{name: "before: technician reads alpha", token: "tech", method: "GET", path: alerts, status: 200},
		{name: "shrink the grant to beta", token: "owner", method: "PUT", path: tech + "/grant", body: `{"role":"technician","scope":"list","clients":["` + f.beta.Slug + `"]}`, status: 200},
	})
	f.syncGrants(t)
	f.run(t, []apiScenario{
		{name: "shrunken grant: alpha is gone", token: "tech", method: "GET", path: alerts, status: 404},
		{name: "shrunken grant: beta is there", token: "tech", method: "GET", path: "/api/v1/clients/" + f.beta.Slug + "/alerts", status: 200},
		{name: "disable", token: "owner", method: "POST", path: tech + "/disable", status: 200, contains: []string{`"disabled":true`, `"disabled_at"`}},
		{name: "disable twice is harmless", token: "owner", method: "POST", path: tech + "/disable", status: 200, contains: []string{`"disabled":true`}},
		{name: "disabled user's token", token: "tech", method: "GET", path: "/api/v1/clients", status: 401},
		{name: "listed as disabled", token: "owner", method: "GET", path: tech, status: 200, contains: []string{`"disabled":true`}},
	})
	sessions(t, 0)
	f.run(t, []apiScenario{
		{name: "enable", token: "owner", method: "POST", path: tech + "/enable", status: 200, contains: []string{`"disabled":false`}, lacks: []string{"disabled_at"}},
	})
	f.syncGrants(t)
	f.run(t, []apiScenario{{name: "enabled user's token works again", token: "tech", method: "GET", path: "/api/v1/clients/" + f.beta.Slug + "/alerts", status: 200}})

	// The last active owner: every other owner of the package's database
	// is disabled for the while (restored after), so the fixture's is last.
	var others []int64
	if err := db.Raw(`UPDATE control.staff_users SET disabled_at = now() WHERE role = 'owner' AND disabled_at IS NULL AND id <> ? RETURNING id`,
		f.owner.ID).Scan(&others).Error; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Exec(`UPDATE control.staff_users SET disabled_at = NULL WHERE id IN ?`, append(others, 0)).Error; err != nil {
			t.Error(err)
		}
	})
	me := "/api/v1/staff/" + f.owner.Email
	f.run(t, []apiScenario{
		{name: "last owner demoted", token: "owner", method: "PUT", path: me + "/grant", body: `{"role":"admin"}`, status: 409, contains: []string{"last active owner"}},
		{name: "last owner disabled", token: "owner", method: "POST", path: me + "/disable", status: 409},
		{name: "still an owner", token: "owner", method: "GET", path: me, status: 200, contains: []string{`"role":"owner"`, `"disabled":false`}},
	})
	f.onePlatformEntry(t, "staff.disabled", f.tech.Email)
}

// TestStaffAPIClientUsers: a client's portal users on the staff API, by a
// technician of that client: create (with replay), list with a cursor,
// disable, enable, reset a password, and the refusals.
func TestStaffAPIClientUsers(t *testing.T) {
	f := newAPIFixture(t, "apicu")
	ctx := context.Background()
	u := "/api/v1/clients/" + f.alpha.Slug + "/users"
	const email = "carol@apicu-alpha.example"
	create := `{"email":"` + email + `","name":"Carol","role":"client_admin"}`
	key := map[string]string{"Idempotency-Key": "apicu-k1"}
	var next string
	f.run(t, []apiScenario{
		{name: "empty list", token: "tech", method: "GET", path: u, status: 200, contains: []string{`"items":[]`}, lacks: []string{`"next"`}},
		{name: "create", token: "tech", method: "POST", path: u, body: create, headers: key, status: 201, contains: []string{`"email":"` + email + `"`, `"role":"client_admin"`, `"password":"`}},
		{name: "create replayed", token: "tech", method: "POST", path: u, body: create, headers: key, status: 201, contains: []string{email}, lacks: []string{"password"},
			after: func(t *testing.T, _ string, hdr http.Header) {
				if hdr.Get("Idempotent-Replayed") != "true" {
					t.Errorf("not marked as replayed: %v", hdr)
				}
			}},
		{name: "same key, other body", token: "tech", method: "POST", path: u, body: `{"email":"dave@apicu-alpha.example"}`, headers: key, status: 422},
		{name: "duplicate", token: "tech", method: "POST", path: u, body: create, status: 409},
		{name: "default role", token: "tech", method: "POST", path: u, body: `{"email":"bob@apicu-alpha.example"}`, status: 201, contains: []string{`"role":"client_user"`}},
		{name: "bad role", token: "tech", method: "POST", path: u, body: `{"email":"x@apicu-alpha.example","role":"owner"}`, status: 400},
		{name: "bad e-mail", token: "tech", method: "POST", path: u, body: `{"email":"x"}`, status: 400},
		{name: "unknown field", token: "tech", method: "POST", path: u, body: `{"email":"x@apicu-alpha.example","password":"p"}`, status: 400},
		{name: "token without clients:write", token: "owner-read", method: "POST", path: u, body: create, status: 403, contains: []string{"clients:write"}},
		{name: "other client is not found", token: "tech", method: "GET", path: "/api/v1/clients/" + f.beta.Slug + "/users", status: 404},
		{name: "list", token: "tech", method: "GET", path: u, status: 200, contains: []string{email, "bob@apicu-alpha.example"}, lacks: []string{"password", "hash"}},
		{name: "page 1", token: "tech", method: "GET", path: u + "?limit=1", status: 200, contains: []string{"bob@"}, lacks: []string{email},
			after: func(t *testing.T, body string, _ http.Header) {
				var p struct{ Next string }
				_ = json.Unmarshal([]byte(body), &p)
				next = p.Next
			}},
		{name: "bad cursor", token: "tech", method: "GET", path: u + "?cursor=xyz", status: 400},
		{name: "disable", token: "tech", method: "POST", path: u + "/" + email + "/disable", status: 200, contains: []string{`"disabled":true`}},
		{name: "enable", token: "tech", method: "POST", path: u + "/" + email + "/enable", status: 200, contains: []string{`"disabled":false`}},
		{name: "reset password", token: "tech", method: "POST", path: u + "/" + email + "/reset-password", status: 200, contains: []string{`"password":"`, email}},
		{name: "unknown user", token: "tech", method: "POST", path: u + "/nobody@apicu-alpha.example/disable", status: 404},
		{name: "malformed user", token: "tech", method: "POST", path: u + "/not-an-address/reset-password", status: 404},
	})
	if t.Failed() {
		return
	}
	f.run(t, []apiScenario{
		{name: "page 2", token: "tech", method: "GET", path: u + "?limit=1&cursor=" + next, status: 200, contains: []string{email}, lacks: []string{"bob@", `"next"`}},
	})
	if _, err := f.e.identity.ClientUserByEmail(ctx, f.e.tenants.Scope(f.alpha), "dave@apicu-alpha.example"); err == nil {
		t.Error("the refused idempotent request created a user")
	}
	entries, err := f.e.audit.Tenant(ctx, f.e.tenants.Scope(f.alpha), audit.Filter{Action: "user.created", Text: email})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Actor != f.tech.Email {
		t.Errorf("audit of the creation (once, by the technician): %+v", entries)
	}
}
