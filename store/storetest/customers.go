package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/store"
)

func testCustomers(t *testing.T, newStore newStoreFunc) {
	t.Run("InsertGet", func(t *testing.T) {
		s := newStore(t)
		c := newCustomer(1)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Customer(c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
			got, err = tx.CustomerByDID(c.DID)
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	})
	t.Run("MinimalRecord", func(t *testing.T) {
		s := newStore(t)
		c := customer.Customer{ID: newID("cus"), CreatedAt: t0, UpdatedAt: t0}
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Customer(c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	})
	t.Run("DuplicateID", func(t *testing.T) {
		s := newStore(t)
		c := newCustomer(1)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
		err := s.Update(ctx, func(tx store.Tx) error {
			d := newCustomer(2)
			d.ID = c.ID
			return tx.InsertCustomer(d)
		})
		require.ErrorIs(t, err, store.ErrDuplicate)
		view(t, s, func(tx store.Tx) {
			got, err := tx.Customer(c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
		})
	})
	t.Run("DuplicateDIDOnInsert", func(t *testing.T) {
		s := newStore(t)
		c := newCustomer(1)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
		d := newCustomer(2)
		d.DID = c.DID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(d) }), store.ErrDuplicate)
		view(t, s, func(tx store.Tx) {
			_, err := tx.Customer(d.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})
	t.Run("EmptyDIDNotUnique", func(t *testing.T) {
		s := newStore(t)
		a, b := newCustomer(1), newCustomer(2)
		a.DID, b.DID = "", ""
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertCustomer(a))
			require.NoError(t, tx.InsertCustomer(b))
		})
		update(t, s, func(tx store.Tx) {
			b.Name = "renamed"
			require.NoError(t, tx.UpdateCustomer(b))
		})
		view(t, s, func(tx store.Tx) {
			_, err := tx.CustomerByDID("")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})
	t.Run("Update", func(t *testing.T) {
		s := newStore(t)
		c := newCustomer(1)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(c)) })
		oldDID := c.DID
		c.Name, c.Email, c.DID, c.Metadata, c.Address = "New Name", "new@example.com", "did:example:moved", nil, nil
		c.UpdatedAt = minutes(5)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateCustomer(c)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Customer(c.ID)
			require.NoError(t, err)
			require.Equal(t, c, got)
			got, err = tx.CustomerByDID("did:example:moved")
			require.NoError(t, err)
			require.Equal(t, c.ID, got.ID)
			_, err = tx.CustomerByDID(oldDID)
			require.ErrorIs(t, err, store.ErrNotFound)
		})
		// The released DID is free for another customer.
		d := newCustomer(2)
		d.DID = oldDID
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertCustomer(d)) })
	})
	t.Run("DuplicateDIDOnUpdate", func(t *testing.T) {
		s := newStore(t)
		a, b := newCustomer(1), newCustomer(2)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertCustomer(a))
			require.NoError(t, tx.InsertCustomer(b))
		})
		b2 := b
		b2.DID = a.DID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdateCustomer(b2) }), store.ErrDuplicate)
		// Keeping one's own DID is no conflict.
		b.Name = "same did"
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateCustomer(b)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.CustomerByDID(a.DID)
			require.NoError(t, err)
			require.Equal(t, a.ID, got.ID)
			got, err = tx.CustomerByDID(b.DID)
			require.NoError(t, err)
			require.Equal(t, b, got)
		})
	})
	t.Run("UpdateMissing", func(t *testing.T) {
		s := newStore(t)
		err := s.Update(ctx, func(tx store.Tx) error { return tx.UpdateCustomer(newCustomer(1)) })
		require.ErrorIs(t, err, store.ErrNotFound)
	})
	t.Run("ListFilters", func(t *testing.T) {
		s := newStore(t)
		emails := []string{"ann@example.com", "bob@example.com", "ANN@Example.COM", "anna@example.com",
			"", "Ann@example.com", "carl@ann.example.com"}
		names := []string{"Ann Lee", "Bob Stone", "Ann Other", "Anna Bell", "Nameless", "Ann Third", "Carl Ann"}
		var all []customer.Customer // newest first
		update(t, s, func(tx store.Tx) {
			for i := range emails {
				c := newCustomer(i)
				c.Email, c.Name = emails[i], names[i]
				c.Description = ""
				require.NoError(t, tx.InsertCustomer(c))
				all = append([]customer.Customer{c}, all...)
			}
		})
		filter := func(keep func(customer.Customer) bool) []string {
			var ids []string
			for _, c := range all {
				if keep(c) {
					ids = append(ids, c.ID)
				}
			}
			return ids
		}
		list := func(q store.CustomerQuery) []string {
			var ids []string
			view(t, s, func(tx store.Tx) {
				got, more, err := tx.ListCustomers(q)
				require.NoError(t, err)
				require.False(t, more)
				for _, c := range got {
					ids = append(ids, c.ID)
				}
			})
			return ids
		}
		require.Equal(t, filter(func(customer.Customer) bool { return true }), list(store.CustomerQuery{}))
		annExact := filter(func(c customer.Customer) bool {
			return c.Name == "Ann Lee" || c.Name == "Ann Other" || c.Name == "Ann Third"
		})
		require.Len(t, annExact, 3)
		require.Equal(t, annExact, list(store.CustomerQuery{Email: "ann@example.com"}))
		require.Equal(t, annExact, list(store.CustomerQuery{Email: "aNn@ExAmPlE.cOm"}))
		require.Empty(t, list(store.CustomerQuery{Email: "nobody@example.com"}))
		for _, q := range []string{"ann", "ANN example", "bell anna", "carl", all[3].ID[4:20], "zzz"} {
			want := filter(func(c customer.Customer) bool { return customer.Matches(c, q) })
			requireIDs(t, want, searchIDs(searchAll(t, s, search(t, q))), "search %q", q)
		}
		require.Len(t, searchAll(t, s, search(t, "bell anna")), 1)

		// Paging within a filter.
		checkPaging(t, s, annExact, 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
			got, more, err := tx.ListCustomers(store.CustomerQuery{Email: "ANN@example.com", Page: p})
			return ids(got, func(c customer.Customer) string { return c.ID }), more, err
		})
	})
	t.Run("FoldedFilters", func(t *testing.T) { testFoldedFilters(t, newStore) })
	t.Run("Search", func(t *testing.T) { testSearch(t, newStore) })
	t.Run("EmailIndex", func(t *testing.T) { testEmailIndex(t, newStore) })
}

func search(t *testing.T, q string) customer.Search {
	t.Helper()
	s, err := customer.ParseSearch(q)
	require.NoError(t, err)
	return s
}

// testFoldedFilters pins the one case folding (customer.Fold) on every
// store. memory compared emails with strings.EqualFold, bbolt and
// PostgreSQL with strings.ToLower, so "ſam@example.com" (long s) matched
// "SAM@example.com" on memory only; search folded with strings.ToLower
// everywhere, so "ſam" found "SAM" nowhere but "ς" and "σ" differed.
// PostgreSQL joined the searched fields with U+0001 and so let a field
// holding U+0001 take part in a match no other store made.
func testFoldedFilters(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	people := []struct{ name, email, desc string }{
		{"Sam Upper", "SAM@example.com", ""},
		{"Sam Long", "ſam@example.com", ""},
		{"Sam Lower", "sam@Example.COM", ""},
		{"ΣΊΣΥΦΟΣ", "sisyphus@example.gr", "ends in ς"},
		{"İpek", "İpek@example.tr", "dotted capital I"},
		{"ipek lower", "IPEK@example.tr", ""},
		{"Kelvin", "\u212a@example.com", "\u212a"},
		{"a\x01b", "ctl@example.com", "a field holding U+0001"},
	}
	var all []customer.Customer // newest first
	update(t, s, func(tx store.Tx) {
		for i, p := range people {
			c := newCustomer(i)
			c.DID = ""
			c.Name, c.Email, c.Description, c.Phone = p.name, p.email, p.desc, ""
			require.NoError(t, tx.InsertCustomer(c))
			all = append([]customer.Customer{c}, all...)
		}
	})
	list := func(q store.CustomerQuery) []string {
		var out []string
		view(t, s, func(tx store.Tx) {
			got, _, err := tx.ListCustomers(q)
			require.NoError(t, err)
			out = ids(got, func(c customer.Customer) string { return c.Name })
		})
		return out
	}
	names := func(keep func(customer.Customer) bool) []string {
		out := []string{}
		for _, c := range all {
			if keep(c) {
				out = append(out, c.Name)
			}
		}
		return out
	}
	for _, email := range []string{"sam@example.com", "ſAM@EXAMPLE.com", "SAM@example.com", "ipek@example.tr",
		"İPEK@example.tr", "k@example.com", "\u212a@EXAMPLE.COM", "nobody@example.com"} {
		want := names(func(c customer.Customer) bool { return customer.Fold(c.Email) == customer.Fold(email) })
		require.Equal(t, want, append([]string{}, list(store.CustomerQuery{Email: email})...), "email %q", email)
	}
	require.Len(t, list(store.CustomerQuery{Email: "sam@example.com"}), 3)
	require.Len(t, list(store.CustomerQuery{Email: "K@example.com"}), 1)
	searchNames := func(sq customer.Search) []string {
		return ids(searchAll(t, s, sq), func(c customer.Customer) string { return c.Name })
	}
	for _, q := range []string{"sam", "ſam", "SAM long", "σίσυφος", "ς", "ΣΊΣ", "ipek", "İpek", "İ", "\u212a",
		"kelvin", "k@", "b", "a", "example sam"} {
		sq := search(t, q)
		want := names(sq.Matches)
		require.Equal(t, want, append([]string{}, searchNames(sq)...), "search %q", q)
	}
	require.Len(t, searchNames(search(t, "sam")), 3)
	require.Len(t, searchNames(search(t, "ſAM")), 3)
	require.Equal(t, []string{"ΣΊΣΥΦΟΣ"}, searchNames(search(t, "σίσυφος")))
	require.Equal(t, []string{"ipek lower"}, searchNames(search(t, "ipek")))
}
