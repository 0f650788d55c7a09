package memory

import (
	"fmt"
	"math"
	"sort"

	"github.com/cofferhq/coffer/store"
)

// cursor resolves a page's cursors to exclusive sequence bounds: records
// with lo < seq < hi are in range. seqOf looks a cursor id up; an unknown
// one is store.ErrNotFound.
func cursor(p store.Page, what string, seqOf func(id string) (int64, bool)) (lo, hi int64, err error) {
	lo, hi = math.MinInt64, math.MaxInt64
	if p.StartingAfter != "" {
		seq, ok := seqOf(p.StartingAfter)
		if !ok {
			return 0, 0, fmt.Errorf("%w: starting_after %s %s", store.ErrNotFound, what, p.StartingAfter)
		}
		hi = seq
	}
	if p.EndingBefore != "" {
		seq, ok := seqOf(p.EndingBefore)
		if !ok {
			return 0, 0, fmt.Errorf("%w: ending_before %s %s", store.ErrNotFound, what, p.EndingBefore)
		}
		lo = seq
	}
	return lo, hi, nil
}

// bounds is cursor for a map of nodes.
func bounds[T any](m map[string]*node[T], p store.Page, what string) (lo, hi int64, err error) {
	return cursor(p, what, func(id string) (int64, bool) {
		n, ok := m[id]
		if !ok {
			return 0, false
		}
		return n.seq, true
	})
}

// pageIdx selects one newest-first page of a list of n records in
// ascending seq. Without EndingBefore it walks down from hi; with only
// EndingBefore it takes the records just newer than the cursor (walking up
// from lo) and returns them newest first, so paging backwards visits every
// record once. hasMore says whether matching records remain beyond the
// page in the walking direction.
func pageIdx[R any](n int, seqAt func(int) int64, p store.Page, lo, hi int64,
	match func(int) bool, out func(int) R) ([]R, bool) {
	limit := p.Size()
	res := make([]R, 0, min(limit, n))
	more := false
	if p.EndingBefore != "" && p.StartingAfter == "" {
		i := sort.Search(n, func(i int) bool { return seqAt(i) > lo })
		for ; i < n && seqAt(i) < hi; i++ {
			if match != nil && !match(i) {
				continue
			}
			if len(res) == limit {
				more = true
				break
			}
			res = append(res, out(i))
		}
		for a, b := 0, len(res)-1; a < b; a, b = a+1, b-1 {
			res[a], res[b] = res[b], res[a]
		}
		return res, more
	}
	i := sort.Search(n, func(i int) bool { return seqAt(i) >= hi }) - 1
	for ; i >= 0 && seqAt(i) > lo; i-- {
		if match != nil && !match(i) {
			continue
		}
		if len(res) == limit {
			more = true
			break
		}
		res = append(res, out(i))
	}
	return res, more
}

// page is pageIdx over a slice of nodes.
func page[T, R any](list []*node[T], p store.Page, lo, hi int64, match func(*T) bool, out func(T) R) ([]R, bool) {
	var m func(int) bool
	if match != nil {
		m = func(i int) bool { return match(&list[i].v) }
	}
	return pageIdx(len(list), func(i int) int64 { return list[i].seq }, p, lo, hi, m,
		func(i int) R { return out(list[i].v) })
}
