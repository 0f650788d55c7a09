package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
)

// RunCreditGrants tests store.CreditGrants (credit grants and allocations).
// A store whose Tx does not implement it skips it.
func RunCreditGrants(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Grants", func(t *testing.T) { testGrants(t, newStore) })
	t.Run("DueGrants", func(t *testing.T) { testDueGrants(t, newStore) })
	t.Run("Allocations", func(t *testing.T) { testAllocations(t, newStore) })
}

// grantsOf returns tx's CreditGrants, skipping the test when it has none.
func grantsOf(t *testing.T, s store.Store) {
	t.Helper()
	has := false
	view(t, s, func(tx store.Tx) { _, has = tx.(store.CreditGrants) })
	if !has {
		t.Skip("the store keeps no credit grants")
	}
}

// newGrant inserts a credit entry and returns its grant (not inserted).
func newGrant(t *testing.T, s store.Store, customerID string, amount int64, expires time.Time) ledger.Grant {
	t.Helper()
	e := newEntry(customerID, "USD", "")
	e.Amount = amount
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertEntry(e)) })
	return ledger.NewGrant(e, ledger.CreditTerms{Kind: ledger.KindGranted, Priority: 2, ExpiresAt: expires})
}

func byGrantID(gs []ledger.Grant) []ledger.Grant {
	slices.SortFunc(gs, func(a, b ledger.Grant) int { return strings.Compare(a.ID, b.ID) })
	return gs
}

func testGrants(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	grantsOf(t, s)
	cus := newCustomerID(t, s)
	g1 := newGrant(t, s, cus, 1000, minutes(60))
	g2 := newGrant(t, s, cus, 500, time.Time{})
	update(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		require.NoError(t, cg.InsertGrant(g1))
		require.NoError(t, cg.InsertGrant(g2))
		require.ErrorIs(t, cg.InsertGrant(g1), store.ErrDuplicate)
		missing := g1
		missing.ID = newID("le")
		require.ErrorIs(t, cg.UpdateGrant(missing), store.ErrNotFound)
	})
	view(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		got, err := cg.Grant(g1.ID)
		require.NoError(t, err)
		require.Equal(t, g1, got)
		got, err = cg.Grant(g2.ID)
		require.NoError(t, err)
		require.Equal(t, g2, got, "no expiry reads as the zero time")
		_, err = cg.Grant(newID("le"))
		require.ErrorIs(t, err, store.ErrNotFound)
		open, err := cg.OpenGrants(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, byGrantID([]ledger.Grant{g1, g2}), byGrantID(open))
		open, err = cg.OpenGrants(cus, "INR")
		require.NoError(t, err)
		require.Empty(t, open)
		_, _, err = cg.BalanceGrants(cus, "USD")
		require.ErrorIs(t, err, store.ErrNotFound, "no balance yet")
		require.ErrorIs(t, cg.InsertGrant(g1), store.ErrReadOnly)
		require.ErrorIs(t, cg.UpdateGrant(g1), store.ErrReadOnly)
		require.ErrorIs(t, cg.PutAllocations("x", nil), store.ErrReadOnly)
	})

	// Consumed whole, a grant leaves the open grants and stays listed.
	g1.Remaining = 0
	update(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		require.NoError(t, tx.PutBalance(newBalance(cus, "USD", 500)))
		require.NoError(t, cg.UpdateGrant(g1))
	})
	view(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		b, open, err := cg.BalanceGrants(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, newBalance(cus, "USD", 500), b)
		require.Equal(t, []ledger.Grant{g2}, open)
		all, err := cg.ListGrants(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, byGrantID([]ledger.Grant{g1, g2}), byGrantID(all))
	})

	// A rolled-back transaction leaves no grant and no change.
	g3 := newGrant(t, s, cus, 300, minutes(5))
	boom := errors.New("boom")
	g2b := g2
	g2b.Held = 100
	err := s.Update(ctx, func(tx store.Tx) error {
		cg := tx.(store.CreditGrants)
		require.NoError(t, cg.InsertGrant(g3))
		require.NoError(t, cg.UpdateGrant(g2b))
		require.NoError(t, cg.PutAllocations("le_rolled", []ledger.Allocation{{GrantID: g3.ID, Amount: 1}}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	view(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		_, err := cg.Grant(g3.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		got, err := cg.Grant(g2.ID)
		require.NoError(t, err)
		require.Equal(t, g2, got)
		a, err := cg.Allocations("le_rolled")
		require.NoError(t, err)
		require.Empty(t, a)
		due, err := cg.DueGrants(far, 0)
		require.NoError(t, err)
		require.Empty(t, due)
	})
}

func testDueGrants(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	grantsOf(t, s)
	cus := newCustomerID(t, s)
	var gs []ledger.Grant
	for i, m := range []int{30, 10, 20, 40, 0} {
		exp := time.Time{}
		if m > 0 {
			exp = minutes(m)
		}
		g := newGrant(t, s, cus, int64(100*(i+1)), exp)
		gs = append(gs, g)
	}
	gs[3].Held = gs[3].Remaining // due but held whole
	update(t, s, func(tx store.Tx) {
		for _, g := range gs {
			require.NoError(t, tx.(store.CreditGrants).InsertGrant(g))
		}
	})
	view(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		due, err := cg.DueGrants(minutes(25), 0)
		require.NoError(t, err)
		require.Equal(t, []ledger.Grant{gs[1], gs[2]}, due, "earliest expiry first; not yet due left out")
		due, err = cg.DueGrants(minutes(20), 0)
		require.NoError(t, err)
		require.Equal(t, []ledger.Grant{gs[1], gs[2]}, due, "due at its expiry")
		due, err = cg.DueGrants(far, 1)
		require.NoError(t, err)
		require.Equal(t, []ledger.Grant{gs[1]}, due, "limit")
		due, err = cg.DueGrants(far, 10)
		require.NoError(t, err)
		require.Equal(t, []ledger.Grant{gs[1], gs[2], gs[0]}, due, "a fully held grant and one without expiry are not due")
	})
	gs[1].Remaining, gs[1].Expired = 0, gs[1].Amount
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.(store.CreditGrants).UpdateGrant(gs[1])) })
	view(t, s, func(tx store.Tx) {
		due, err := tx.(store.CreditGrants).DueGrants(far, 10)
		require.NoError(t, err)
		require.Equal(t, []ledger.Grant{gs[2], gs[0]}, due, "an expired grant leaves the index")
	})
}

func testAllocations(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	grantsOf(t, s)
	a := []ledger.Allocation{{GrantID: "le_b", Amount: 300}, {GrantID: "", Amount: 20}, {GrantID: "le_a", Amount: 1}}
	update(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		require.NoError(t, cg.PutAllocations("le_debit", a))
		require.ErrorIs(t, cg.PutAllocations("le_debit", a[:1]), store.ErrDuplicate)
	})
	view(t, s, func(tx store.Tx) {
		cg := tx.(store.CreditGrants)
		got, err := cg.Allocations("le_debit")
		require.NoError(t, err)
		require.Equal(t, a, got, "in order")
		got, err = cg.Allocations("le_none")
		require.NoError(t, err)
		require.Empty(t, got)
	})
}
