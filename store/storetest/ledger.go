package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/wallet"
)

func testBalances(t *testing.T, newStore newStoreFunc) {
	t.Run("PutGet", func(t *testing.T) {
		s := newStore(t)
		cus := newCustomerID(t, s)
		b := newBalance(cus, "USD", 1000)
		view(t, s, func(tx store.Tx) {
			_, err := tx.Balance(cus, "USD")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutBalance(b))
			got, err := tx.Balance(cus, "USD")
			require.NoError(t, err)
			require.Equal(t, b, got, "a write is visible later in its transaction")
		})
		b.Amount, b.Held, b.Low, b.UpdatedAt = 40, 0, true, minutes(1)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutBalance(b)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Balance(cus, "USD")
			require.NoError(t, err)
			require.Equal(t, b, got)
			_, err = tx.Balance(cus, "INR")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.Balance(newID("cus"), "USD")
			require.ErrorIs(t, err, store.ErrNotFound)
		})
	})
	t.Run("SortedByCurrency", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		update(t, s, func(tx store.Tx) {
			for _, cur := range []string{"USD", "EUR", "JPY"} {
				require.NoError(t, tx.PutBalance(newBalance(cus, cur, 100)))
			}
			require.NoError(t, tx.PutBalance(newBalance(other, "AUD", 5)))
		})
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutBalance(newBalance(cus, "INR", 100)))
			require.NoError(t, tx.PutBalance(newBalance(cus, "USD", 700)))
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.Balances(cus)
			require.NoError(t, err)
			require.Equal(t, []wallet.Balance{newBalance(cus, "EUR", 100), newBalance(cus, "INR", 100),
				newBalance(cus, "JPY", 100), newBalance(cus, "USD", 700)}, got)
			got, err = tx.Balances(newID("cus"))
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}

func testEntries(t *testing.T, newStore newStoreFunc) {
	t.Run("InsertGet", func(t *testing.T) {
		s := newStore(t)
		e := newEntry(newCustomerID(t, s), "USD", "key-1")
		e.Type, e.Reference = ledger.Debit, ledger.Reference{Type: ledger.RefManual}
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertEntry(e)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Entry(e.ID)
			require.NoError(t, err)
			require.Equal(t, e, got)
			got, err = tx.EntryByKey(e.CustomerID, "key-1")
			require.NoError(t, err)
			require.Equal(t, e, got)
			_, err = tx.EntryByKey(e.CustomerID, "key-2")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = tx.EntryByKey(newID("cus"), "key-1")
			require.ErrorIs(t, err, store.ErrNotFound, "keys are scoped to the customer")
		})
	})
	t.Run("Duplicates", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		e := newEntry(cus, "USD", "key-1")
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertEntry(e)) })

		sameID := newEntry(cus, "USD", "key-2")
		sameID.ID = e.ID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertEntry(sameID) }), store.ErrDuplicate)

		sameKey := newEntry(cus, "INR", "key-1")
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertEntry(sameKey) }), store.ErrDuplicate)

		// The same key for another customer, and any number of entries
		// without a key, are fine.
		otherKey := newEntry(other, "USD", "key-1")
		noKey1, noKey2 := newEntry(cus, "USD", ""), newEntry(cus, "USD", "")
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertEntry(otherKey))
			require.NoError(t, tx.InsertEntry(noKey1))
			require.NoError(t, tx.InsertEntry(noKey2))
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.EntryByKey(cus, "key-1")
			require.NoError(t, err)
			require.Equal(t, e, got)
			got, err = tx.EntryByKey(other, "key-1")
			require.NoError(t, err)
			require.Equal(t, otherKey, got)
			_, err = tx.Entry(sameKey.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			list, _, err := tx.ListEntries(store.EntryQuery{CustomerID: cus})
			require.NoError(t, err)
			require.Equal(t, []ledger.Entry{noKey2, noKey1, e}, list)
		})
	})
}

func testHolds(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	h := newHold(newCustomerID(t, s))
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutHold(h)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.Hold(h.ID)
		require.NoError(t, err)
		require.Equal(t, h, got)
	})
	h.Status, h.EntryID, h.UpdatedAt = ledger.HoldCaptured, "le_1", minutes(3)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutHold(h)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.Hold(h.ID)
		require.NoError(t, err)
		require.Equal(t, h, got)
	})
}

func testProducts(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	p := newProduct()
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutProduct(p)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.Product(p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got)
	})
	p.Price, p.Name = 2999, "Plan+"
	p.OneTime, p.TaxCategory, p.Metadata, p.UpdatedAt = true, "digital_products", map[string]string{"sku": "A-1"}, t0.Add(time.Hour)
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutProduct(p)) })
	view(t, s, func(tx store.Tx) {
		got, err := tx.Product(p.ID)
		require.NoError(t, err)
		require.Equal(t, p, got)
		got.Metadata["sku"] = "changed" // a returned record never aliases the stored one
		again, err := tx.Product(p.ID)
		require.NoError(t, err)
		require.Equal(t, "A-1", again.Metadata["sku"])
		page, _, err := tx.QueryProducts(store.ProductListQuery{Page: store.Page{Limit: 10}})
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, p, page[0])
	})
}
