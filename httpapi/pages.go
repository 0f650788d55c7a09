package httpapi

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cofferhq/coffer"
)

// Lists speak Dodo's page-number pagination: zero-based page_number
// (default 0), page_size 1..100 (default 10), and a body {"items": [...]}
// that is empty past the last page. coffer's lists are cursor lists, so a
// page number is resolved to a cursor: the Handler remembers where each page
// it served ended (per API key and filter, for PageCacheTTL), and page n+1
// continues from the end of page n. A client that walks the pages in order
// (the SDK's for-await) costs O(page) per page and sees every record once,
// even while new ones are added; a jump to a page nobody read walks from the
// nearest remembered page, 100 records per store read.
//
// coffer's own cursors are an extension: starting_after or ending_before (a
// record id) select a page by cursor instead, and every list answer also
// carries has_more and next_cursor.

// Page bounds.
const (
	DefaultPageSize = 10
	MaxPageSize     = 100
	// MaxPageOffset bounds page_number x page_size for a page reached by
	// walking (no remembered page near it).
	MaxPageOffset = 100_000
)

// Page is a list answer: Dodo's {"items": [...]} with coffer's cursor
// fields added.
type Page[T any] struct {
	Items      []T    `json:"items"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// pageReq is a parsed page request.
type pageReq struct {
	number int
	size   int
	cursor coffer.ListParams
	// byCursor is set when starting_after or ending_before was given.
	byCursor bool
	// filterKey identifies the list and its filters (for the cache).
	filterKey string
}

// pageParams reads page_number, page_size, starting_after and
// ending_before.
func (c *call) pageParams(q query) (pageReq, error) {
	size, err := q.int("page_size", DefaultPageSize, 1, MaxPageSize)
	if err != nil {
		return pageReq{}, err
	}
	pr := pageReq{size: size}
	if q.has("limit") && !q.has("page_size") {
		if pr.size, err = q.int("limit", DefaultPageSize, 1, MaxPageSize); err != nil {
			return pageReq{}, err
		}
	}
	pr.cursor = coffer.ListParams{Limit: pr.size, StartingAfter: q.str("starting_after"), EndingBefore: q.str("ending_before")}
	if pr.cursor.StartingAfter != "" || pr.cursor.EndingBefore != "" {
		if q.has("page_number") {
			return pageReq{}, invalidParam("page_number", "give page_number or a cursor (starting_after, ending_before), not both")
		}
		pr.byCursor = true
		return pr, nil
	}
	if pr.number, err = q.int("page_number", 0, 0, 1<<30); err != nil {
		return pageReq{}, err
	}
	// The filter key: the path and every parameter but the page number.
	keys := make([]string, 0, len(q.v))
	for k := range q.v {
		if k != "page_number" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(c.p.KeyID)
	b.WriteByte(' ')
	b.WriteString(c.r.URL.Path)
	for _, k := range keys {
		b.WriteByte('&')
		b.WriteString(url.QueryEscape(k))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(q.v.Get(k)))
	}
	pr.filterKey = b.String()
	return pr, nil
}

// listPage serves one page of list (an Engine ListX with its filters bound)
// and maps each record with conv.
func listPage[T, W any](c *call, pr pageReq, list func(coffer.ListParams) (coffer.List[T], error),
	id func(T) string, conv func(T) (W, error)) (Page[W], error) {
	page, err := fetchPage(c.h.pages, pr, list, id)
	if err != nil {
		return Page[W]{}, err
	}
	out := Page[W]{Items: make([]W, 0, len(page.Data)), HasMore: page.HasMore, NextCursor: page.NextCursor}
	for _, v := range page.Data {
		w, err := conv(v)
		if err != nil {
			return Page[W]{}, err
		}
		out.Items = append(out.Items, w)
	}
	return out, nil
}

func fetchPage[T any](cache *pageCache, pr pageReq, list func(coffer.ListParams) (coffer.List[T], error), id func(T) string) (coffer.List[T], error) {
	if pr.byCursor {
		return list(pr.cursor)
	}
	// Find where page pr.number starts: a remembered start of that page or
	// of an earlier one, else the beginning.
	from, start, ok := 0, "", true
	if pr.number > 0 {
		from, start, ok = cache.nearest(pr.filterKey, pr.size, pr.number)
	}
	if !ok {
		from, start = 0, ""
	}
	if skip := (pr.number - from) * pr.size; skip > MaxPageOffset {
		return coffer.List[T]{}, invalidParam("page_number",
			"page_number too far ahead of any page read before; walk the pages in order or use starting_after")
	}
	// Walk whole pages from `from` to pr.number, remembering each start.
	for from < pr.number {
		chunk, err := list(coffer.ListParams{Limit: pr.size, StartingAfter: start})
		if err != nil {
			return coffer.List[T]{}, err
		}
		if len(chunk.Data) == 0 || !chunk.HasMore {
			return coffer.List[T]{Data: []T{}}, nil // past the end: {"items": []}
		}
		start = id(chunk.Data[len(chunk.Data)-1])
		from++
		cache.put(pr.filterKey, pr.size, from, start)
	}
	page, err := list(coffer.ListParams{Limit: pr.size, StartingAfter: start})
	if err != nil {
		return page, err
	}
	if page.HasMore && len(page.Data) > 0 {
		cache.put(pr.filterKey, pr.size, pr.number+1, id(page.Data[len(page.Data)-1]))
	}
	if page.Data == nil {
		page.Data = []T{}
	}
	return page, nil
}

// pageCache remembers the cursor each page starts after, per filter key and
// page size, for a while. Bounded: when full, the oldest half goes.
type pageCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	m   map[string]pageStart
	now func() time.Time
}

type pageStart struct {
	after string
	at    time.Time
}

func newPageCache(max int, ttl time.Duration) *pageCache {
	return &pageCache{max: max, ttl: ttl, m: make(map[string]pageStart), now: time.Now}
}

func pageKey(filter string, size, n int) string {
	return filter + "#" + strconv.Itoa(size) + "#" + strconv.Itoa(n)
}

func (c *pageCache) put(filter string, size, n int, after string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		c.evict()
	}
	c.m[pageKey(filter, size, n)] = pageStart{after: after, at: c.now()}
}

// nearest finds the highest remembered page start <= n (within 64 pages;
// beyond that the walk from the start is no worse).
func (c *pageCache) nearest(filter string, size, n int) (int, string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	for k := n; k > 0 && k > n-64; k-- {
		if s, ok := c.m[pageKey(filter, size, k)]; ok && now.Sub(s.at) < c.ttl {
			return k, s.after, true
		}
	}
	return 0, "", false
}

func (c *pageCache) evict() {
	type kv struct {
		k  string
		at time.Time
	}
	all := make([]kv, 0, len(c.m))
	for k, v := range c.m {
		all = append(all, kv{k, v.at})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, e := range all[:len(all)/2+1] {
		delete(c.m, e.k)
	}
}
