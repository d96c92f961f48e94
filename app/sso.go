package main

import (
	"time"

	"switchboard/config"
	"switchboard/modules/identity"
)

// ssoOptions turns the sso.* configuration into identity's options; now is
// the ID token verifier's clock (nil: time.Now).
func ssoOptions(cfg *config.Config, now func() time.Time) identity.SSOOptions {
	s := cfg.SSO
	return identity.SSOOptions{
		Staff: identity.StaffSSOConfig{
			Issuer: s.Issuer, ClientID: s.ClientID, ClientSecret: s.ClientSecret, ConsoleURL: s.ConsoleURL, Label: s.Label,
			RoleClaim: s.RoleClaim, Roles: s.RoleMap(), GrantClaim: s.GrantClaim, Grants: s.GrantMap(),
			CreateUsers: s.CreateUsers, DisablePassword: s.DisablePassword,
		},
		SecretKey:            s.SecretKeyBytes(),
		MFAMethods:           s.MFAMethods,
		AllowInsecureIssuers: s.AllowInsecureIssuers,
		HTTPS:                cfg.Server.TLS || cfg.Server.SecureCookies,
		Now:                  now,
	}
}
