package memory

import (
	"encoding/binary"
	"slices"
	"sort"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// The customer search index and the email filter's index (issue 13).
//
// The token index holds one entry (token, seq) per token of
// customer.Tokens, ordered by token then seq, in sorted blocks of at most
// tokBlockMax entries: an insert or delete is two binary searches and a
// move within one block, a prefix range is a seek and a walk. The email
// index maps a folded email to its customers, ascending seq. Both are kept
// by custIndexAdd and custIndexDel, which insert, update and the undo log
// call, so a rolled-back write leaves no entry behind.

// tent is one entry. pfx is the token's first 8 bytes, big-endian and
// zero-padded, compared before the token itself: most comparisons end
// there, without reading the token's bytes from another cache line.
type tent struct {
	pfx uint64
	tok string
	seq int64
}

func newTent(tok string, seq int64) tent {
	var b [8]byte
	copy(b[:], tok)
	return tent{pfx: binary.BigEndian.Uint64(b[:]), tok: tok, seq: seq}
}

func (a tent) cmp(b tent) int {
	switch {
	case a.pfx < b.pfx:
		return -1
	case a.pfx > b.pfx:
		return 1
	}
	if c := strings.Compare(a.tok, b.tok); c != 0 {
		return c
	}
	return cmpInt(a.seq, b.seq)
}

const tokBlockMax = 256

// tokenIndex: blocks are non-empty and sorted, each block before the next.
// heads[i] is blocks[i][0], kept beside the blocks so that finding a block
// reads one array.
type tokenIndex struct {
	blocks [][]tent
	heads  []tent
	n      int
}

// block returns the block that holds e or would: the last one whose first
// entry is <= e (the first block if none is).
func (x *tokenIndex) block(e tent) int {
	i := sort.Search(len(x.heads), func(i int) bool { return x.heads[i].cmp(e) > 0 }) - 1
	return max(i, 0)
}

func (x *tokenIndex) add(e tent) {
	if len(x.blocks) == 0 {
		x.blocks, x.heads = [][]tent{{e}}, []tent{e}
		x.n++
		return
	}
	i := x.block(e)
	b := x.blocks[i]
	j, found := slices.BinarySearchFunc(b, e, tent.cmp)
	if found {
		return
	}
	b = slices.Insert(b, j, e)
	x.n++
	if len(b) > tokBlockMax {
		half := len(b) / 2
		right := slices.Clone(b[half:])
		clear(b[half:])
		x.blocks[i], x.heads[i] = b[:half], b[0]
		x.blocks = slices.Insert(x.blocks, i+1, right)
		x.heads = slices.Insert(x.heads, i+1, right[0])
		return
	}
	x.blocks[i], x.heads[i] = b, b[0]
}

func (x *tokenIndex) del(e tent) {
	if len(x.blocks) == 0 {
		return
	}
	i := x.block(e)
	b := x.blocks[i]
	j, found := slices.BinarySearchFunc(b, e, tent.cmp)
	if !found {
		return
	}
	x.n--
	if b = slices.Delete(b, j, j+1); len(b) == 0 {
		x.blocks = slices.Delete(x.blocks, i, i+1)
		x.heads = slices.Delete(x.heads, i, i+1)
		return
	}
	x.blocks[i], x.heads[i] = b, b[0]
}

// each calls fn with the seq of every entry whose token starts with
// prefix, in index order, until fn returns false.
func (x *tokenIndex) each(prefix string, fn func(seq int64) bool) {
	if len(x.blocks) == 0 {
		return
	}
	start := newTent(prefix, -1<<63)
	i := x.block(start)
	j, _ := slices.BinarySearchFunc(x.blocks[i], start, tent.cmp)
	for ; i < len(x.blocks); i, j = i+1, 0 {
		for _, e := range x.blocks[i][j:] {
			if !strings.HasPrefix(e.tok, prefix) || !fn(e.seq) {
				return
			}
		}
	}
}

func (s *Store) searchAdd(n *custNode, v customer.Customer) {
	for _, t := range customer.Tokens(v) {
		s.tokens.add(newTent(t, n.seq))
	}
	if e := customer.Fold(v.Email); e != "" {
		if s.byEmail == nil {
			s.byEmail = make(map[string][]*custNode)
		}
		l := s.byEmail[e]
		if k := len(l); k == 0 || l[k-1].seq < n.seq {
			s.byEmail[e] = append(l, n) // the common case: a new customer
			return
		}
		j, found := slices.BinarySearchFunc(l, n.seq, custBySeq)
		if !found {
			s.byEmail[e] = slices.Insert(l, j, n)
		}
	}
}

func (s *Store) searchDel(n *custNode, v customer.Customer) {
	for _, t := range customer.Tokens(v) {
		s.tokens.del(newTent(t, n.seq))
	}
	if e := customer.Fold(v.Email); e != "" {
		l := s.byEmail[e]
		if j, found := slices.BinarySearchFunc(l, n.seq, custBySeq); found {
			if l = slices.Delete(l, j, j+1); len(l) == 0 {
				delete(s.byEmail, e)
			} else {
				s.byEmail[e] = l
			}
		}
	}
}

func custBySeq(n *custNode, seq int64) int { return cmpInt(n.seq, seq) }

// custAt returns the customer with sequence seq (custList is ascending).
func (s *Store) custAt(seq int64) (*custNode, bool) {
	i, found := slices.BinarySearchFunc(s.custList, seq, custBySeq)
	if !found {
		return nil, false
	}
	return s.custList[i], true
}

// memTokens is the store.TokenIndex of a transaction.
type memTokens struct{ s *Store }

func (m memTokens) Entries(prefix string, fn func(int64) bool) error {
	m.s.tokens.each(prefix, fn)
	return nil
}

func (m memTokens) Load(seq int64) (customer.Customer, error) {
	n, ok := m.s.custAt(seq)
	if !ok {
		return customer.Customer{}, notFound("customer seq", "?")
	}
	return n.v, nil
}

func (memTokens) Own(c customer.Customer) customer.Customer { return copyCustomer(c) }

func (m memTokens) Walk(lo, hi int64, down bool, pre *store.Prefilter, fn func(int64, customer.Customer, bool) (bool, error)) error {
	l := m.s.custList
	call := func(n *custNode) (bool, error) {
		if pre.SkipCustomer(n.v) {
			return fn(n.seq, customer.Customer{}, false)
		}
		return fn(n.seq, n.v, true)
	}
	if down {
		i := sort.Search(len(l), func(i int) bool { return l[i].seq >= hi }) - 1
		for ; i >= 0 && l[i].seq > lo; i-- {
			if ok, err := call(l[i]); !ok || err != nil {
				return err
			}
		}
		return nil
	}
	i := sort.Search(len(l), func(i int) bool { return l[i].seq > lo })
	for ; i < len(l) && l[i].seq < hi; i++ {
		if ok, err := call(l[i]); !ok || err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) SearchCustomers(q store.CustomerSearchQuery) (store.SearchPage, error) {
	lo, hi, err := bounds(t.s.customers, q.Page, "customer")
	if err != nil {
		return store.SearchPage{}, err
	}
	return store.RunSearch[int64](memTokens{t.s}, q, lo, hi)
}
