package memory

import (
	"github.com/cofferhq/coffer/ledger"
)

// The string fields of an entry, stored back to back in the arena.
const (
	esID = iota
	esCustomer
	esCurrency
	esType
	esReason
	esKey
	esRefType
	esRefID
	esFingerprint
	esCount
)

// entryRec is a pointer-free ledger.Entry.
type entryRec struct {
	seq                   int64
	amount, before, after int64
	created               ptime
	chunk, off            uint32
	lens                  [esCount]uint32
	nextID, nextKey       uint32 // hash chains, index+1
}

// entryTable holds every ledger entry, in insertion order.
type entryTable struct {
	recs  chunked[entryRec]
	strs  arena
	locs  locations
	byID  hashIndex
	byKey hashIndex // (customer, idempotency key), non-empty keys only
}

func newEntryTable() *entryTable {
	return &entryTable{byID: make(hashIndex), byKey: make(hashIndex), strs: arena{cur: -1}}
}

func (t *entryTable) str(r *entryRec, field int) string {
	off := r.off
	for _, n := range r.lens[:field] {
		off += n
	}
	return t.strs.str(r.chunk, off, r.lens[field])
}

func (t *entryTable) get(i uint32) ledger.Entry {
	r := t.recs.at(i)
	var s [esCount]string
	off := r.off
	for f, n := range r.lens {
		s[f] = t.strs.str(r.chunk, off, n)
		off += n
	}
	return ledger.Entry{
		ID: s[esID], CustomerID: s[esCustomer], Currency: s[esCurrency], Type: ledger.Type(s[esType]),
		Amount: r.amount, BalanceBefore: r.before, BalanceAfter: r.after, Reason: s[esReason],
		IdempotencyKey: s[esKey], Reference: ledger.Reference{Type: ledger.RefType(s[esRefType]), ID: s[esRefID]},
		Fingerprint: s[esFingerprint], CreatedAt: t.locs.unpack(r.created),
	}
}

func (t *entryTable) find(id string) (uint32, bool) {
	for j := t.byID[hash1(id)]; j != 0; {
		r := t.recs.at(j - 1)
		if t.str(r, esID) == id {
			return j - 1, true
		}
		j = r.nextID
	}
	return 0, false
}

func (t *entryTable) findKey(customerID, key string) (uint32, bool) {
	for j := t.byKey[hash2(customerID, key)]; j != 0; {
		r := t.recs.at(j - 1)
		if t.str(r, esKey) == key && t.str(r, esCustomer) == customerID {
			return j - 1, true
		}
		j = r.nextKey
	}
	return 0, false
}

// insert appends e; the caller has checked its id and key are free.
func (t *entryTable) insert(e *ledger.Entry, seq int64) uint32 {
	fields := [esCount]string{e.ID, e.CustomerID, e.Currency, string(e.Type), e.Reason, e.IdempotencyKey,
		string(e.Reference.Type), e.Reference.ID, e.Fingerprint}
	total := 0
	for _, f := range fields {
		total += len(f)
	}
	i, r := t.recs.push()
	r.seq, r.amount, r.before, r.after = seq, e.Amount, e.BalanceBefore, e.BalanceAfter
	r.created = t.locs.pack(e.CreatedAt)
	var buf []byte
	r.chunk, r.off, buf = t.strs.alloc(total)
	for f, s := range fields {
		r.lens[f] = uint32(copy(buf, s))
		buf = buf[len(s):]
	}
	h := hash1(e.ID)
	r.nextID = t.byID[h]
	t.byID[h] = i + 1
	if e.IdempotencyKey != "" {
		h := hash2(e.CustomerID, e.IdempotencyKey)
		r.nextKey = t.byKey[h]
		t.byKey[h] = i + 1
	}
	return i
}

// unlink undoes insert of the last record: it heads its hash chains,
// since everything inserted after it was undone first. Its arena bytes
// are not reused (strings handed out may alias them).
func (t *entryTable) unlink(i uint32) {
	r := t.recs.at(i)
	unchain(t.byID, hash1(t.str(r, esID)), r.nextID)
	if key := t.str(r, esKey); key != "" {
		unchain(t.byKey, hash2(t.str(r, esCustomer), key), r.nextKey)
	}
	if i != t.recs.n-1 {
		panic("memory: undo log out of order")
	}
	t.recs.pop()
}

func unchain(m hashIndex, h uint64, next uint32) {
	if next == 0 {
		delete(m, h)
	} else {
		m[h] = next
	}
}
