package memory

import (
	"hash/maphash"
	"time"
	"unsafe"
)

// The two tables that grow with traffic — ledger entries and outbox events —
// are kept out of the garbage collector's way: their records are
// pointer-free structs in fixed-size chunks, their strings live in a byte
// arena, and their indexes are maps from a 64-bit hash to a record index
// (collisions chained through the records). The collector never scans any
// of it, so a store holding millions of entries does not make every
// collection, and so every posting, slower.

const arenaChunk = 1 << 20

// arena is append-only byte storage. Bytes once written are never written
// again, not even after a rollback, so strings returned by str may alias
// them safely.
type arena struct {
	chunks [][]byte
	cur    int // the chunk being filled, or -1
}

// alloc reserves n bytes and returns where they are.
func (a *arena) alloc(n int) (chunk, off uint32, buf []byte) {
	if n > arenaChunk/4 {
		// A big value gets a chunk of its own; the current one keeps filling.
		a.chunks = append(a.chunks, make([]byte, n))
		return uint32(len(a.chunks) - 1), 0, a.chunks[len(a.chunks)-1]
	}
	if len(a.chunks) == 0 || cap(a.chunks[a.cur])-len(a.chunks[a.cur]) < n {
		a.chunks = append(a.chunks, make([]byte, 0, arenaChunk))
		a.cur = len(a.chunks) - 1
	}
	c := a.chunks[a.cur]
	off = uint32(len(c))
	a.chunks[a.cur] = c[:len(c)+n]
	return uint32(a.cur), off, a.chunks[a.cur][off : int(off)+n]
}

// str returns the n bytes at (chunk, off) as a string, without copying.
func (a *arena) str(chunk, off, n uint32) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&a.chunks[chunk][off], int(n))
}

// bytes returns a copy of the n bytes at (chunk, off).
func (a *arena) bytes(chunk, off, n uint32) []byte {
	b := make([]byte, n)
	copy(b, a.chunks[chunk][off:off+n])
	return b
}

// ptime is a time.Time without pointers: the Location, when not UTC, is
// kept in a side table.
type ptime struct {
	sec  int64
	nsec int32
	loc  int32 // 0: UTC; else index+1 in locations.table
}

type locations struct {
	table []*time.Location
	index map[*time.Location]int32
}

func (l *locations) pack(t time.Time) ptime {
	p := ptime{sec: t.Unix(), nsec: int32(t.Nanosecond())}
	if loc := t.Location(); loc != time.UTC {
		i, ok := l.index[loc]
		if !ok {
			if l.index == nil {
				l.index = make(map[*time.Location]int32)
			}
			l.table = append(l.table, loc)
			i = int32(len(l.table))
			l.index[loc] = i
		}
		p.loc = i
	}
	return p
}

func (l *locations) unpack(p ptime) time.Time {
	t := time.Unix(p.sec, int64(p.nsec))
	if p.loc == 0 {
		return t.UTC()
	}
	return t.In(l.table[p.loc-1])
}

// hashIndex maps a 64-bit hash to the newest record with that hash (as
// index+1); older ones are chained through the records.
type hashIndex map[uint64]uint32

var hashSeed = maphash.MakeSeed()

// hashString is a variable so tests can force collisions.
var hashString = func(s string) uint64 { return maphash.String(hashSeed, s) }

func hash1(s string) uint64 { return hashString(s) }

func hash2(a, b string) uint64 { return hashString(b) ^ (hashString(a) * 0x9E3779B97F4A7C15) }

const recChunk = 4096

// chunked is a growable array of pointer-free records whose elements never
// move, so *T stays valid while the array grows.
type chunked[T any] struct {
	chunks []*[recChunk]T
	n      uint32
}

func (c *chunked[T]) at(i uint32) *T { return &c.chunks[i/recChunk][i%recChunk] }

func (c *chunked[T]) push() (uint32, *T) {
	i := c.n
	if int(i/recChunk) == len(c.chunks) {
		c.chunks = append(c.chunks, new([recChunk]T))
	}
	c.n++
	r := c.at(i)
	var zero T
	*r = zero
	return i, r
}

// pop removes the last record (undo of push).
func (c *chunked[T]) pop() { c.n-- }
