package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/cofferhq/coffer/customer"
)

// Customer search (issue 13): every store keeps a token index, the pairs
// (token, customer) for every token of customer.Tokens, ordered by token,
// maintained in the customer's own insert and update. A term is a prefix,
// so the customers it matches are the entries of one key range of the
// index: the tokens starting with the term.
//
// A page is planned once, the same way on every store, so every store
// gives the same answer (and the same cursor):
//
//  1. Each term's range is read up to Candidates+1 entries. A term with at
//     most Candidates entries is "selective": its customers are known.
//  2. If some term is selective, the page comes from the customers every
//     selective term has (the intersection), in list order from the
//     cursor, each checked with customer.Search.Matches (the other terms).
//     The page is exact and costs O(terms × Candidates + log n) at worst;
//     a term matching nothing costs one index seek.
//  3. Otherwise every term is common (each has more than Candidates
//     entries, so it matches many customers): the customers are walked in
//     list order from the cursor, each checked with Matches, reading at
//     most Scan customers. If the budget runs out before the page is full,
//     the page is returned short (possibly empty) with HasMore and a
//     Cursor naming the last customer read, from which the next page
//     continues: a search never reads more than Scan customers per page.
//     A customer read is cheap: a Prefilter (every ASCII letter-or-digit
//     run of every term must occur in the customer's text) rejects most
//     of them on their stored bytes (bolt: the encoded value, straight
//     from the cursor; memory: the fields; PostgreSQL: position() in
//     search_text), and only the rest are decoded and tested with
//     Matches, so the answer is the same.
//
// Order and cursors are those of ListCustomers: newest first by insertion
// (the store's sequence), StartingAfter and EndingBefore customer ids.

// Default budgets of a search page.
const (
	DefaultSearchCandidates = 10000
	DefaultSearchScan       = 10000
)

// CustomerSearchQuery is one page of a customer search. Search must not be
// zero. Candidates and Scan override DefaultSearchCandidates and
// DefaultSearchScan when positive (tests use small budgets).
type CustomerSearchQuery struct {
	Search     customer.Search
	Candidates int
	Scan       int
	Page
}

// Budgets returns the effective Candidates and Scan of q.
func (q CustomerSearchQuery) Budgets() (candidates, scan int) {
	candidates, scan = DefaultSearchCandidates, DefaultSearchScan
	if q.Candidates > 0 {
		candidates = q.Candidates
	}
	if q.Scan > 0 {
		scan = q.Scan
	}
	return candidates, scan
}

// SearchPage is one page of a customer search, newest first. When HasMore,
// Cursor is the id to continue from in the direction the page was read
// (StartingAfter for the next page; for a page read with EndingBefore
// alone, EndingBefore for the page before it). It is the last customer of
// the page, or, when the scan budget ran out first, the last customer
// read, which need not match.
type SearchPage struct {
	Customers []customer.Customer
	HasMore   bool
	Cursor    string
}

// TokenIndex is what RunSearch needs from a store that keeps its own token
// index (memory, bolt). S is the store's customer sequence.
type TokenIndex[S cmp.Ordered] interface {
	// Entries calls fn with the sequence of each index entry whose token
	// starts with prefix, in index order, until fn returns false.
	Entries(prefix string, fn func(seq S) bool) error
	// Load returns the customer with sequence seq.
	Load(seq S) (customer.Customer, error)
	// Own returns a customer of Load or Walk the caller may keep (a copy
	// where the store hands out shared values).
	Own(c customer.Customer) customer.Customer
	// Walk calls fn with the customers whose sequence is strictly between
	// lo and hi, newest first when down, until fn returns false. A
	// customer pre rejects (Prefilter.SkipRaw on its encoded value, where
	// the store keeps one, else Prefilter.SkipCustomer) is passed with
	// ok false and a zero customer, without being decoded.
	Walk(lo, hi S, down bool, pre *Prefilter, fn func(seq S, c customer.Customer, ok bool) (bool, error)) error
}

// Prefilter is a cheap necessary condition of customer.Search.Matches,
// used by the walk of an all-common-terms page so that most customers are
// rejected without being decoded or tokenized: every ASCII letter-or-digit
// run of every term must occur, ASCII case-insensitively, in the
// customer's text. It applies only where that text is all ASCII: Fold maps
// only ASCII to ASCII there (the non-ASCII runes folding to ASCII, "ſ" and
// the Kelvin sign, are not ASCII), so a token of an ASCII customer is an
// ASCII-lowered substring of one of its fields, and a term with a
// non-ASCII rune matches no ASCII customer. JSON (the bolt encoding) never
// escapes a letter or a digit, so the encoded value serves as the text.
type Prefilter struct {
	runs        [][]byte // ASCII-lowered letter-or-digit runs of the terms
	nonASCII    bool     // some term holds a non-ASCII rune
	digitRuns   bool     // some run is all digits
	buf, digits []byte
}

// NewPrefilter returns the Prefilter of s.
func NewPrefilter(s customer.Search) *Prefilter {
	p := &Prefilter{buf: make([]byte, 0, 1024), digits: make([]byte, 0, 256)}
	for _, t := range s.Terms() {
		start := -1
		for i := 0; i <= len(t); i++ {
			alnum := i < len(t) && isAlnum(t[i])
			if i < len(t) && t[i] >= 0x80 {
				p.nonASCII = true
			}
			if alnum && start < 0 {
				start = i
			} else if !alnum && start >= 0 {
				p.runs = append(p.runs, []byte(t[start:i]))
				p.digitRuns = p.digitRuns || allDigits(p.runs[len(p.runs)-1])
				start = -1
			}
		}
	}
	return p
}

const (
	lanes = 0x0101010101010101
	hi8   = 0x8080808080808080
)

func isAlnum(b byte) bool {
	return 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || 'A' <= b && b <= 'Z'
}

// SkipRaw reports whether a customer whose text (all its searched fields,
// possibly among other bytes) is raw cannot match: raw is all ASCII and
// lacks a run. It keeps no reference to raw.
func (p *Prefilter) SkipRaw(raw []byte) bool {
	if p == nil {
		return false
	}
	b := p.buf[:0]
	i := 0
	for ; i+8 <= len(raw); i += 8 {
		// Eight bytes at a time: any non-ASCII byte ends the test, and
		// 'A'..'Z' get 0x20 added (bit 7 of each lane: >= 'A' and not > 'Z').
		w := binary.LittleEndian.Uint64(raw[i:])
		if w&hi8 != 0 {
			return false
		}
		upper := (w + lanes*(0x80-'A')) &^ (w + lanes*(0x80-'Z'-1)) & hi8
		b = binary.LittleEndian.AppendUint64(b, w|upper>>2)
	}
	for ; i < len(raw); i++ {
		c := raw[i]
		if c >= 0x80 {
			return false
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	p.buf = b
	d := p.digits[:0]
	if p.digitRuns {
		for _, c := range b {
			if '0' <= c && c <= '9' {
				d = append(d, c)
			}
		}
		p.digits = d
	}
	return p.lacks(b, d)
}

// lacks reports whether text (lowered) or, for an all-digit run, digits
// (the digits of the text, run together: the phone's digits token is a
// substring of them) lacks a run.
func (p *Prefilter) lacks(text, digits []byte) bool {
	if p.nonASCII {
		return true
	}
	for _, r := range p.runs {
		if !bytes.Contains(text, r) && !(allDigits(r) && bytes.Contains(digits, r)) {
			return true
		}
	}
	return false
}

func allDigits(r []byte) bool {
	for _, c := range r {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SkipCustomer is SkipRaw on c's searched fields, one field at a time (a
// token lies within one field).
func (p *Prefilter) SkipCustomer(c customer.Customer) bool {
	if p == nil {
		return false
	}
	fields := [...]string{c.Name, c.Email, c.Phone, c.ID, c.Description}
	b := p.buf[:0]
	for _, f := range fields {
		for i := 0; i < len(f); i++ {
			ch := f[i]
			if ch >= 0x80 {
				return false
			}
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			b = append(b, ch)
		}
		b = append(b, 0) // no run holds a NUL: runs never span fields
	}
	d := p.digits[:0]
	for i := 0; i < len(c.Phone); i++ {
		if '0' <= c.Phone[i] && c.Phone[i] <= '9' {
			d = append(d, c.Phone[i])
		}
	}
	p.buf, p.digits = b, d
	return p.lacks(b, d)
}

// RunSearch plans and reads one search page (see above) from ix. lo and hi
// are the page's exclusive sequence bounds, the cursors resolved by the
// store (values no customer has when there is no cursor).
func RunSearch[S cmp.Ordered](ix TokenIndex[S], q CustomerSearchQuery, lo, hi S) (SearchPage, error) {
	candidates, scan := q.Budgets()
	limit := q.Size()
	back := q.EndingBefore != "" && q.StartingAfter == ""
	var out SearchPage
	if q.Search.IsZero() {
		return out, nil
	}
	var sets [][]S
	for _, term := range q.Search.Terms() {
		var set []S
		n := 0
		err := ix.Entries(term, func(seq S) bool {
			n++
			if n > candidates {
				return false
			}
			if lo < seq && seq < hi {
				set = append(set, seq)
			}
			return true
		})
		if err != nil {
			return out, err
		}
		if n > candidates {
			continue // common: checked by Matches
		}
		if len(set) == 0 {
			return out, nil // selective and empty in this page's bounds
		}
		slices.Sort(set)
		sets = append(sets, slices.Compact(set))
	}
	keep := func(c customer.Customer) bool {
		if len(out.Customers) == limit {
			out.HasMore = true
			return false
		}
		out.Customers = append(out.Customers, ix.Own(c))
		return true
	}
	if len(sets) > 0 {
		cands := intersect(sets)
		if !back {
			slices.Reverse(cands)
		}
		for _, seq := range cands {
			c, err := ix.Load(seq)
			if err != nil {
				return SearchPage{}, err
			}
			if q.Search.Matches(c) && !keep(c) {
				break
			}
		}
	} else {
		read := 0
		var last S
		err := ix.Walk(lo, hi, !back, NewPrefilter(q.Search), func(seq S, c customer.Customer, ok bool) (bool, error) {
			if read == scan {
				out.HasMore = true // budget spent, and a customer remains
				return false, nil
			}
			read++
			last = seq
			return !ok || !q.Search.Matches(c) || keep(c), nil
		})
		if err != nil {
			return SearchPage{}, err
		}
		if out.HasMore && len(out.Customers) < limit {
			c, err := ix.Load(last)
			if err != nil {
				return SearchPage{}, err
			}
			out.Cursor = c.ID
		}
	}
	if out.HasMore && out.Cursor == "" {
		out.Cursor = out.Customers[len(out.Customers)-1].ID
	}
	if back {
		slices.Reverse(out.Customers)
	}
	return out, nil
}

// intersect returns the values every sorted set holds, ascending.
func intersect[S cmp.Ordered](sets [][]S) []S {
	slices.SortFunc(sets, func(a, b []S) int { return len(a) - len(b) })
	out := slices.Clone(sets[0])
	for _, s := range sets[1:] {
		j := 0
		w := out[:0]
		for _, v := range out {
			for j < len(s) && s[j] < v {
				j++
			}
			if j < len(s) && s[j] == v {
				w = append(w, v)
			}
		}
		out = w
	}
	return out
}
