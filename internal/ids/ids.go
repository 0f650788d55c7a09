// Package ids makes the record ids of coffer: a prefix naming the record
// type, an underscore and 32 random hex digits ("pay_3f2a...").
package ids

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// New returns prefix_ followed by 32 random hex digits.
func New(prefix string) string {
	u := uuid.New()
	var b [64]byte
	n := copy(b[:], prefix)
	b[n] = '_'
	hex.Encode(b[n+1:], u[:])
	return string(b[:n+33])
}
