package identity

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
)

// RelyingParty is who passkeys are registered for: the console's host as
// the browser reached it (one of server.console_hosts), and its origin. A
// passkey registered on one console host works only there.
type RelyingParty struct {
	ID     string // host name, no port
	Origin string // scheme://host[:port]
}

// NewRelyingParty derives the relying party from the request's scheme and
// Host (already checked to be a console host). Browsers refuse IP addresses
// as relying party ids, so on one passkeys are unavailable.
func (m *MFA) NewRelyingParty(scheme, host string) (RelyingParty, error) {
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.ToLower(strings.Trim(name, "[]"))
	if name == "" || net.ParseIP(name) != nil {
		return RelyingParty{}, fault.Newf(ErrInvalid, "passkeys need the console to be reached by its name (such as localhost), not an IP address")
	}
	if m.https {
		scheme = "https"
	}
	return RelyingParty{ID: name, Origin: scheme + "://" + strings.ToLower(host)}, nil
}

func (rp RelyingParty) webauthn() (*webauthn.WebAuthn, error) {
	w, err := webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: totpIssuer, RPOrigins: []string{rp.Origin}})
	if err != nil {
		return nil, fmt.Errorf("configuring passkeys for %s: %w", rp.Origin, err)
	}
	return w, nil
}

// passkeyUser is a staff user as go-webauthn sees them. The user handle is
// the user's id (8 bytes): sign-in always names the user first, so the
// handle is never used to find anyone.
type passkeyUser struct {
	u     StaffUser
	creds []webauthn.Credential
}

func (p passkeyUser) WebAuthnID() []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(p.u.ID))
}
func (p passkeyUser) WebAuthnName() string                       { return p.u.Email }
func (p passkeyUser) WebAuthnDisplayName() string                { return p.u.Email }
func (p passkeyUser) WebAuthnCredentials() []webauthn.Credential { return p.creds }

// loadPasskeyUser reads u's credentials, in db.
func loadPasskeyUser(db *gorm.DB, u StaffUser) (passkeyUser, error) {
	var raws []string
	if err := db.Raw(`SELECT credential::text FROM control.staff_passkeys WHERE user_id = ? ORDER BY id`, u.ID).Scan(&raws).Error; err != nil {
		return passkeyUser{}, fmt.Errorf("reading passkeys: %w", err)
	}
	p := passkeyUser{u: u}
	for _, raw := range raws {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(raw), &c); err != nil {
			return passkeyUser{}, fmt.Errorf("decoding a passkey: %w", err)
		}
		p.creds = append(p.creds, c)
	}
	return p, nil
}

// checkPasskeyName is a name the user gives a passkey ("YubiKey", "Work laptop").
func checkPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > 100 || !utf8.ValidString(name) || strings.ContainsAny(name, "\x00\r\n\t") {
		return "", fault.Newf(ErrInvalid, "name the passkey (1-100 characters on one line), such as \"Work laptop\"")
	}
	return name, nil
}

// BeginPasskeyRegistration starts registering a passkey named name for u,
// after confirm (password or a current code). It returns the options for
// navigator.credentials.create and the ceremony state to keep in the
// session until FinishPasskeyRegistration.
func (m *MFA) BeginPasskeyRegistration(ctx context.Context, u StaffUser, rp RelyingParty, name, confirm, ip string) (options, state []byte, err error) {
	if _, err := checkPasskeyName(name); err != nil {
		return nil, nil, err
	}
	if err := m.confirm(ctx, u, confirm, ip); err != nil {
		return nil, nil, err
	}
	w, err := rp.webauthn()
	if err != nil {
		return nil, nil, err
	}
	pu, err := loadPasskeyUser(m.svc.root(ctx), u)
	if err != nil {
		return nil, nil, err
	}
	creation, session, err := w.BeginRegistration(pu,
		webauthn.WithExclusions(webauthn.Credentials(pu.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationPreferred}))
	if err != nil {
		return nil, nil, fmt.Errorf("starting passkey registration: %w", err)
	}
	return marshalCeremony(creation, session)
}

// FinishPasskeyRegistration verifies the browser's answer (response, the
// JSON of the new credential) against the ceremony state and stores the
// passkey. It returns the recovery codes that come with a first factor.
func (m *MFA) FinishPasskeyRegistration(ctx context.Context, u StaffUser, rp RelyingParty, name string, state, response []byte) ([]string, error) {
	session, err := ceremonyState(state)
	if err != nil {
		return nil, err
	}
	if name, err = checkPasskeyName(name); err != nil {
		return nil, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, fault.Newf(ErrInvalid, "the browser's answer is not a passkey registration: %v", err)
	}
	w, err := rp.webauthn()
	if err != nil {
		return nil, err
	}
	var codes []string
	err = m.svc.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		pu, err := loadPasskeyUser(tx, u)
		if err != nil {
			return err
		}
		cred, err := w.CreateCredential(pu, session, parsed)
		if err != nil {
			return fault.Newf(ErrInvalid, "the passkey did not verify: %v", protocolReason(err))
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return fmt.Errorf("encoding passkey: %w", err)
		}
		res := tx.Exec(`INSERT INTO control.staff_passkeys (user_id, credential_id, name, credential) VALUES (?, ?, ?, ?::jsonb)
			ON CONFLICT (credential_id) DO NOTHING`, u.ID, cred.ID, name, string(raw))
		if res.Error != nil {
			return fmt.Errorf("storing passkey: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrConflict, "that passkey is registered already")
		}
		if codes, err = afterFactorAdded(tx, u.ID); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_passkey_added", u.Email, fmt.Sprintf("passkey %q added", name))
	})
	return codes, err
}

// RemovePasskey removes u's passkey id after confirm. A passkey that is not
// u's is not found, whatever the confirmation.
func (m *MFA) RemovePasskey(ctx context.Context, u StaffUser, id int64, confirm, ip string) error {
	var exists bool
	if err := m.svc.root(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM control.staff_passkeys WHERE id = ? AND user_id = ?)`, id, u.ID).Row().Scan(&exists); err != nil {
		return fmt.Errorf("looking up passkey: %w", err)
	}
	if !exists {
		return fault.Newf(ErrNotFound, "you have no such passkey")
	}
	if err := m.confirm(ctx, u, confirm, ip); err != nil {
		return err
	}
	return m.svc.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		var names []string
		if err := tx.Raw(`DELETE FROM control.staff_passkeys WHERE id = ? AND user_id = ? RETURNING name`, id, u.ID).Scan(&names).Error; err != nil {
			return fmt.Errorf("removing passkey: %w", err)
		}
		if len(names) == 0 {
			return fault.Newf(ErrNotFound, "you have no such passkey")
		}
		if err := m.afterFactorRemoved(tx, u); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_passkey_removed", u.Email, fmt.Sprintf("passkey %q removed", names[0]))
	})
}

// BeginPasskeyLogin starts the passkey step of u's sign-in: the options
// for navigator.credentials.get (u's passkeys only) and the ceremony state.
func (m *MFA) BeginPasskeyLogin(ctx context.Context, u StaffUser, rp RelyingParty) (options, state []byte, err error) {
	w, err := rp.webauthn()
	if err != nil {
		return nil, nil, err
	}
	pu, err := loadPasskeyUser(m.svc.root(ctx), u)
	if err != nil {
		return nil, nil, err
	}
	if len(pu.creds) == 0 {
		return nil, nil, fault.Newf(ErrInvalid, "you have no passkey; use a code")
	}
	assertion, session, err := w.BeginLogin(pu, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, nil, fmt.Errorf("starting passkey sign-in: %w", err)
	}
	return marshalCeremony(assertion, session)
}

// FinishPasskeyLogin verifies the browser's assertion (response) as u's
// second factor, updates the passkey's signature counter, and audits the
// outcome. A passkey that does not verify counts as a failed code.
func (m *MFA) FinishPasskeyLogin(ctx context.Context, u StaffUser, rp RelyingParty, state, response []byte, ip string) error {
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip})
	session, err := ceremonyState(state)
	if err != nil {
		return err
	}
	w, err := rp.webauthn()
	if err != nil {
		return err
	}
	parsed, parseErr := protocol.ParseCredentialRequestResponseBytes(response)
	err = m.svc.throttledAttempt(ctx, mfaKey(u.Email), ipKey(consoleSurface, ip), func(tx *gorm.DB) (bool, error) {
		fail := func(why string) (bool, error) {
			return false, audit.RecordPlatform(ctx, tx, "staff.mfa_failed", u.Email, "passkey refused: "+why)
		}
		if parseErr != nil {
			return fail("not a passkey answer")
		}
		pu, err := loadPasskeyUser(tx, u)
		if err != nil {
			return false, err
		}
		cred, err := w.ValidateLogin(pu, session, parsed)
		if err != nil {
			return fail(protocolReason(err))
		}
		if cred.Authenticator.CloneWarning {
			return fail("its signature counter went backwards (a cloned authenticator?)")
		}
		raw, err := json.Marshal(cred)
		if err != nil {
			return false, fmt.Errorf("encoding passkey: %w", err)
		}
		var names []string
		if err := tx.Raw(`UPDATE control.staff_passkeys SET credential = ?::jsonb, last_used_at = now() WHERE user_id = ? AND credential_id = ? RETURNING name`,
			string(raw), u.ID, cred.ID).Scan(&names).Error; err != nil {
			return false, fmt.Errorf("updating passkey: %w", err)
		}
		if len(names) == 0 {
			return fail("unknown passkey")
		}
		return true, audit.RecordPlatform(ctx, tx, "staff.mfa_login", u.Email, fmt.Sprintf("signed in with passkey %q", names[0]))
	})
	if errors.Is(err, ErrBadLogin) {
		return fmt.Errorf("%w", ErrBadFactor)
	}
	return err
}

// marshalCeremony encodes the options for the browser and the state the
// server keeps.
func marshalCeremony(options any, session *webauthn.SessionData) ([]byte, []byte, error) {
	o, err := json.Marshal(options)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding passkey options: %w", err)
	}
	s, err := json.Marshal(session)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding passkey ceremony: %w", err)
	}
	return o, s, nil
}

// ceremonyState decodes the state kept in the session; none (an expired or
// finished ceremony, or a second try) is the user's to restart.
func ceremonyState(state []byte) (webauthn.SessionData, error) {
	var s webauthn.SessionData
	if len(bytes.TrimSpace(state)) == 0 {
		return s, fault.Newf(ErrInvalid, "this passkey request has expired; start again")
	}
	if err := json.Unmarshal(state, &s); err != nil {
		return s, fmt.Errorf("decoding passkey ceremony: %w", err)
	}
	return s, nil
}

// protocolReason is the plain part of a go-webauthn error.
func protocolReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return err.Error()
}
