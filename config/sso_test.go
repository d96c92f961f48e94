package config

import (
	"errors"
	"reflect"
	"testing"
)

// TestSSOConfig: the sso.* keys load from the environment (lists as comma
// lists) and every mistake is refused with ErrInvalid.
func TestSSOConfig(t *testing.T) {
	t.Setenv("SWITCHBOARD_SSO_ISSUER", "https://login.example.com/tenant/v2.0")
	t.Setenv("SWITCHBOARD_SSO_CLIENT_ID", "console")
	t.Setenv("SWITCHBOARD_SSO_ROLES", "Staff-Owners=owner,noc=technician")
	t.Setenv("SWITCHBOARD_SSO_GRANTS", "noc-acme=acme,noc-all=*")
	c, err := Load("", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.SSO.Enabled() || c.SSO.CreateUsers || c.SSO.DisablePassword || c.SSO.RoleClaim != "groups" {
		t.Errorf("defaults: %+v", c.SSO)
	}
	if got := c.SSO.RoleMap(); !reflect.DeepEqual(got, map[string]string{"Staff-Owners": "owner", "noc": "technician"}) {
		t.Errorf("roles %v (claim values keep their case)", got)
	}
	if got := c.SSO.GrantMap(); !reflect.DeepEqual(got, map[string][]string{"noc-acme": {"acme"}, "noc-all": {"*"}}) {
		t.Errorf("grants %v", got)
	}

	for _, tc := range []struct{ env, value string }{
		{"SWITCHBOARD_SSO_ISSUER", "http://login.example.com"}, // http only with allow_insecure_issuers
		{"SWITCHBOARD_SSO_ISSUER", "https://login.example.com/?tenant=1"},
		{"SWITCHBOARD_SSO_CLIENT_ID", " "},
		{"SWITCHBOARD_SSO_CONSOLE_URL", "https://console.example.com/path"},
		{"SWITCHBOARD_SSO_ROLES", "noc=superuser"},
		{"SWITCHBOARD_SSO_ROLES", "owner"},
		{"SWITCHBOARD_SSO_GRANTS", "noc"},
		{"SWITCHBOARD_SSO_SECRET_KEY", "c2hvcnQ="},
	} {
		t.Run(tc.env+"="+tc.value, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			if _, err := Load("", nil, nil); !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
	t.Run("create_users needs roles", func(t *testing.T) {
		t.Setenv("SWITCHBOARD_SSO_ROLES", "")
		t.Setenv("SWITCHBOARD_SSO_CREATE_USERS", "true")
		if _, err := Load("", nil, nil); !errors.Is(err, ErrInvalid) {
			t.Fatalf("want ErrInvalid, got %v", err)
		}
	})
}
