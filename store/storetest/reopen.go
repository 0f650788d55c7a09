package storetest

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func testReopen(t *testing.T, open func(t *testing.T, path string) store.Store) {
	path := filepath.Join(t.TempDir(), "coffer.db")
	s := open(t, path)
	fx := populate(t, s)
	// A rolled-back transaction leaves nothing on disk either.
	m := newMutation(t, s, fx)
	err := s.Update(ctx, func(tx store.Tx) error {
		m.apply(t, tx, fx)
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	require.NoError(t, s.Close())

	s = open(t, path)
	require.Equal(t, fx.dump, dump(t, s, fx), "everything committed survives reopening")
	requireAbsent(t, s, m)

	// Indexes and sequences carry on where they were.
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertEntry(newEntry(fx.c1, "USD", "k1"))
	}), store.ErrDuplicate)
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		return tx.InsertPayment(newPayment(fx.c1, "pk1", subscription.PaymentPending))
	}), store.ErrDuplicate)
	dupDID := newCustomer(7)
	dupDID.DID = fx.did1
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertCustomer(dupDID) }), store.ErrDuplicate)
	update(t, s, func(tx store.Tx) { m.apply(t, tx, fx) })
	m.requireApplied(t, s, fx)
	view(t, s, func(tx store.Tx) {
		list, _, err := tx.ListCustomers(store.CustomerQuery{Page: store.Page{Limit: 1}})
		require.NoError(t, err)
		require.Equal(t, m.customer.ID, list[0].ID, "a record inserted after reopening is the newest")
	})
	after := dump(t, s, fx)
	require.NoError(t, s.Close())

	s = open(t, path)
	require.Equal(t, after, dump(t, s, fx))
	m.requireApplied(t, s, fx)
}
