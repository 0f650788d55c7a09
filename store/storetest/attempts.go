package storetest

import (
	"testing"
	"time"

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
	t.Run("Due", func(t *testing.T) {
		s := newStore(t)
		sub, cus := newID("sub"), newID("cus")
		now := t0
		at := func(n int, st retry.AttemptStatus, d time.Duration) retry.Attempt {
			return newAttempt(sub, cus, n, st, now.Add(d))
		}
		a3 := at(2, retry.AttemptScheduled, 0)                   // due (RunAt == now)
		a1 := at(3, retry.AttemptScheduled, -3*time.Hour)        // due
		a2 := at(4, retry.AttemptClaimed, -time.Hour)            // due: lease expired
		a4 := at(2, retry.AttemptScheduled, time.Microsecond)    // future
		a5 := at(3, retry.AttemptSucceeded, -5*time.Hour)        // final
		a6 := at(4, retry.AttemptCancelled, -4*time.Hour)        // final
		a7 := at(4, retry.AttemptFailed, -4*time.Hour-time.Hour) // final
		update(t, s, func(tx store.Tx) {
			for _, a := range []retry.Attempt{a3, a1, a2, a4, a5, a6, a7} {
				require.NoError(t, tx.PutAttempt(a))
			}
		})
		due := func(limit int) []retry.Attempt {
			var got []retry.Attempt
			view(t, s, func(tx store.Tx) {
				var err error
				got, err = tx.DueAttempts(now, limit)
				require.NoError(t, err)
			})
			return got
		}
		require.Equal(t, []retry.Attempt{a1, a2, a3}, due(10))
		require.Equal(t, []retry.Attempt{a1}, due(1))

		a1.Status = retry.AttemptFailed     // final: leaves the index
		a2.RunAt = now.Add(2 * time.Minute) // re-leased into the future
		a4.RunAt = now.Add(-10 * time.Hour) // moved earlier
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(a1))
			require.NoError(t, tx.PutAttempt(a2))
			require.NoError(t, tx.PutAttempt(a4))
		})
		require.Equal(t, []retry.Attempt{a4, a3}, due(10))
		view(t, s, func(tx store.Tx) {
			got, err := tx.DueAttempts(now.Add(3*time.Minute), 10)
			require.NoError(t, err)
			require.Equal(t, []retry.Attempt{a4, a3, a2}, got)
			got, err = tx.DueAttempts(now.Add(-11*time.Hour), 10)
			require.NoError(t, err)
			require.Empty(t, got)
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
	t.Run("CountInFlight", func(t *testing.T) {
		s := newStore(t)
		now := t0
		c1, c2, c3 := newID("cus"), newID("cus"), newID("cus")
		claimed := func(cus string, lease time.Duration) retry.Attempt {
			a := newAttempt(newID("sub"), cus, 2, retry.AttemptClaimed, now.Add(lease))
			a.LeaseOwner, a.LeaseUntil = "runner", now.Add(lease)
			return a
		}
		live := claimed(c1, time.Minute)
		scheduled := newAttempt(newID("sub"), c1, 2, retry.AttemptScheduled, now)
		scheduled.LeaseUntil = now.Add(time.Hour) // not claimed: does not count
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(live))
			require.NoError(t, tx.PutAttempt(claimed(c1, -time.Minute))) // lease expired
			require.NoError(t, tx.PutAttempt(claimed(c1, 0)))            // expires now: not > now
			require.NoError(t, tx.PutAttempt(scheduled))
			require.NoError(t, tx.PutAttempt(claimed(c2, 5*time.Minute)))
			require.NoError(t, tx.PutAttempt(claimed(c2, time.Hour)))
		})
		count := func(cus string, at time.Time) int {
			var n int
			view(t, s, func(tx store.Tx) {
				var err error
				n, err = tx.CountInFlight(cus, at)
				require.NoError(t, err)
			})
			return n
		}
		require.Equal(t, 1, count(c1, now))
		require.Equal(t, 2, count(c2, now))
		require.Equal(t, 0, count(c3, now))
		require.Equal(t, 3, count("", now))
		require.Equal(t, 1, count("", now.Add(10*time.Minute)))
		require.Equal(t, 5, count("", now.Add(-2*time.Minute)))

		live.Status, live.LeaseOwner = retry.AttemptSucceeded, ""
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.PutAttempt(live))
			// CountInFlight sees the transaction's own writes.
			n, err := tx.CountInFlight(c1, now)
			require.NoError(t, err)
			require.Zero(t, n)
			require.NoError(t, tx.PutAttempt(claimed(c3, time.Minute)))
			n, err = tx.CountInFlight("", now)
			require.NoError(t, err)
			require.Equal(t, 3, n)
		})
		require.Equal(t, 0, count(c1, now))
		require.Equal(t, 1, count(c3, now))
		require.Equal(t, 3, count("", now))
	})
}
