package bolt

import (
	"bytes"
	"math"

	"go.etcd.io/bbolt"

	"github.com/cofferhq/coffer/store"
)

// source is one scope of a list index: the keys of bucket that are prefix +
// seq (8 bytes). A primary bucket is a source with an empty prefix.
type source struct {
	bucket *bbolt.Bucket
	prefix []byte
}

// seqIter walks one source in sequence order.
type seqIter struct {
	c      *bbolt.Cursor
	prefix []byte
	desc   bool
	k      []byte // current key; nil when exhausted
}

// newSeqIter starts below the sequence bound (desc) or above it (asc),
// bound excluded.
func newSeqIter(src source, desc bool, bound uint64) *seqIter {
	it := &seqIter{c: src.bucket.Cursor(), prefix: src.prefix, desc: desc}
	var k []byte
	if desc {
		b := appendSeq(bytes.Clone(src.prefix), bound)
		k, _ = it.c.Seek(b)
		if k == nil {
			k, _ = it.c.Last()
		}
		for k != nil && bytes.Compare(k, b) >= 0 {
			k, _ = it.c.Prev()
		}
	} else {
		if bound == math.MaxUint64 {
			return it
		}
		k, _ = it.c.Seek(appendSeq(bytes.Clone(src.prefix), bound+1))
	}
	it.set(k)
	return it
}

func (it *seqIter) set(k []byte) {
	if k != nil && len(k) == len(it.prefix)+8 && bytes.HasPrefix(k, it.prefix) {
		it.k = k
	} else {
		it.k = nil
	}
}

func (it *seqIter) seq() uint64 { return seqOfKey(it.k) }

func (it *seqIter) next() {
	var k []byte
	if it.desc {
		k, _ = it.c.Prev()
	} else {
		k, _ = it.c.Next()
	}
	it.set(k)
}

// merged walks several sources as one sequence, newest (desc) or oldest
// first: a list filtered by several statuses is the union of one index scope
// per status.
type merged struct {
	its  []*seqIter
	desc bool
}

func newMerged(srcs []source, desc bool, bound uint64) *merged {
	m := &merged{desc: desc}
	for _, s := range srcs {
		m.its = append(m.its, newSeqIter(s, desc, bound))
	}
	return m
}

// next returns the next sequence, or false when every source is exhausted.
func (m *merged) next() (uint64, bool) {
	best := -1
	var bestSeq uint64
	for i, it := range m.its {
		if it.k == nil {
			continue
		}
		s := it.seq()
		if best < 0 || (m.desc && s > bestSeq) || (!m.desc && s < bestSeq) {
			best, bestSeq = i, s
		}
	}
	if best < 0 {
		return 0, false
	}
	m.its[best].next()
	return bestSeq, true
}

// page returns one newest-first page of the records of kind k listed by
// srcs. load decodes a primary value and says whether the record passes the
// query's remaining filters.
//
// The cursors are exclusive sequence bounds (lo < seq < hi). With only
// EndingBefore the walk goes up from the cursor, so the page is the records
// just newer than it (paging backwards visits every record once), reversed
// to newest first; otherwise it goes down from StartingAfter (or the
// newest). hasMore says whether matching records remain beyond the page in
// the walking direction.
func page[T any](t *tx, k kind, srcs []source, p store.Page, load func(seq uint64, v []byte) (T, bool, error)) ([]T, bool, error) {
	limit := p.Size()
	lo, hi := uint64(0), uint64(math.MaxUint64)
	if p.StartingAfter != "" {
		s, err := t.seqOf(k, p.StartingAfter)
		if err != nil {
			return nil, false, err
		}
		hi = s
	}
	if p.EndingBefore != "" {
		s, err := t.seqOf(k, p.EndingBefore)
		if err != nil {
			return nil, false, err
		}
		lo = s
	}
	desc := p.EndingBefore == "" || p.StartingAfter != ""
	var m *merged
	if desc {
		m = newMerged(srcs, true, hi)
	} else {
		m = newMerged(srcs, false, lo)
	}
	prim := t.b(k.primary)
	out := make([]T, 0, min(limit+1, 32))
	for len(out) <= limit {
		seq, ok := m.next()
		if !ok || seq <= lo || seq >= hi {
			break
		}
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, false, errDangling(k, seq)
		}
		r, keep, err := load(seq, v)
		if err != nil {
			return nil, false, err
		}
		if keep {
			out = append(out, r)
		}
	}
	hasMore := len(out) > limit
	if hasMore {
		out = out[:limit]
	}
	if !desc {
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	}
	return out, hasMore, nil
}

// ascending returns up to limit records of kind k listed by src (limit <=
// 0: all of them), oldest first, starting after sequence after (0: from the
// first; sequences start at 1).
func ascending[T any](t *tx, k kind, src source, after uint64, limit int, load func(seq uint64, v []byte) (T, error)) ([]T, error) {
	it := newSeqIter(src, false, after)
	prim := t.b(k.primary)
	var out []T
	for ; it.k != nil && (limit <= 0 || len(out) < limit); it.next() {
		seq := it.seq()
		v := prim.Get(seqKey(seq))
		if v == nil {
			return nil, errDangling(k, seq)
		}
		r, err := load(seq, v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
