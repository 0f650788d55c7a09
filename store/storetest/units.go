package storetest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
)

// RunUnits tests store.Units (credit-unit definitions) and wallets whose
// currency is a unit code (variable length, lower-case). A store whose Tx
// does not implement store.Units skips the definitions part.
func RunUnits(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Definitions", func(t *testing.T) { testUnitDefs(t, newStore) })
	t.Run("Wallets", func(t *testing.T) { testUnitWallets(t, newStore) })
}

func testUnitDefs(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	has := false
	view(t, s, func(tx store.Tx) { _, has = tx.(store.Units) })
	if !has {
		t.Skip("the store keeps no units")
	}
	view(t, s, func(tx store.Tx) {
		u := tx.(store.Units)
		_, err := u.Unit("api_calls")
		require.ErrorIs(t, err, store.ErrNotFound)
		list, err := u.ListUnits()
		require.NoError(t, err)
		require.Empty(t, list)
		require.ErrorIs(t, u.InsertUnit(money.Unit{Code: "x1", CreatedAt: t0}), store.ErrReadOnly)
	})
	calls := money.Unit{Code: "api_calls", Exponent: 0, Name: "API calls", CreatedAt: t0}
	credits := money.Unit{Code: "credits", Exponent: 2, Name: "Credits",
		Price: &money.UnitPrice{Amount: 150, Currency: "USD", Per: 100}, CreatedAt: minutes(1)}
	update(t, s, func(tx store.Tx) {
		u := tx.(store.Units)
		require.NoError(t, u.InsertUnit(credits))
		require.NoError(t, u.InsertUnit(calls))
		dup := calls
		dup.Exponent = 3
		require.ErrorIs(t, u.InsertUnit(dup), store.ErrDuplicate)
	})
	// A rolled-back insert leaves nothing.
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		require.NoError(t, tx.(store.Units).InsertUnit(money.Unit{Code: "tokens", CreatedAt: t0}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	view(t, s, func(tx store.Tx) {
		u := tx.(store.Units)
		got, err := u.Unit("credits")
		require.NoError(t, err)
		require.Equal(t, credits, got)
		got.Price.Amount = 1 // returned records never alias stored ones
		again, err := u.Unit("credits")
		require.NoError(t, err)
		require.Equal(t, int64(150), again.Price.Amount)
		got, err = u.Unit("api_calls")
		require.NoError(t, err)
		require.Equal(t, calls, got)
		_, err = u.Unit("API_CALLS")
		require.ErrorIs(t, err, store.ErrNotFound, "codes are exact")
		_, err = u.Unit("tokens")
		require.ErrorIs(t, err, store.ErrNotFound, "rolled back")
		list, err := u.ListUnits()
		require.NoError(t, err)
		require.Equal(t, []money.Unit{calls, credits}, list)
	})
}

// testUnitWallets stores balances and entries in unit codes beside ISO
// ones: lookups are exact, lists sorted by code (byte order: "USD" before
// "api_calls"), filters by currency keep one unit.
func testUnitWallets(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	cus := newCustomerID(t, s)
	e1 := newEntry(cus, "api_calls", "k1")
	e2 := newEntry(cus, "api_calls_v2", "k2")
	e3 := newEntry(cus, "USD", "k3")
	update(t, s, func(tx store.Tx) {
		for _, cur := range []string{"api_calls_v2", "USD", "api_calls"} {
			require.NoError(t, tx.PutBalance(newBalance(cus, cur, 100)))
		}
		for _, e := range []ledger.Entry{e1, e2, e3} {
			require.NoError(t, tx.InsertEntry(e))
		}
	})
	view(t, s, func(tx store.Tx) {
		bs, err := tx.Balances(cus)
		require.NoError(t, err)
		var codes []string
		for _, b := range bs {
			codes = append(codes, b.Currency)
		}
		require.Equal(t, []string{"USD", "api_calls", "api_calls_v2"}, codes)
		b, err := tx.Balance(cus, "api_calls")
		require.NoError(t, err)
		require.Equal(t, "api_calls", b.Currency)
		_, err = tx.Balance(cus, "api_call")
		require.ErrorIs(t, err, store.ErrNotFound)
		list, _, err := tx.ListEntries(store.EntryQuery{CustomerID: cus, Currency: "api_calls"})
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, e1.ID, list[0].ID)
		got, err := tx.EntryByKey(cus, "k2")
		require.NoError(t, err)
		require.Equal(t, "api_calls_v2", got.Currency)
	})
}
