package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
)

func testAttempts(t *testing.T, newStore newStoreFunc) {
	t.Run("PutGet", func(t *testing.T) {
		s := newStore(t)
		a := newAttempt(newID("sub"), newID("cus"), 2, retry.AttemptScheduled, minutes(10))
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutAttempt(a)) })
		a.Status, a.LeaseOwner, a.LeaseUntil, a.RunAt = retry.AttemptClaimed, "runner-1", minutes(11), minutes(11)
		a.PaymentID, a.DeclineCode, a.Metadata = "pay_2", "card_declined", nil
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutAttempt(a)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Attempt(a.ID)
			require.NoError(t, err)
			require.Equal(t, a, got)
		})
	})
	t.Run("BySubscription", func(t *testing.T) {
		s := newStore(t)
		sub, other, cus := newID("sub"), newID("sub"), newID("cus")
		a4 := newAttempt(sub, cus, 4, retry.AttemptScheduled, minutes(30))
		a2 := newAttempt(sub, cus, 2, retry.AttemptFailed, minutes(10))
		a3 := newAttempt(sub, cus, 3, retry.AttemptCancelled, minutes(20))
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(a4))
			require.NoError(t, tx.PutAttempt(newAttempt(other, cus, 2, retry.AttemptScheduled, minutes(1))))
			require.NoError(t, tx.PutAttempt(a2))
		})
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.PutAttempt(a3)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.AttemptsBySubscription(sub)
			require.NoError(t, err)
			require.Equal(t, []retry.Attempt{a2, a3, a4}, got, "ascending Number")
			got, err = tx.AttemptsBySubscription(newID("sub"))
			require.NoError(t, err)
			require.Empty(t, got)
		})
	})
}
