package memory

import "time"

// okey orders the entries of an ordered index: by time, then by the record's
// insertion sequence, so keys are unique and ties keep insertion order.
type okey struct {
	at  time.Time
	seq int64
}

func (a okey) cmp(b okey) int {
	if c := a.at.Compare(b.at); c != 0 {
		return c
	}
	switch {
	case a.seq < b.seq:
		return -1
	case a.seq > b.seq:
		return 1
	}
	return 0
}

// key builds an index key; the monotonic clock reading is dropped so every
// key compares by wall time alone.
func key(at time.Time, seq int64) okey { return okey{at: at.Round(0), seq: seq} }

const maxLevel = 24

type snode[V any] struct {
	k    okey
	v    V
	next []*snode[V]
}

// skiplist is an ordered set of unique keys. Insert and delete cost
// O(log n); walking from the smallest key costs O(1) per key visited, which
// is what lets the due queries, the claims and the prunes pay only for what
// they return.
type skiplist[V any] struct {
	head  snode[V]
	level int
	n     int
	rnd   uint64
}

func newSkiplist[V any]() *skiplist[V] {
	l := &skiplist[V]{level: 1, rnd: 0x9E3779B97F4A7C15}
	l.head.next = make([]*snode[V], maxLevel)
	return l
}

func (l *skiplist[V]) randomLevel() int {
	// xorshift64*: deterministic, cheap, good enough for level choice.
	l.rnd ^= l.rnd >> 12
	l.rnd ^= l.rnd << 25
	l.rnd ^= l.rnd >> 27
	r := l.rnd * 2685821657736338717
	lvl := 1
	for lvl < maxLevel && r&3 == 0 {
		lvl++
		r >>= 2
	}
	return lvl
}

func (l *skiplist[V]) insert(k okey, v V) {
	var update [maxLevel]*snode[V]
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i].k.cmp(k) < 0 {
			x = x.next[i]
		}
		update[i] = x
	}
	lvl := l.randomLevel()
	if lvl > l.level {
		for i := l.level; i < lvl; i++ {
			update[i] = &l.head
		}
		l.level = lvl
	}
	n := &snode[V]{k: k, v: v, next: make([]*snode[V], lvl)}
	for i := 0; i < lvl; i++ {
		n.next[i] = update[i].next[i]
		update[i].next[i] = n
	}
	l.n++
}

func (l *skiplist[V]) delete(k okey) bool {
	var update [maxLevel]*snode[V]
	x := &l.head
	for i := l.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i].k.cmp(k) < 0 {
			x = x.next[i]
		}
		update[i] = x
	}
	x = x.next[0]
	if x == nil || x.k.cmp(k) != 0 {
		return false
	}
	for i := 0; i < l.level; i++ {
		if update[i].next[i] != x {
			break
		}
		update[i].next[i] = x.next[i]
	}
	for l.level > 1 && l.head.next[l.level-1] == nil {
		l.level--
	}
	l.n--
	return true
}

// first returns the smallest node, or nil; walk on with node.next[0].
func (l *skiplist[V]) first() *snode[V] { return l.head.next[0] }
