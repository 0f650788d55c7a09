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
			require.Equal(t, want, list(store.CustomerQuery{Search: q}), "search %q", q)
		}
		require.Len(t, list(store.CustomerQuery{Search: "bell anna"}), 1)
		both := filter(func(c customer.Customer) bool {
			return c.Name == "Ann Other" // email ann@example.com (any case) and matches "other"
		})
		require.Equal(t, both, list(store.CustomerQuery{Email: "ann@example.com", Search: "other"}))

		// Paging within a filter.
		checkPaging(t, s, annExact, 2, func(tx store.Tx, p store.Page) ([]string, bool, error) {
			got, more, err := tx.ListCustomers(store.CustomerQuery{Email: "ANN@example.com", Page: p})
			return ids(got, func(c customer.Customer) string { return c.ID }), more, err
		})
	})
}
