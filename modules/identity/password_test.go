package identity

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// verify runs VerifyPassword and turns a panic into a test failure value,
// so that one bad input does not take the whole package's tests down.
func verify(hash, password string) (ok bool, panicked any) {
	defer func() { panicked = recover() }()
	return VerifyPassword(hash, password), nil
}

func TestHashPasswordRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$", argon2.Version, argonMemory, argonTime, argonThreads)
	if !strings.HasPrefix(h1, wantPrefix) {
		t.Fatalf("hash %q does not start with %q", h1, wantPrefix)
	}
	if strings.Contains(h1, pw) {
		t.Fatal("the hash contains the password")
	}
	if h1 == h2 {
		t.Fatal("two hashes of the same password are equal: no per-hash salt")
	}
	if s1, s2 := strings.Split(h1, "$")[4], strings.Split(h2, "$")[4]; s1 == s2 {
		t.Fatalf("same salt %q in two hashes", s1)
	}
	for _, h := range []string{h1, h2} {
		if !VerifyPassword(h, pw) {
			t.Fatalf("the right password does not verify against %q", h)
		}
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " "} {
		if VerifyPassword(h1, wrong) {
			t.Fatalf("wrong password %q verifies", wrong)
		}
	}
}

// TestVerifyPasswordHonoursStoredParameters: a hash made with other argon2id
// parameters than today's still verifies (so parameters can be raised later
// without locking everybody out).
func TestVerifyPasswordHonoursStoredParameters(t *testing.T) {
	const pw = "an older hash, weaker parameters"
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		t.Fatal(err)
	}
	const m, tm, p = 8 * 1024, 1, 2
	key := argon2.IDKey([]byte(pw), salt, tm, m, p, 24)
	b64 := base64.RawStdEncoding
	h := fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, m, tm, p, b64.EncodeToString(salt), b64.EncodeToString(key))
	if !VerifyPassword(h, pw) {
		t.Fatal("a hash with other stored parameters does not verify")
	}
	if VerifyPassword(h, pw+"!") {
		t.Fatal("wrong password verifies against a hash with other parameters")
	}
}

// TestVerifyPasswordRejectsTamperedHashes: every case uses the right
// password, so only the tampering can make it fail; none may panic.
func TestVerifyPasswordRejectsTamperedHashes(t *testing.T) {
	const pw = "tamper-proof password"
	good, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "$") // "", "argon2id", "v=19", "m=…,t=…,p=…", salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	flip := func(s string) string { // change the first base64 character
		c := byte('A')
		if s[0] == 'A' {
			c = 'B'
		}
		return string(c) + s[1:]
	}
	params := func(m, tm, p string) string { return with(3, fmt.Sprintf("m=%s,t=%s,p=%s", m, tm, p)) }
	mem, tm, thr := fmt.Sprint(argonMemory), fmt.Sprint(argonTime), fmt.Sprint(argonThreads)
	cases := []struct{ name, hash string }{
		{"key changed", with(5, flip(parts[5]))},
		{"salt changed", with(4, flip(parts[4]))},
		{"key truncated", with(5, parts[5][:len(parts[5])-4])},
		{"memory changed", params(fmt.Sprint(argonMemory+1), tm, thr)},
		{"passes changed", params(mem, fmt.Sprint(argonTime+1), thr)},
		{"argon2i", with(1, "argon2i")},
		{"argon2d", with(1, "argon2d")},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"plain text", pw},
		{"empty", ""},
		{"too few fields", strings.Join(parts[:5], "$")},
		{"too many fields", good + "$x"},
		{"other version", with(2, "v=16")},
		{"no version", with(2, "x")},
		{"memory above the cap", params(fmt.Sprint(1<<20+1), tm, thr)},
		{"memory overflowing uint32", params("4294967296", tm, thr)},
		{"memory negative", params("-1", tm, thr)},
		{"passes above the cap", params(mem, "11", thr)},
		{"passes huge", params(mem, "4294967295", thr)},
		{"zero passes", params(mem, "0", thr)},
		{"zero lanes", params(mem, tm, "0")},
		{"lanes overflowing uint8", params(mem, tm, "256")},
		{"garbage parameters", with(3, "m=a,t=b,p=c")},
		{"empty key", with(5, "")},
		{"key not base64", with(5, "!!!!")},
		{"salt not base64", with(4, "!!!!")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, panicked := verify(tc.hash, pw)
			if panicked != nil {
				t.Fatalf("VerifyPassword panicked on %q: %v", tc.hash, panicked)
			}
			if ok {
				t.Fatalf("tampered hash %q verifies", tc.hash)
			}
		})
	}
}

func TestGeneratePassword(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		p, err := GeneratePassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 24 {
			t.Fatalf("generated password %q has %d characters, want 24", p, len(p))
		}
		if strings.Trim(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("generated password %q has characters outside base64url", p)
		}
		if err := checkPassword(p); err != nil {
			t.Fatalf("generated password %q fails the rules: %v", p, err)
		}
		if seen[p] {
			t.Fatalf("generated password %q twice", p)
		}
		seen[p] = true
	}
}

func TestCheckPassword(t *testing.T) {
	cases := []struct {
		name string
		pw   string
		ok   bool
	}{
		{"empty", "", false},
		{"one short", strings.Repeat("a", MinPasswordLen-1), false},
		{"minimum", strings.Repeat("a", MinPasswordLen), true},
		{"maximum", strings.Repeat("a", MaxPasswordLen), true},
		{"one too long", strings.Repeat("a", MaxPasswordLen+1), false},
		// The minimum counts characters, not bytes: 11 two-byte letters are too few…
		{"multi-byte one short", strings.Repeat("é", MinPasswordLen-1), false},
		// …and 12 are enough.
		{"multi-byte minimum", strings.Repeat("é", MinPasswordLen), true},
		// The maximum bounds the bytes hashed.
		{"multi-byte over the byte maximum", strings.Repeat("é", MaxPasswordLen/2+1), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPassword(tc.pw)
			if tc.ok && err != nil {
				t.Fatalf("want accepted, got %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
		})
	}
}

func TestNormalizeEmail(t *testing.T) {
	long := strings.Repeat("a", 254-len("@example.com")) + "@example.com"
	cases := []struct {
		in, want string // want "" means rejected
	}{
		{"alice@example.com", "alice@example.com"},
		{"Alice.Smith@Example.COM", "alice.smith@example.com"},
		{"  bob@example.org \n", "bob@example.org"},
		{"first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"},
		{long, long},
		{"a" + long, ""},
		{"", ""},
		{"alice", ""},
		{"alice@", ""},
		{"@example.com", ""},
		{"alice@localhost", ""},
		{"alice@example", ""},
		{"Alice <alice@example.com>", ""},
		{"<alice@example.com>", ""},
		{"alice@example.com, bob@example.com", ""},
		{"alice@@example.com", ""},
		{"al ice@example.com", ""},
		{"alice@example.com\r\nBcc: x@example.com", ""},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%.40q", tc.in), func(t *testing.T) {
			got, err := NormalizeEmail(tc.in)
			if tc.want == "" {
				if !errors.Is(err, ErrInvalid) || got != "" {
					t.Fatalf("want ErrInvalid, got %q, %v", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
