// Package apikey holds the API keys of the coffer HTTP service: the record
// a store keeps, how a secret is made, recognised and hashed.
//
// A secret is "sk_test_" (or "sk_live_" for a live-mode key) followed by 32
// random bytes in base64url without padding (43 characters): 51 characters
// in all. Only its SHA-256 hash is stored. A fast hash is the right one
// here, unlike for passwords: a secret carries 256 bits of entropy from
// crypto/rand, so there is no dictionary to try and a brute force of the
// hash is as hopeless as one of the secret itself; a slow hash (bcrypt,
// argon2) would only make every authenticated request slower. The hash is
// also what the store indexes, so a request finds its key with one unique
// lookup.
//
// The first PrefixLen characters of the secret ("sk_test_AbCd") are kept in
// the clear as Key.Prefix, so that an operator can tell keys apart in a
// list; they carry 4 random characters (24 bits) of the secret's 256.
package apikey

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cofferhq/coffer/internal/text"
)

// Secret formats.
const (
	// TestPrefix starts the secret of a test-mode key.
	TestPrefix = "sk_test_"
	// LivePrefix starts the secret of a live-mode key.
	LivePrefix = "sk_live_"
	// SecretBytes is how many random bytes a secret carries.
	SecretBytes = 32
	// SecretLen is the length of a secret: a prefix and SecretBytes in
	// base64url without padding.
	SecretLen = len(TestPrefix) + (SecretBytes*8+5)/6
	// PrefixLen is how many leading characters of the secret a Key keeps
	// in the clear (Key.Prefix).
	PrefixLen = 12
	// MaxNameLen bounds a key's name, in characters.
	MaxNameLen = 100
)

// Errors of the package.
var (
	// ErrInvalid: a key's parameters break a rule.
	ErrInvalid = errors.New("apikey: invalid")
	// ErrInvalidName: the name is not valid text of at most MaxNameLen
	// characters.
	ErrInvalidName = fmt.Errorf("%w: name must be valid text of at most %d characters", ErrInvalid, MaxNameLen)
	// ErrMalformedSecret: a string that is not a secret of this package's
	// format (see ValidSecret).
	ErrMalformedSecret = fmt.Errorf("%w: malformed secret: want sk_test_ or sk_live_ and 43 base64url characters", ErrInvalid)
	// ErrNotFound: no key has the id.
	ErrNotFound = errors.New("apikey: not found")
	// ErrRevoked: the key was revoked; it authenticates nothing and cannot
	// be brought back.
	ErrRevoked = errors.New("apikey: revoked")
)

// Key is one API key. The secret itself is never stored: Hash is its
// SHA-256, kept out of every JSON encoding.
type Key struct {
	// ID is "key_" and 32 hex digits.
	ID   string `json:"id"`
	Name string `json:"name"`
	// Prefix is the first PrefixLen characters of the secret, shown in
	// lists so an operator recognises a key.
	Prefix string `json:"prefix"`
	// CustomerID, when not empty, restricts the key to that customer's
	// records (the HTTP layer answers 403 for any other).
	CustomerID string `json:"customer_id,omitempty"`
	// Livemode: the secret starts with LivePrefix.
	Livemode  bool      `json:"livemode"`
	CreatedAt time.Time `json:"created_at"`
	// RevokedAt is when the key was revoked; zero while it is active.
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// Hash is the SHA-256 of the secret. Stores keep it (it is unique);
	// JSON never carries it.
	Hash []byte `json:"-"`
}

// Active reports whether the key is not revoked.
func (k Key) Active() bool { return k.RevokedAt.IsZero() }

// Restricted reports whether the key is limited to one customer.
func (k Key) Restricted() bool { return k.CustomerID != "" }

// Matches reports whether secret is the key's secret, comparing the hashes
// in constant time.
func (k Key) Matches(secret string) bool {
	h := Hash(secret)
	return len(k.Hash) == len(h) && subtle.ConstantTimeCompare(k.Hash, h) == 1
}

// NewSecret returns a fresh secret: TestPrefix (LivePrefix when livemode)
// and SecretBytes from crypto/rand in base64url without padding.
func NewSecret(livemode bool) string {
	var b [SecretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	p := TestPrefix
	if livemode {
		p = LivePrefix
	}
	return p + base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash returns the SHA-256 of a secret: what a store keeps and indexes.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// ValidSecret reports whether s has the format of a secret: TestPrefix or
// LivePrefix followed by exactly the base64url (no padding) encoding of
// SecretBytes bytes. It says nothing about whether a key has it.
func ValidSecret(s string) bool {
	if len(s) != SecretLen {
		return false
	}
	rest, ok := strings.CutPrefix(s, TestPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(s, LivePrefix); !ok {
			return false
		}
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	return err == nil && len(b) == SecretBytes
}

// IsLive reports whether s is a live-mode secret (it starts with
// LivePrefix).
func IsLive(s string) bool { return strings.HasPrefix(s, LivePrefix) }

// CheckName refuses a name that is not valid text (UTF-8, no NUL byte) of
// at most MaxNameLen characters. An empty name is allowed.
func CheckName(name string) error {
	if err := text.Check(name, MaxNameLen); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidName, err)
	}
	return nil
}

// New returns the key of secret, created at now: secret must be
// ValidSecret (ErrMalformedSecret) and name pass CheckName. Livemode
// follows the secret's prefix. The name is trimmed of surrounding space.
func New(id, name, secret, customerID string, now time.Time) (Key, error) {
	if !ValidSecret(secret) {
		return Key{}, ErrMalformedSecret
	}
	name = strings.TrimSpace(name)
	if err := CheckName(name); err != nil {
		return Key{}, err
	}
	return Key{
		ID:         id,
		Name:       name,
		Prefix:     secret[:PrefixLen],
		CustomerID: customerID,
		Livemode:   IsLive(secret),
		CreatedAt:  now.UTC(),
		Hash:       Hash(secret),
	}, nil
}
