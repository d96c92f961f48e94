package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestRequireMFA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   string // SWITCHBOARD_SECURITY_REQUIRE_MFA; "" leaves it unset
		yaml  string // the config file's security section; "" for no file
		want  []string
		wrong bool
	}{
		{name: "default: owners and admins", want: []string{"admin", "owner"}},
		{name: "every staff role", env: "owner, Admin,technician", want: []string{"admin", "owner", "technician"}},
		{name: "nobody", env: "none", want: nil},
		{name: "nobody, from a file", yaml: "security:\n  require_mfa: []\n", want: nil},
		{name: "one role, from a file", yaml: "security:\n  require_mfa: [technician]\n", want: []string{"technician"}},
		{name: "the environment beats the file", env: "owner", yaml: "security:\n  require_mfa: [technician]\n", want: []string{"owner"}},
		{name: "not a staff role", env: "client_admin", wrong: true},
		{name: "none with a role", env: "none,owner", wrong: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SWITCHBOARD_SECURITY_REQUIRE_MFA", tc.env)
			if tc.env == "" {
				os.Unsetenv("SWITCHBOARD_SECURITY_REQUIRE_MFA") // restored by t.Setenv's cleanup
			}
			file := ""
			if tc.yaml != "" {
				file = filepath.Join(t.TempDir(), "c.yaml")
				if err := os.WriteFile(file, []byte(tc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Load(file, nil, nil)
			if tc.wrong {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("want ErrInvalid, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Security.RequireMFA, tc.want) {
				t.Fatalf("require_mfa = %q, want %q", c.Security.RequireMFA, tc.want)
			}
		})
	}
}
