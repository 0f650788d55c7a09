package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/topup"
)

// RunTopUps tests store.TopUps (auto top-up rules). A store whose Tx does
// not implement it skips it.
func RunTopUps(t *testing.T, newStore func(t *testing.T) store.Store) {
	t.Run("Rules", func(t *testing.T) { testTopUpRules(t, newStore) })
	t.Run("Due", func(t *testing.T) { testDueTopUps(t, newStore) })
	t.Run("Rollback", func(t *testing.T) { testTopUpRollback(t, newStore) })
}

func topUpsOf(t *testing.T, s store.Store) {
	t.Helper()
	has := false
	view(t, s, func(tx store.Tx) { _, has = tx.(store.TopUps) })
	if !has {
		t.Skip("the store keeps no auto top-up rules")
	}
}

// newTopUp returns a threshold rule of customerID's USD wallet (not
// inserted), created at minute created, due at next (zero: not due).
func newTopUp(customerID string, created int, next time.Time) topup.Rule {
	at := minutes(created)
	return topup.Rule{
		ID: newID("tur"), CustomerID: customerID, Currency: "USD", Trigger: topup.TriggerThreshold,
		Threshold: 500, Method: topup.MethodTarget, Target: 2000, PaymentMethod: "pm_card",
		MaxPerDay: 3, CreditKind: ledger.KindGranted, Priority: 2, ExpiresAfter: time.Hour,
		State: topup.State{NextCheck: next, Anchor: at}, CreatedAt: at, UpdatedAt: at,
	}
}

func testTopUpRules(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	topUpsOf(t, s)
	cus, other := newCustomerID(t, s), newCustomerID(t, s)
	r1, r2 := newTopUp(cus, 1, minutes(5)), newTopUp(cus, 2, time.Time{})
	r2.Paused, r2.PausedReason = true, topup.PausedByUser
	r3 := newTopUp(other, 0, minutes(1))
	eur := newTopUp(cus, 3, minutes(2))
	eur.Currency = "EUR"
	update(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		for _, r := range []topup.Rule{r2, r1, r3, eur} {
			require.NoError(t, tu.InsertTopUp(r))
		}
		require.ErrorIs(t, tu.InsertTopUp(r1), store.ErrDuplicate)
		bad := newTopUp(cus, 4, time.Time{})
		bad.Threshold = -1
		require.Error(t, tu.InsertTopUp(bad), "a rule that does not validate")
	})
	view(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		got, err := tu.TopUp(r1.ID)
		require.NoError(t, err)
		require.Equal(t, r1, got)
		_, err = tu.TopUp("tur_missing")
		require.ErrorIs(t, err, store.ErrNotFound)
		list, err := tu.WalletTopUps(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, []topup.Rule{r1, r2}, list, "oldest first, this wallet only")
		list, err = tu.WalletTopUps(cus, "INR")
		require.NoError(t, err)
		require.Empty(t, list)
		require.ErrorIs(t, tu.InsertTopUp(r1), store.ErrReadOnly)
		require.ErrorIs(t, tu.UpdateTopUp(r1), store.ErrReadOnly)
		require.ErrorIs(t, tu.DeleteTopUp(r1.ID), store.ErrReadOnly)
	})
	// An update replaces everything but the wallet and creation time, the
	// attempt in flight included.
	upd := r1
	upd.CustomerID, upd.Currency, upd.CreatedAt = other, "INR", minutes(99)
	upd.Target, upd.UpdatedAt = 3000, minutes(7)
	upd.State.Pending = &topup.Attempt{Key: topup.Key(r1.ID, "t1", 1), Period: "t1", Number: 1, Amount: 1500,
		ExpiresAt: minutes(67), At: minutes(7)}
	upd.State.DayCount, upd.State.Day, upd.State.NextCheck = 1, "2025-03-14", minutes(8)
	update(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		require.NoError(t, tu.UpdateTopUp(upd))
		missing := upd
		missing.ID = "tur_missing"
		require.ErrorIs(t, tu.UpdateTopUp(missing), store.ErrNotFound)
	})
	want := upd
	want.CustomerID, want.Currency, want.CreatedAt = cus, "USD", r1.CreatedAt
	view(t, s, func(tx store.Tx) {
		got, err := tx.(store.TopUps).TopUp(r1.ID)
		require.NoError(t, err)
		require.Equal(t, want, got)
	})
	update(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		require.NoError(t, tu.DeleteTopUp(r1.ID))
		require.ErrorIs(t, tu.DeleteTopUp(r1.ID), store.ErrNotFound)
	})
	view(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		_, err := tu.TopUp(r1.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		list, err := tu.WalletTopUps(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, []topup.Rule{r2}, list)
		due, err := tu.DueTopUps(minutes(1000), 0)
		require.NoError(t, err)
		require.Equal(t, []string{r3.ID, eur.ID}, topUpIDs(due), "a deleted rule leaves the due index")
	})
}

func topUpIDs(rs []topup.Rule) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func testDueTopUps(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	topUpsOf(t, s)
	cus := newCustomerID(t, s)
	a, b, c, never := newTopUp(cus, 0, minutes(30)), newTopUp(cus, 1, minutes(10)), newTopUp(cus, 2, minutes(20)), newTopUp(cus, 3, time.Time{})
	update(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		for _, r := range []topup.Rule{a, b, c, never} {
			require.NoError(t, tu.InsertTopUp(r))
		}
	})
	due := func(now time.Time, limit int) []string {
		var out []topup.Rule
		view(t, s, func(tx store.Tx) {
			var err error
			out, err = tx.(store.TopUps).DueTopUps(now, limit)
			require.NoError(t, err)
		})
		return topUpIDs(out)
	}
	require.Empty(t, due(minutes(9), 0))
	require.Equal(t, []string{b.ID}, due(minutes(10), 0), "due at its next check exactly")
	require.Equal(t, []string{b.ID, c.ID, a.ID}, due(minutes(60), 0), "earliest first; no next check: never due")
	require.Equal(t, []string{b.ID, c.ID}, due(minutes(60), 2))
	// Moving a rule's next check moves it in the index; clearing it takes
	// it out.
	b.State.NextCheck = minutes(40)
	c.State.NextCheck = time.Time{}
	never.State.NextCheck = minutes(5)
	update(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		require.NoError(t, tu.UpdateTopUp(b))
		require.NoError(t, tu.UpdateTopUp(c))
		require.NoError(t, tu.UpdateTopUp(never))
	})
	require.Equal(t, []string{never.ID, a.ID, b.ID}, due(minutes(60), 0))
	require.Equal(t, []string{never.ID, a.ID}, due(minutes(39), 0))
}

func testTopUpRollback(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	topUpsOf(t, s)
	cus := newCustomerID(t, s)
	keep := newTopUp(cus, 0, minutes(10))
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.(store.TopUps).InsertTopUp(keep)) })
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		tu := tx.(store.TopUps)
		if err := tu.InsertTopUp(newTopUp(cus, 1, minutes(1))); err != nil {
			return err
		}
		moved := keep
		moved.State.NextCheck = minutes(2)
		if err := tu.UpdateTopUp(moved); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	err = s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.(store.TopUps).DeleteTopUp(keep.ID); err != nil {
			return err
		}
		return boom
	})
	require.ErrorIs(t, err, boom)
	view(t, s, func(tx store.Tx) {
		tu := tx.(store.TopUps)
		list, err := tu.WalletTopUps(cus, "USD")
		require.NoError(t, err)
		require.Equal(t, []topup.Rule{keep}, list, "nothing of the rolled-back transactions stays")
		due, err := tu.DueTopUps(minutes(60), 0)
		require.NoError(t, err)
		require.Equal(t, []string{keep.ID}, topUpIDs(due))
		due, err = tu.DueTopUps(minutes(5), 0)
		require.NoError(t, err)
		require.Empty(t, due, "the rolled-back move of the next check is undone in the index")
	})
}
