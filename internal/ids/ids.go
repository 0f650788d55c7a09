// Package ids makes the record ids of coffer: a prefix naming the record
// type, an underscore and 32 random hex digits ("pay_3f2a...").
package ids

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
)

// randBuf hands out crypto/rand bytes read in blocks: one read serves
// len(b)/16 ids instead of one system call per id. The bytes are the same
// crypto/rand output uuid.New used; each is handed out once.
type randBuf struct {
	b   [16 * 64]byte
	pos int
}

var bufs = sync.Pool{New: func() any { return &randBuf{pos: len(randBuf{}.b)} }}

// New returns prefix_ followed by 32 random hex digits: a version 4 UUID
// (RFC 9562) without its dashes, as before.
func New(prefix string) string {
	r := bufs.Get().(*randBuf)
	if r.pos+16 > len(r.b) {
		if _, err := rand.Read(r.b[:]); err != nil {
			panic("ids: crypto/rand: " + err.Error()) // crypto/rand.Read does not fail on Go 1.24+
		}
		r.pos = 0
	}
	var u [16]byte
	copy(u[:], r.b[r.pos:r.pos+16])
	clear(r.b[r.pos : r.pos+16])
	r.pos += 16
	bufs.Put(r)
	u[6] = (u[6] & 0x0f) | 0x40 // version 4
	u[8] = (u[8] & 0x3f) | 0x80 // variant 10
	var b [64]byte
	if len(prefix) > len(b)-33 {
		return prefix + "_" + hex.EncodeToString(u[:])
	}
	n := copy(b[:], prefix)
	b[n] = '_'
	hex.Encode(b[n+1:], u[:])
	return string(b[:n+33])
}
