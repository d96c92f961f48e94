package config

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
)

// Enabled reports whether staff single sign-on is configured.
func (s SSO) Enabled() bool { return s.Issuer != "" }

// RoleMap is Roles as claim value → staff role.
func (s SSO) RoleMap() map[string]string {
	out := map[string]string{}
	for _, pair := range s.Roles {
		value, role, _ := strings.Cut(pair, "=")
		out[strings.TrimSpace(value)] = strings.TrimSpace(role)
	}
	return out
}

// GrantMap is Grants as claim value → client slugs ("*": every client).
func (s SSO) GrantMap() map[string][]string {
	out := map[string][]string{}
	for _, pair := range s.Grants {
		value, slug, _ := strings.Cut(pair, "=")
		value = strings.TrimSpace(value)
		out[value] = append(out[value], strings.TrimSpace(slug))
	}
	return out
}

// SecretKeyBytes is the decoded SecretKey (nil when none is configured).
func (s SSO) SecretKeyBytes() []byte {
	if s.SecretKey == "" {
		return nil
	}
	key, _ := base64.StdEncoding.DecodeString(s.SecretKey)
	return key
}

func (s SSO) validate() error {
	if s.Issuer != "" {
		if err := checkIssuer(s.Issuer, s.AllowInsecureIssuers); err != nil {
			return err
		}
		if strings.TrimSpace(s.ClientID) == "" {
			return fmt.Errorf("%w: sso.client_id is required with sso.issuer", ErrInvalid)
		}
	}
	if s.ConsoleURL != "" {
		u, err := url.Parse(s.ConsoleURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			return fmt.Errorf("%w: sso.console_url %q must be the console's URL, like https://console.msp.example", ErrInvalid, s.ConsoleURL)
		}
	}
	for _, pair := range s.Roles {
		value, role, ok := strings.Cut(pair, "=")
		switch strings.TrimSpace(role) {
		case "owner", "admin", "technician":
		default:
			ok = false
		}
		if !ok || strings.TrimSpace(value) == "" {
			return fmt.Errorf("%w: sso.roles entry %q must be VALUE=ROLE with ROLE owner, admin or technician", ErrInvalid, pair)
		}
	}
	for _, pair := range s.Grants {
		value, slug, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(value) == "" || strings.TrimSpace(slug) == "" {
			return fmt.Errorf("%w: sso.grants entry %q must be VALUE=SLUG (or VALUE=* for every client)", ErrInvalid, pair)
		}
	}
	if s.CreateUsers && len(s.Roles) == 0 {
		return fmt.Errorf("%w: sso.create_users needs sso.roles, which give new users their role", ErrInvalid)
	}
	if s.SecretKey != "" {
		if key, err := base64.StdEncoding.DecodeString(s.SecretKey); err != nil || len(key) != 32 {
			return fmt.Errorf("%w: sso.secret_key must be 32 random bytes in base64 (openssl rand -base64 32)", ErrInvalid)
		}
	}
	for _, m := range s.MFAMethods {
		if strings.TrimSpace(m) == "" {
			return fmt.Errorf("%w: sso.mfa_methods has an empty entry", ErrInvalid)
		}
	}
	return nil
}

// checkIssuer accepts an https:// issuer URL (http:// too when insecure
// issuers are allowed) without query or fragment.
func checkIssuer(issuer string, allowInsecure bool) error {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil ||
		(u.Scheme != "https" && !(allowInsecure && u.Scheme == "http")) {
		return fmt.Errorf("%w: sso.issuer %q must be an https:// URL", ErrInvalid, issuer)
	}
	return nil
}
