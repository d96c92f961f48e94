package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"fmt"
	"html/template"
	"regexp"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	qrcode "github.com/yeqown/go-qrcode/v2"
	"gorm.io/gorm"

	"switchboard/modules/audit"
	"switchboard/platform/fault"
)

// TOTP parameters: the defaults every authenticator app understands
// (SHA-1, 6 digits, 30 seconds), a 160-bit secret, and one step of clock
// skew either way.
const (
	totpPeriod = 30
	totpSkew   = 1
	totpIssuer = "Switchboard"
)

var (
	totpShape     = regexp.MustCompile(`^[0-9]{6}$`)
	recoveryShape = regexp.MustCompile(`^[a-z2-7]{16}$`)
	secretShape   = regexp.MustCompile(`^[A-Z2-7]{32}$`)
	totpOpts      = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}
)

// TOTPEnrolment is a new secret on offer, before the user confirmed it.
type TOTPEnrolment struct {
	Secret string        // base32, for typing into an app
	URI    string        // otpauth:// URI, what the QR code holds
	QR     template.HTML // the URI as an inline SVG QR code
}

// NewTOTP makes a secret for u to enrol (nothing is stored until
// EnrolTOTP).
func (m *MFA) NewTOTP(u StaffUser) (TOTPEnrolment, error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Email, Period: totpPeriod,
		SecretSize: 20, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("making a TOTP secret: %w", err)
	}
	return m.TOTPOffer(u, key.Secret())
}

// TOTPOffer is the enrolment page's view of secret (kept in the session
// between showing the QR code and the user's confirmation).
func (m *MFA) TOTPOffer(u StaffUser, secret string) (TOTPEnrolment, error) {
	if !secretShape.MatchString(secret) {
		return TOTPEnrolment{}, fault.Newf(ErrInvalid, "that TOTP secret is malformed")
	}
	raw, err := base32.StdEncoding.DecodeString(secret)
	if err != nil {
		return TOTPEnrolment{}, fault.Newf(ErrInvalid, "that TOTP secret is malformed")
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Email, Period: totpPeriod,
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPEnrolment{}, fmt.Errorf("building the otpauth URI: %w", err)
	}
	svg, err := qrSVG(key.URL())
	if err != nil {
		return TOTPEnrolment{}, err
	}
	return TOTPEnrolment{Secret: secret, URI: key.URL(), QR: svg}, nil
}

// EnrolTOTP stores secret as u's TOTP factor once code proves the app
// holds it and confirm (password or a current code) proves it is u. It
// returns the recovery codes that come with a first factor (shown once).
func (m *MFA) EnrolTOTP(ctx context.Context, u StaffUser, secret, code, confirm, ip string) ([]string, error) {
	if !secretShape.MatchString(secret) {
		return nil, fault.Newf(ErrInvalid, "the secret on offer has expired; reload the page and scan the new code")
	}
	c := normalizeCode(code)
	step, ok := matchTOTP(secret, c, m.now(), 0)
	if !totpShape.MatchString(c) || !ok {
		return nil, fault.Newf(ErrInvalid, "that code does not match the new secret; check the app's clock and try the current code")
	}
	if err := m.confirm(ctx, u, confirm, ip); err != nil {
		return nil, err
	}
	stored, err := m.sealTOTP(u.ID, secret)
	if err != nil {
		return nil, err
	}
	var codes []string
	err = m.svc.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		res := tx.Exec(`INSERT INTO control.staff_totp (user_id, secret, last_step) VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING`, u.ID, stored, step)
		if res.Error != nil {
			return fmt.Errorf("storing TOTP secret: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrConflict, "you already have an authenticator app; remove it first to replace it")
		}
		var err error
		if codes, err = afterFactorAdded(tx, u.ID); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_totp_added", u.Email, "authenticator app added")
	})
	return codes, err
}

// RemoveTOTP removes u's TOTP factor after confirm.
func (m *MFA) RemoveTOTP(ctx context.Context, u StaffUser, confirm, ip string) error {
	if f, err := m.Factors(ctx, u.ID); err != nil {
		return err
	} else if !f.TOTP {
		return fault.Newf(ErrConflict, "you have no authenticator app to remove")
	}
	if err := m.confirm(ctx, u, confirm, ip); err != nil {
		return err
	}
	return m.svc.root(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockUser(tx, u.ID); err != nil {
			return err
		}
		res := tx.Exec(`DELETE FROM control.staff_totp WHERE user_id = ?`, u.ID)
		if res.Error != nil {
			return fmt.Errorf("removing TOTP: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fault.Newf(ErrConflict, "you have no authenticator app to remove")
		}
		if err := m.afterFactorRemoved(tx, u); err != nil {
			return err
		}
		return audit.RecordPlatform(ctx, tx, "staff.mfa_totp_removed", u.Email, "authenticator app removed")
	})
}

// useTOTP accepts code if it is the user's code of a time step within the
// skew of now and later than the last step accepted, and records that step
// (the row is locked, so two requests cannot both use one code).
func (m *MFA) useTOTP(tx *gorm.DB, userID int64, code string) error {
	var row struct {
		Secret   string
		LastStep int64
	}
	err := tx.Raw(`SELECT secret, last_step FROM control.staff_totp WHERE user_id = ? FOR UPDATE`, userID).Scan(&row).Error
	if err != nil {
		return fmt.Errorf("reading TOTP: %w", err)
	}
	if row.Secret == "" {
		return fmt.Errorf("%w", ErrBadFactor)
	}
	secret, err := m.openTOTP(userID, row.Secret)
	if err != nil {
		return err
	}
	step, ok := matchTOTP(secret, code, m.now(), row.LastStep)
	if !ok {
		return fmt.Errorf("%w", ErrBadFactor)
	}
	if err := tx.Exec(`UPDATE control.staff_totp SET last_step = ? WHERE user_id = ?`, step, userID).Error; err != nil {
		return fmt.Errorf("recording TOTP step: %w", err)
	}
	return nil
}

// matchTOTP finds the time step within the skew of now whose code is code,
// considering only steps after lastStep; every candidate is compared, in
// constant time, so the answer's timing says nothing about which matched.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	current := now.Unix() / totpPeriod
	var found int64
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep && found == 0 {
			found = s
		}
	}
	return found, found != 0
}

// TOTP secrets at rest: with a key configured (sso.secret_key, the
// platform's one encryption key) "v1:" + base64(nonce ‖ AES-256-GCM
// ciphertext) with the user's id as additional data, so a secret copied to
// another user's row does not open; without one, the base32 secret as it is.
// A secret stored before the key was set stays readable.
func totpAD(userID int64) []byte {
	return []byte(fmt.Sprintf("switchboard staff totp secret, user %d", userID))
}

func (m *MFA) sealTOTP(userID int64, secret string) (string, error) {
	if !m.svc.SSOSecretsEncrypted() {
		return secret, nil
	}
	aead, err := m.svc.secretAEAD()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("encrypting the TOTP secret: %w", err)
	}
	return sealedPrefix + base64.StdEncoding.EncodeToString(aead.Seal(nonce, nonce, []byte(secret), totpAD(userID))), nil
}

func (m *MFA) openTOTP(userID int64, stored string) (string, error) {
	b64, sealed := strings.CutPrefix(stored, sealedPrefix)
	if !sealed {
		return stored, nil
	}
	if !m.svc.SSOSecretsEncrypted() {
		return "", fault.New(fault.Unavailable, "authenticator apps were enrolled with sso.secret_key, which is not configured now; sign in with a passkey or a recovery code")
	}
	aead, err := m.svc.secretAEAD()
	if err != nil {
		return "", err
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) < aead.NonceSize() {
		return "", fmt.Errorf("decrypting the TOTP secret of user %d: malformed", userID)
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], totpAD(userID))
	if err != nil {
		return "", fault.New(fault.Unavailable, "the authenticator app's secret cannot be decrypted with sso.secret_key (was the key changed?); sign in with a passkey or a recovery code")
	}
	return string(plain), nil
}

// qrSVG draws text as a QR code in SVG: one path of unit squares on a
// white square with the four-module quiet zone the standard asks for.
func qrSVG(text string) (template.HTML, error) {
	qr, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return "", fmt.Errorf("encoding the QR code: %w", err)
	}
	w := &svgWriter{}
	if err := qr.Save(w); err != nil {
		return "", fmt.Errorf("drawing the QR code: %w", err)
	}
	return template.HTML(w.svg), nil // built here from numbers only
}

// svgWriter is a qrcode.Writer that keeps the matrix as SVG.
type svgWriter struct{ svg string }

func (w *svgWriter) Write(mat qrcode.Matrix) error {
	const quiet = 4
	bits := mat.Bitmap()
	size := len(bits) + 2*quiet
	var path strings.Builder
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	w.svg = fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="QR code of the authenticator secret" shape-rendering="crispEdges">`+
		`<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, size*5, size*5, size, size, path.String())
	return nil
}

func (w *svgWriter) Close() error { return nil }
