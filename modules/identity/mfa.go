package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
	"switchboard/platform/humane"
)

// MFA is the staff console's second factor: TOTP codes (RFC 6238), WebAuthn
// passkeys and one-time recovery codes, which roles must have one, and the
// checks at sign-in and when someone changes their own factors.
//
// A session of a user who has a factor counts as signed in only once it
// proved one (StaffSubject asks secondFactorPending); until then the user
// may only reach the second-factor step of sign-in. A user whose role
// requires a factor and who has none may only reach the enrolment page
// (Gate). Failed codes count like failed passwords (throttledAttempt), on a
// counter of their own, so that a right password does not reset them.
type MFA struct {
	svc      *Service
	required map[string]bool
	now      func() time.Time
	https    bool // the console is reached over HTTPS (passkey origins)
}

// MFAOptions configures NewMFA.
type MFAOptions struct {
	// RequiredRoles are the staff roles that must have a second factor
	// (config security.require_mfa).
	RequiredRoles []string
	// Now is the clock TOTP codes are checked against; nil is time.Now.
	Now func() time.Time
	// HTTPS says the console is reached over HTTPS even when the request
	// arrives over plain HTTP (behind a TLS-terminating proxy).
	HTTPS bool
}

// NewMFA returns the multi-factor service over svc.
func NewMFA(svc *Service, o MFAOptions) *MFA {
	m := &MFA{svc: svc, required: map[string]bool{}, now: o.Now, https: o.HTTPS}
	if m.now == nil {
		m.now = time.Now
	}
	for _, r := range o.RequiredRoles {
		m.required[r] = true
	}
	return m
}

// Errors of the second factor, mapped to answers by the handlers.
var (
	// ErrBadFactor is a wrong, replayed or used-up code, or a passkey
	// that did not verify.
	ErrBadFactor = fault.Kind(fault.Unauthorized, "that code or passkey was not accepted")
	// ErrBadConfirm is a wrong password or code given to confirm a change
	// of one's own factors.
	ErrBadConfirm = fault.Kind(fault.Unauthorized, "confirm with your password or a current code")
	// ErrFactorRequired refuses removing the last factor of a user whose
	// role requires one.
	ErrFactorRequired = fault.Kind(fault.Conflict, "your role requires a second factor")
)

// Session keys of the second factor.
const (
	mfaVerifiedKey = "mfa_verified" // the session proved a second factor (or enrolled one)
	mfaTOTPKey     = "mfa_totp"     // a TOTP secret being enrolled, until confirmed
	mfaCeremonyKey = "mfa_webauthn" // a passkey ceremony's challenge (JSON), until finished
	mfaNameKey     = "mfa_passkey"  // the name of the passkey being registered
)

// Required reports whether role must have a second factor.
func (m *MFA) Required(role string) bool { return m.required[role] }

// RequiredRoles lists the roles that must have a second factor.
func (m *MFA) RequiredRoles() []string {
	var out []string
	for r := range m.required {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Factors is what a staff user has set up.
type Factors struct {
	TOTP          bool
	TOTPSince     time.Time
	RecoveryLeft  int // unused recovery codes
	RecoveryTotal int
	Passkeys      []Passkey
}

// Any reports whether the user has a second factor (recovery codes alone
// are a way back in, not a factor).
func (f Factors) Any() bool { return f.TOTP || len(f.Passkeys) > 0 }

// Passkey is one registered WebAuthn credential, as the user sees it.
type Passkey struct {
	ID         int64      `gorm:"column:id"`
	Name       string     `gorm:"column:name"`
	CreatedAt  time.Time  `gorm:"column:created_at"`
	LastUsedAt *time.Time `gorm:"column:last_used_at"`
}

// Factors returns the user's second factors.
func (m *MFA) Factors(ctx context.Context, userID int64) (Factors, error) {
	return factorsOf(m.svc.root(ctx), userID)
}

func factorsOf(db *gorm.DB, userID int64) (Factors, error) {
	var f Factors
	var since []time.Time
	if err := db.Raw(`SELECT created_at FROM control.staff_totp WHERE user_id = ?`, userID).Scan(&since).Error; err != nil {
		return f, fmt.Errorf("reading TOTP: %w", err)
	}
	if len(since) > 0 {
		f.TOTP, f.TOTPSince = true, since[0]
	}
	if err := db.Raw(`SELECT count(*) FILTER (WHERE used_at IS NULL), count(*) FROM control.staff_recovery_codes WHERE user_id = ?`, userID).
		Row().Scan(&f.RecoveryLeft, &f.RecoveryTotal); err != nil {
		return f, fmt.Errorf("counting recovery codes: %w", err)
	}
	if err := db.Raw(`SELECT id, name, created_at, last_used_at FROM control.staff_passkeys WHERE user_id = ? ORDER BY id`, userID).
		Scan(&f.Passkeys).Error; err != nil {
		return f, fmt.Errorf("listing passkeys: %w", err)
	}
	return f, nil
}

// hasSecondFactor reports whether the user has TOTP or a passkey.
func (s *Service) hasSecondFactor(ctx context.Context, userID int64) (bool, error) {
	var has bool
	err := s.root(ctx).Raw(`SELECT EXISTS (SELECT 1 FROM control.staff_totp WHERE user_id = ?)
		OR EXISTS (SELECT 1 FROM control.staff_passkeys WHERE user_id = ?)`, userID, userID).Row().Scan(&has)
	if err != nil {
		return false, fmt.Errorf("looking up second factors: %w", err)
	}
	return has, nil
}

// mfaKey is the throttle's counter of a user's failed second factors and
// confirmations, apart from their password's (accountKey), so that signing
// in with the right password again does not clear it.
func mfaKey(email string) string { return "mfa:" + email }

// VerifyCode checks a TOTP code or a recovery code as the second factor of
// a sign-in. A TOTP code is accepted once: a code of a time step already
// used (or an earlier one) is refused, and so is a used recovery code.
// Failures count against the user and the address (429 once blocked), and
// success and failure are both audited. It answers the method used.
func (m *MFA) VerifyCode(ctx context.Context, u StaffUser, code, ip string) (string, error) {
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip})
	var method string
	err := m.svc.throttledAttempt(ctx, mfaKey(u.Email), ipKey(consoleSurface, ip), func(tx *gorm.DB) (bool, error) {
		var err error
		method, err = m.checkCode(tx, u.ID, code)
		if errors.Is(err, ErrBadFactor) {
			return false, audit.RecordPlatform(ctx, tx, "staff.mfa_failed", u.Email, "second factor refused ("+method+")")
		}
		if err != nil {
			return false, err
		}
		return true, audit.RecordPlatform(ctx, tx, "staff.mfa_login", u.Email, "signed in with "+method)
	})
	if errors.Is(err, ErrBadLogin) {
		return method, fmt.Errorf("%w", ErrBadFactor)
	}
	return method, err
}

// checkCode consumes code if it is the user's current TOTP code or one of
// their unused recovery codes, in tx. It answers the kind of code it took
// code for, and ErrBadFactor when it was not accepted.
func (m *MFA) checkCode(tx *gorm.DB, userID int64, code string) (string, error) {
	c := normalizeCode(code)
	switch {
	case totpShape.MatchString(c):
		return "TOTP", m.useTOTP(tx, userID, c)
	case recoveryShape.MatchString(c):
		return "recovery code", useRecoveryCode(tx, userID, c)
	default:
		return "malformed code", fmt.Errorf("%w", ErrBadFactor)
	}
}

// normalizeCode drops what people type around a code: spaces, dashes, case.
func normalizeCode(code string) string {
	if len(code) > 64 {
		return ""
	}
	return strings.ToLower(strings.NewReplacer(" ", "", "-", "", "\t", "").Replace(strings.TrimSpace(code)))
}

// confirm checks that the person changing u's factors is u: their password
// or a current code (TOTP or recovery, consumed like at sign-in). Failures
// count on the second-factor throttle and are audited.
func (m *MFA) confirm(ctx context.Context, u StaffUser, secret, ip string) error {
	ctx = audit.WithOrigin(ctx, audit.Origin{Actor: u.Email, ClientIP: ip})
	secret = strings.TrimSpace(secret)
	if secret == "" {
		return fault.Newf(ErrInvalid, "confirm the change with your password or a current code")
	}
	err := m.svc.throttledAttempt(ctx, mfaKey(u.Email), ipKey(consoleSurface, ip), func(tx *gorm.DB) (bool, error) {
		var hash string
		if err := tx.Raw(`SELECT password_hash FROM control.staff_users WHERE id = ?`, u.ID).Row().Scan(&hash); err != nil {
			return false, fmt.Errorf("reading password: %w", err)
		}
		ok := VerifyPassword(hash, secret)
		if c := normalizeCode(secret); !ok && (totpShape.MatchString(c) || recoveryShape.MatchString(c)) {
			_, err := m.checkCode(tx, u.ID, c)
			if err != nil && !errors.Is(err, ErrBadFactor) {
				return false, err
			}
			ok = err == nil
		}
		if !ok {
			return false, audit.RecordPlatform(ctx, tx, "staff.mfa_confirm_failed", u.Email, "a change of second factors was not confirmed")
		}
		return true, nil
	})
	if errors.Is(err, ErrBadLogin) {
		return fmt.Errorf("%w", ErrBadConfirm)
	}
	return err
}

// Recovery codes: 10 per set, 80 random bits each, shown as four groups of
// four base32 characters. Only their SHA-256 is stored: a code carries too
// much entropy to be found from its hash by guessing, so a slow password
// hash (argon2id) would only cost every sign-in ten times its memory.
const (
	recoveryCodes    = 10
	recoveryAlphabet = "abcdefghijklmnopqrstuvwxyz234567"
)

// newRecoveryCodes returns n fresh codes as shown to the user.
func newRecoveryCodes(n int) []string {
	codes := make([]string, n)
	for i := range codes {
		b := make([]byte, 16)
		_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
		var sb strings.Builder
		for j, x := range b {
			if j > 0 && j%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(recoveryAlphabet[x&31])
		}
		codes[i] = sb.String()
	}
	return codes
}

func recoveryHash(normalized string) []byte {
	h := sha256.Sum256([]byte(normalized))
	return h[:]
}

// replaceRecoveryCodes deletes the user's codes and stores a new set, in tx.
func replaceRecoveryCodes(tx *gorm.DB, userID int64) ([]string, error) {
	if err := tx.Exec(`DELETE FROM control.staff_recovery_codes WHERE user_id = ?`, userID).Error; err != nil {
		return nil, fmt.Errorf("removing recovery codes: %w", err)
	}
	codes := newRecoveryCodes(recoveryCodes)
	for _, c := range codes {
		if err := tx.Exec(`INSERT INTO control.staff_recovery_codes (user_id, code_hash) VALUES (?, ?)`,
			userID, recoveryHash(normalizeCode(c))).Error; err != nil {
			return nil, fmt.Errorf("storing recovery codes: %w", err)
		}
	}
	return codes, nil
}

// useRecoveryCode marks the user's unused code as used, or answers
// ErrBadFactor.
func useRecoveryCode(tx *gorm.DB, userID int64, normalized string) error {
	res := tx.Exec(`UPDATE control.staff_recovery_codes SET used_at = now() WHERE user_id = ? AND code_hash = ? AND used_at IS NULL`,
		userID, recoveryHash(normalized))
	if res.Error != nil {
		return fmt.Errorf("using recovery code: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return fmt.Errorf("%w", ErrBadFactor)
	}
	return nil
}

// RenewRecoveryCodes replaces the user's recovery codes with 10 new ones,
// returned to be shown once, after confirm. Only someone with a factor has
// recovery codes.
func (m *MFA) RenewRecoveryCodes(ctx context.Context, u StaffUser, confirm, ip string) ([]string, error) {
	if err := m.confirm(ctx, u, confirm, ip); err != nil {
		return nil, err
	}
	var codes []string
	err := m.svc.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		f, err := factorsOf(tx, u.ID)
		if err != nil {
			return err
		}
		if !f.Any() {
			return fault.Newf(ErrInvalid, "add a second factor first; recovery codes come with it")
		}
		if codes, err = replaceRecoveryCodes(tx, u.ID); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_recovery_renewed", u.Email, fmt.Sprintf("%d new recovery codes; the old ones no longer work", len(codes)))
	})
	return codes, err
}

// afterFactorAdded gives the user recovery codes with their first factor
// (returned to be shown once; nil when they already have unused ones).
func afterFactorAdded(tx *gorm.DB, userID int64) ([]string, error) {
	var left int
	if err := tx.Raw(`SELECT count(*) FROM control.staff_recovery_codes WHERE user_id = ? AND used_at IS NULL`, userID).Row().Scan(&left); err != nil {
		return nil, fmt.Errorf("counting recovery codes: %w", err)
	}
	if left > 0 {
		return nil, nil
	}
	return replaceRecoveryCodes(tx, userID)
}

// afterFactorRemoved refuses removing the last factor of a user whose role
// requires one, and drops the recovery codes with the last factor.
func (m *MFA) afterFactorRemoved(tx *gorm.DB, u StaffUser) error {
	f, err := factorsOf(tx, u.ID)
	if err != nil {
		return err
	}
	if f.Any() {
		return nil
	}
	if m.Required(u.Role) {
		return fault.Newf(ErrFactorRequired, "your role (%s) requires a second factor: add another one before removing this one", u.Role)
	}
	if err := tx.Exec(`DELETE FROM control.staff_recovery_codes WHERE user_id = ?`, u.ID).Error; err != nil {
		return fmt.Errorf("removing recovery codes: %w", err)
	}
	return nil
}

// lockUser serialises changes of one user's factors.
func lockUser(tx *gorm.DB, userID int64) error {
	if err := tx.Exec(`SELECT id FROM control.staff_users WHERE id = ? FOR UPDATE`, userID).Error; err != nil {
		return fmt.Errorf("locking staff user: %w", err)
	}
	return nil
}

// ResetMFA removes every second factor and recovery code of the staff user
// with email and ends their sessions, for an owner to let a colleague who
// lost their factors back in (they enrol again at their next sign-in). It
// answers what was removed.
func (s *Service) ResetMFA(ctx context.Context, email string) (Factors, error) {
	u, err := s.StaffByEmail(ctx, email)
	if err != nil {
		return Factors{}, err
	}
	var before Factors
	err = s.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		if before, err = factorsOf(tx, u.ID); err != nil {
			return err
		}
		for _, table := range []string{"staff_totp", "staff_passkeys", "staff_recovery_codes"} {
			if err := tx.Exec(`DELETE FROM control.`+table+` WHERE user_id = ?`, u.ID).Error; err != nil {
				return fmt.Errorf("removing %s: %w", table, err)
			}
		}
		if err := endSessions(tx, u); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_reset", u.Email, fmt.Sprintf("removed: authenticator app %s, %s, %s; sessions ended",
			map[bool]string{true: "yes", false: "no"}[before.TOTP], humane.Plural(len(before.Passkeys), "passkey", "passkeys"),
			humane.Plural(before.RecoveryTotal, "recovery code", "recovery codes")))
	})
	return before, err
}
