package memory

import (
	"sort"

	"github.com/cofferhq/coffer/webhook"
)

const (
	vsID = iota
	vsType
	vsCustomer
	vsData
	vsCount
)

// eventRec is a pointer-free webhook.Event.
type eventRec struct {
	seq        int64 // Event.Seq
	created    ptime
	chunk, off uint32
	lens       [vsCount]uint32
	nextID     uint32
	dataNil    bool
	dispatched bool
	pruned     bool // deleted by PruneEvents: invisible to every read
}

// eventTable is the outbox, in insertion (and so Seq) order.
type eventTable struct {
	recs chunked[eventRec]
	strs arena
	locs locations
	byID hashIndex
}

func newEventTable() *eventTable {
	return &eventTable{byID: make(hashIndex), strs: arena{cur: -1}}
}

func (t *eventTable) field(r *eventRec, field int) (chunk, off, n uint32) {
	off = r.off
	for _, n := range r.lens[:field] {
		off += n
	}
	return r.chunk, off, r.lens[field]
}

func (t *eventTable) str(r *eventRec, field int) string {
	return t.strs.str(t.field(r, field))
}

func (t *eventTable) get(i uint32) webhook.Event {
	r := t.recs.at(i)
	e := webhook.Event{ID: t.str(r, vsID), Type: t.str(r, vsType), CustomerID: t.str(r, vsCustomer),
		CreatedAt: t.locs.unpack(r.created), Seq: r.seq, Dispatched: r.dispatched}
	if !r.dataNil {
		e.Data = t.strs.bytes(t.field(r, vsData))
	}
	return e
}

func (t *eventTable) find(id string) (uint32, bool) {
	for j := t.byID[hash1(id)]; j != 0; {
		r := t.recs.at(j - 1)
		if !r.pruned && t.str(r, vsID) == id {
			return j - 1, true
		}
		j = r.nextID
	}
	return 0, false
}

// insert appends e; the caller has checked its id is free.
func (t *eventTable) insert(e *webhook.Event) uint32 {
	total := len(e.ID) + len(e.Type) + len(e.CustomerID) + len(e.Data)
	i, r := t.recs.push()
	r.seq, r.dispatched, r.dataNil = e.Seq, e.Dispatched, e.Data == nil
	r.created = t.locs.pack(e.CreatedAt)
	var buf []byte
	r.chunk, r.off, buf = t.strs.alloc(total)
	r.lens[vsID] = uint32(copy(buf, e.ID))
	buf = buf[len(e.ID):]
	r.lens[vsType] = uint32(copy(buf, e.Type))
	buf = buf[len(e.Type):]
	r.lens[vsCustomer] = uint32(copy(buf, e.CustomerID))
	buf = buf[len(e.CustomerID):]
	r.lens[vsData] = uint32(copy(buf, e.Data))
	h := hash1(e.ID)
	r.nextID = t.byID[h]
	t.byID[h] = i + 1
	return i
}

// unlink undoes insert of the last record.
func (t *eventTable) unlink(i uint32) {
	r := t.recs.at(i)
	unchain(t.byID, hash1(t.str(r, vsID)), r.nextID)
	if i != t.recs.n-1 {
		panic("memory: undo log out of order")
	}
	t.recs.pop()
}

// after returns the index of the first event with Seq > seq.
func (t *eventTable) after(seq int64) uint32 {
	return uint32(sort.Search(int(t.recs.n), func(i int) bool { return t.recs.at(uint32(i)).seq > seq }))
}

// doneKey is event i's key in the index of dispatched events.
func (t *eventTable) doneKey(i uint32) okey {
	r := t.recs.at(i)
	return key(t.locs.unpack(r.created), r.seq)
}
