package agents

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"strconv"
	"strings"
)

// Prefixes mark Switchboard secrets so that secret scanners can find leaked ones.
const (
	tokenPrefix      = "sbe_" // enrollment token: sbe_<tenant id>_<secret>
	credentialPrefix = "sbc_" // endpoint credential: sbc_<tenant id>_<endpoint id>_<secret>
	secretLen        = 32     // base32 characters of a 160-bit secret
)

// The tenant (and endpoint) id travel in the clear inside tokens and
// credentials: an agent presents nothing else, and this lets the server
// find the right schema without a global lookup table. Ids are not secret
// (they name schemas); the 160-bit secret is what authenticates, and only
// its SHA-256 is stored, in the tenant's own schema.

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns 160 random bits as lower-case base32.
func newSecret() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating secret: %w", err)
	}
	return strings.ToLower(b32.EncodeToString(b)), nil
}

// hashSecret is what is stored. The secrets have 160 random bits, so a fast
// hash is enough: there is nothing to brute-force.
func hashSecret(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}

func formatToken(tenantID int64, secret string) string {
	return tokenPrefix + strconv.FormatInt(tenantID, 10) + "_" + secret
}

func formatCredential(tenantID, endpointID int64, secret string) string {
	return credentialPrefix + strconv.FormatInt(tenantID, 10) + "_" + strconv.FormatInt(endpointID, 10) + "_" + secret
}

// parseToken splits an enrollment token into its tenant id and secret.
func parseToken(tok string) (tenantID int64, secret string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(tok), tokenPrefix)
	if !found {
		return 0, "", false
	}
	id, secret, found := strings.Cut(rest, "_")
	if !found {
		return 0, "", false
	}
	tenantID, ok = parseID(id)
	return tenantID, secret, ok && validSecret(secret)
}

// parseCredential splits an endpoint credential into its ids and secret.
func parseCredential(cred string) (tenantID, endpointID int64, secret string, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(cred), credentialPrefix)
	if !found {
		return 0, 0, "", false
	}
	parts := strings.Split(rest, "_")
	if len(parts) != 3 {
		return 0, 0, "", false
	}
	tenantID, ok1 := parseID(parts[0])
	endpointID, ok2 := parseID(parts[1])
	return tenantID, endpointID, parts[2], ok1 && ok2 && validSecret(parts[2])
}

// parseID accepts only the canonical decimal form of a positive id.
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

func validSecret(s string) bool {
	if len(s) != secretLen {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '2' || r > '7') {
			return false
		}
	}
	return true
}

// displayPrefix is the part of a token shown in lists, enough to tell tokens apart.
func displayPrefix(tok string) string {
	i := strings.LastIndexByte(tok, '_')
	return tok[:i+1+6]
}
