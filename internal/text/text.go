// Package text holds the one rule for free text coffer accepts: it must be
// storable unchanged by every store. PostgreSQL text columns refuse NUL
// bytes and invalid UTF-8, and JSON encoding would silently rewrite invalid
// UTF-8, so both are rejected at the edge, with a clear validation error,
// instead of failing (or changing) at commit.
package text

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problems a text can have.
var (
	ErrNotUTF8  = errors.New("is not valid UTF-8")
	ErrNUL      = errors.New("contains a NUL byte")
	ErrTooLong  = errors.New("is too long")
	ErrTooLarge = errors.New("is out of range")
)

// Check returns nil when s is valid UTF-8 without NUL bytes and has at most
// maxRunes characters (no limit when maxRunes <= 0).
func Check(s string, maxRunes int) error {
	// Fast path: plain ASCII without NUL (ids, keys, most reasons) is
	// checked in one pass, its length being its rune count.
	i := 0
	for i < len(s) && s[i] != 0 && s[i] < utf8.RuneSelf {
		i++
	}
	if i == len(s) {
		if maxRunes > 0 && len(s) > maxRunes {
			return fmt.Errorf("%w: more than %d characters", ErrTooLong, maxRunes)
		}
		return nil
	}
	if !utf8.ValidString(s) {
		return ErrNotUTF8
	}
	if strings.IndexByte(s, 0) >= 0 {
		return ErrNUL
	}
	if maxRunes > 0 && utf8.RuneCountInString(s) > maxRunes {
		return fmt.Errorf("%w: more than %d characters", ErrTooLong, maxRunes)
	}
	return nil
}

// CheckKey is Check for identifiers and idempotency keys, whose limit is in
// bytes (they are index keys).
func CheckKey(s string, maxBytes int) error {
	if len(s) > maxBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrTooLong, maxBytes)
	}
	return Check(s, 0)
}

// MaxQuoted is how many bytes of an input Quote echoes.
const MaxQuoted = 64

// Quote returns s quoted (as %q would) for an error message, cut to its
// first MaxQuoted bytes (at a character boundary) with "…" appended when it
// is longer: an error must not grow with the input it complains about (a
// 1 MiB metadata key would otherwise make a 1 MiB message).
func Quote(s string) string {
	if len(s) <= MaxQuoted {
		return strconv.Quote(s)
	}
	cut := MaxQuoted
	for cut > MaxQuoted-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strconv.Quote(s[:cut]) + "…"
}
