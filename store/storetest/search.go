package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

// searchAll reads every page of a search, newest first (default budgets).
func searchAll(t *testing.T, s store.Store, sq customer.Search) []customer.Customer {
	t.Helper()
	var out []customer.Customer
	q := store.CustomerSearchQuery{Search: sq, Page: store.Page{Limit: store.MaxLimit}}
	for i := 0; ; i++ {
		pg := searchPage(t, s, q)
		out = append(out, pg.Customers...)
		if !pg.HasMore {
			return out
		}
		require.Less(t, i, 1000, "search walk does not end")
		q.StartingAfter = pg.Cursor
	}
}

func searchPage(t *testing.T, s store.Store, q store.CustomerSearchQuery) store.SearchPage {
	t.Helper()
	var pg store.SearchPage
	view(t, s, func(tx store.Tx) {
		var err error
		pg, err = tx.SearchCustomers(q)
		require.NoError(t, err)
	})
	return pg
}

// refSearch is the search plan of store/search.go written naively over all
// customers (oldest first): what every store must answer, page for page,
// cursor for cursor.
func refSearch(all []customer.Customer, q store.CustomerSearchQuery) store.SearchPage {
	candidates, scan := q.Budgets()
	limit := q.Size()
	pos := func(id string) int {
		return slices.IndexFunc(all, func(c customer.Customer) bool { return c.ID == id })
	}
	lo, hi := -1, len(all)
	if q.StartingAfter != "" {
		hi = pos(q.StartingAfter)
	}
	if q.EndingBefore != "" {
		lo = pos(q.EndingBefore)
	}
	back := q.EndingBefore != "" && q.StartingAfter == ""
	selective := false
	inAll := make([]bool, len(all)) // in every selective term's range
	for i := range inAll {
		inAll[i] = true
	}
	for _, term := range q.Search.Terms() {
		n := 0
		has := make([]bool, len(all))
		for i, c := range all {
			for _, tok := range customer.Tokens(c) {
				if strings.HasPrefix(tok, term) {
					n++
					has[i] = true
				}
			}
		}
		if n > candidates {
			continue
		}
		selective = true
		for i := range inAll {
			inAll[i] = inAll[i] && has[i]
		}
	}
	var order []int // positions in walking order within the bounds
	for i := lo + 1; i < hi; i++ {
		order = append(order, i)
	}
	if !back {
		slices.Reverse(order)
	}
	var out store.SearchPage
	read := 0
	last := ""
	for _, i := range order {
		c := all[i]
		if selective {
			if !inAll[i] || !q.Search.Matches(c) {
				continue
			}
		} else {
			if read == scan {
				out.HasMore = true
				break
			}
			read++
			last = c.ID
			if !q.Search.Matches(c) {
				continue
			}
		}
		if len(out.Customers) == limit {
			out.HasMore = true
			break
		}
		out.Customers = append(out.Customers, c)
	}
	if out.HasMore {
		if !selective && len(out.Customers) < limit {
			out.Cursor = last
		} else {
			out.Cursor = out.Customers[len(out.Customers)-1].ID
		}
	}
	if back {
		slices.Reverse(out.Customers)
	}
	return out
}

func searchIDs(l []customer.Customer) []string {
	return ids(l, func(c customer.Customer) string { return c.ID })
}

// testSearch pins customer search (issue 13) on every store: word-prefix
// semantics (customer.Tokens, customer.Search.Matches), folding, paging in
// both directions, the candidate and scan budgets with their cursors, and
// the index kept in the customer's own transaction (update, rollback).
func testSearch(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	people := []struct{ name, email, phone, desc string }{
		{"Anna Bell", "anna.bell@example.com", "+1 (555) 123-4567", "École primaire"},
		{"ANNA-LISA Smith", "lisa@corp.example", "", "école"},
		{"Bob Annandale", "BOB@Example.COM", "5551234567", "gold member"},
		{"Zoë Ångström", "zoe@xn--example.se", "+46 8 123 45", "ÉCOLE NORMALE"},
		{"Ünal Çelik", "unal@example.com.tr", "", "ecole without accent"},
		{"Sam Upper", "SAM@example.com", "", "gold"},
		{"Sam Long", "ſam@example.com", "", ""},
		{"ΣΊΣΥΦΟΣ", "sisyphus@example.gr", "", "ends in ς"},
		{"E\u0301milie", "emilie@example.fr", "", "decomposed é"},
		{"O'Neil Zed-42", "oneil@example.com", "555.0100", "gold vip"},
	}
	for i := range 14 { // common words, to reach the budgets
		people = append(people, struct{ name, email, phone, desc string }{
			fmt.Sprintf("Common Person %d", i), fmt.Sprintf("common%d@example.com", i), "", "common"})
	}
	var all []customer.Customer // oldest first
	update(t, s, func(tx store.Tx) {
		for i, p := range people {
			c := newCustomer(i)
			c.Name, c.Email, c.Phone, c.Description = p.name, p.email, p.phone, p.desc
			require.NoError(t, tx.InsertCustomer(c))
			all = append(all, c)
		}
	})
	queries := []string{
		"anna", "ANNA", "ann", "anna bell", "bell anna", "anna-lisa", "anna-", "lisa", "annandale",
		"nna", "ell", // substrings, not prefixes: nothing
		"example.com", "@example.com", "example", "corp.example", "anna.bell@example.com", "bob@example.com",
		"555", "5551234567", "15551234567", "123-4567", "(555)", "+46",
		"école", "ÉCOLE", "ecole", "école normale", "ångström", "ÅNGSTRÖM", "zoë", "zoe",
		"sam", "ſam", "SAM long", "σίσυφος", "ς", "e\u0301milie", "émilie",
		"gold", "gold vip", "o'neil", "neil", "zed-4", "zed-42", "zed",
		"common", "common person", "common 13", "common gold", "person 1", "cus", "zzz", "common zzz",
		// All terms common under the small budgets below: a dense
		// conjunction, a rare one, an empty one (each paged both ways).
		"person example common", "common person 1", "common anna", "example com person",
		"COMMON Person", "common ſam", "common 12 person", // case, a non-ASCII term, digits
	}
	for _, q := range queries {
		sq := search(t, q)
		var want []string
		for i := len(all) - 1; i >= 0; i-- {
			if sq.Matches(all[i]) {
				want = append(want, all[i].ID)
			}
		}
		requireIDs(t, want, searchIDs(searchAll(t, s, sq)), "search %q", q)
	}
	// Spot checks of the semantics, beside the reference.
	names := func(q string) []string {
		return ids(searchAll(t, s, search(t, q)), func(c customer.Customer) string { return c.Name })
	}
	require.Equal(t, []string{"Zoë Ångström", "ANNA-LISA Smith", "Anna Bell"}, names("ÉCOLE"), "folded, accents kept")
	require.Equal(t, []string{"Ünal Çelik"}, names("ecole"))
	require.Equal(t, []string{"Sam Long", "Sam Upper"}, names("ſam"))
	require.Equal(t, []string{"Bob Annandale"}, names("5551234567"), "the digits run together are one token, from the first")
	require.Equal(t, []string{"Anna Bell"}, names("+1555123"))
	require.Empty(t, names("nna"), "a term is a word prefix, not a substring")
	require.Equal(t, []string{"Bob Annandale", "ANNA-LISA Smith", "Anna Bell"}, names("anna"))
	require.Equal(t, []string{"E\u0301milie"}, names("E\u0301MILIE"))
	require.Empty(t, names("émilie"), "no Unicode normalization: a composed é is not e + U+0301")

	// Every query, budget and cursor answers as the reference does, page
	// by page, cursor by cursor, in both directions.
	budgets := [][2]int{{0, 0}, {3, 5}, {20, 9}, {1, 1}}
	for _, q := range queries {
		sq := search(t, q)
		for _, b := range budgets {
			for _, limit := range []int{1, 3, 100} {
				base := store.CustomerSearchQuery{Search: sq, Candidates: b[0], Scan: b[1], Page: store.Page{Limit: limit}}
				for _, dir := range []string{"forward", "backward"} {
					qq := base
					if dir == "backward" {
						qq.EndingBefore = all[0].ID
					}
					for i := 0; ; i++ {
						want := refSearch(all, qq)
						got := searchPage(t, s, qq)
						msg := fmt.Sprintf("search %q budgets %v limit %d %s page %d", q, b, limit, dir, i)
						requireIDs(t, searchIDs(want.Customers), searchIDs(got.Customers), msg)
						require.Equal(t, want.HasMore, got.HasMore, msg)
						require.Equal(t, want.Cursor, got.Cursor, msg)
						if !got.HasMore {
							break
						}
						require.Less(t, i, 2*len(all), msg)
						if dir == "forward" {
							qq.StartingAfter = got.Cursor
						} else {
							qq.EndingBefore = got.Cursor
						}
					}
				}
			}
		}
	}

	// The scan budget: every term common, the page ends where the budget
	// does, short (here empty), with a cursor to continue from.
	pg := searchPage(t, s, store.CustomerSearchQuery{Search: search(t, "common anna"), Candidates: 2, Scan: 5})
	require.Empty(t, pg.Customers)
	require.True(t, pg.HasMore)
	require.Equal(t, all[len(all)-5].ID, pg.Cursor, "the last customer read")

	// An unknown cursor is ErrNotFound.
	view(t, s, func(tx store.Tx) {
		for _, p := range []store.Page{{StartingAfter: "cus_unknown"}, {EndingBefore: "cus_unknown"}} {
			_, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: search(t, "anna"), Page: p})
			require.ErrorIs(t, err, store.ErrNotFound)
		}
	})

	// An update moves the customer in the index, in its transaction.
	c := all[0]
	c.Name, c.Email, c.Phone = "Xavier Quux", "xq@other.example", "+33 1 00"
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateCustomer(c)) })
	require.Empty(t, names("bell"))
	require.Equal(t, []string{"Bob Annandale", "ANNA-LISA Smith"}, names("anna"))
	require.Equal(t, []string{"Xavier Quux"}, names("xavier quu"))
	require.Equal(t, []string{"Xavier Quux"}, names("other.example"))
	require.Equal(t, []string{"Xavier Quux"}, names("école primaire"), "the description was kept")

	// A rolled-back insert or update leaves no index entry, and the old
	// entries in place.
	ghost := newCustomer(99)
	ghost.Name, ghost.Email = "Ghostly Rollback", "ghost@haunt.example"
	moved := all[1]
	moved.Name = "Renamed Wraith"
	err := s.Update(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.InsertCustomer(ghost))
		require.NoError(t, tx.UpdateCustomer(moved))
		pg, err := tx.SearchCustomers(store.CustomerSearchQuery{Search: search(t, "ghostly")})
		require.NoError(t, err)
		require.Len(t, pg.Customers, 1, "a transaction sees its own writes")
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.Empty(t, names("ghostly"))
	require.Empty(t, names("haunt.example"))
	require.Empty(t, names("wraith"))
	require.Equal(t, []string{"ANNA-LISA Smith"}, names("anna-lisa"))
	view(t, s, func(tx store.Tx) {
		l, _, err := tx.ListCustomers(store.CustomerQuery{Email: "ghost@haunt.example"})
		require.NoError(t, err)
		require.Empty(t, l, "nor an email index entry")
	})
}

// testEmailIndex: the email filter follows updates and rollbacks on every
// store (memory keeps a folded email -> customers map).
func testEmailIndex(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	var cs []customer.Customer
	update(t, s, func(tx store.Tx) {
		for i := range 5 {
			c := newCustomer(i)
			c.DID = ""
			c.Email = []string{"a@x.example", "B@x.example", "a@X.example"}[i%3]
			require.NoError(t, tx.InsertCustomer(c))
			cs = append(cs, c)
		}
	})
	byEmail := func(e string) []string {
		var out []string
		view(t, s, func(tx store.Tx) {
			l, _, err := tx.ListCustomers(store.CustomerQuery{Email: e})
			require.NoError(t, err)
			out = searchIDs(l)
		})
		return out
	}
	requireIDs(t, []string{cs[3].ID, cs[2].ID, cs[0].ID}, byEmail("A@x.EXAMPLE"))
	c := cs[0]
	c.Email = "b@x.example"
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateCustomer(c)) })
	requireIDs(t, []string{cs[3].ID, cs[2].ID}, byEmail("a@x.example"))
	requireIDs(t, []string{cs[4].ID, cs[1].ID, cs[0].ID}, byEmail("b@x.example"), "an old customer keeps its place")
	err := s.Update(ctx, func(tx store.Tx) error {
		c := cs[2]
		c.Email = "c@x.example"
		require.NoError(t, tx.UpdateCustomer(c))
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	requireIDs(t, []string{cs[3].ID, cs[2].ID}, byEmail("a@x.example"))
	require.Empty(t, byEmail("c@x.example"))
	checkPaging(t, s, []string{cs[4].ID, cs[1].ID, cs[0].ID}, 1, func(tx store.Tx, p store.Page) ([]string, bool, error) {
		l, more, err := tx.ListCustomers(store.CustomerQuery{Email: "B@X.example", Page: p})
		return searchIDs(l), more, err
	})
}
