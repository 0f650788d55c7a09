package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func testSubscriptions(t *testing.T, newStore newStoreFunc) {
	s := newStore(t)
	cus := newCustomerID(t, s)
	a, b := newSubscription(cus), newSubscription(cus)
	b.BillingAddress, b.Metadata, b.Status = nil, nil, subscription.StatusPending
	update(t, s, func(tx store.Tx) {
		require.NoError(t, tx.InsertSubscription(a))
		require.NoError(t, tx.InsertSubscription(b))
	})
	dup := newSubscription(cus)
	dup.ID = a.ID
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertSubscription(dup) }), store.ErrDuplicate)

	a.Status, a.DeclineCode, a.CancelledAt, a.UpdatedAt = subscription.StatusCancelled, "DO_NOT_HONOR", minutes(9), minutes(9)
	a.Metadata = map[string]string{"plan": "basic", "why": "moved"}
	update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdateSubscription(a)) })
	require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateSubscription(newSubscription(cus))
	}), store.ErrNotFound)

	view(t, s, func(tx store.Tx) {
		got, err := tx.Subscription(a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)
		got, err = tx.Subscription(b.ID)
		require.NoError(t, err)
		require.Equal(t, b, got)
		list, more, err := tx.ListSubscriptions(cus, store.Page{})
		require.NoError(t, err)
		require.False(t, more)
		require.Equal(t, []subscription.Subscription{b, a}, list)
	})
}

func testPayments(t *testing.T, newStore newStoreFunc) {
	t.Run("InsertGetUpdate", func(t *testing.T) {
		s := newStore(t)
		cus := newCustomerID(t, s)
		p := newPayment(cus, "charge-1", subscription.PaymentPending)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertPayment(p)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Payment(p.ID)
			require.NoError(t, err)
			require.Equal(t, p, got)
			got, err = tx.PaymentByKey(cus, "charge-1")
			require.NoError(t, err)
			require.Equal(t, p, got)
			_, err = tx.PaymentByKey(newID("cus"), "charge-1")
			require.ErrorIs(t, err, store.ErrNotFound, "keys are scoped to the customer")
		})
		p.Status, p.DeclineCode, p.RefundedAmount, p.UpdatedAt = subscription.PaymentFailed, "insufficient_funds", 0, minutes(2)
		p.SettledBy, p.NextRetryAt, p.Metadata = "pay_9", minutes(60), nil
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.UpdatePayment(p)) })
		view(t, s, func(tx store.Tx) {
			got, err := tx.Payment(p.ID)
			require.NoError(t, err)
			require.Equal(t, p, got)
			got, err = tx.PaymentByKey(cus, "charge-1")
			require.NoError(t, err)
			require.Equal(t, p, got)
		})
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.UpdatePayment(newPayment(cus, "", subscription.PaymentPending))
		}), store.ErrNotFound)
	})
	t.Run("Duplicates", func(t *testing.T) {
		s := newStore(t)
		cus, other := newID("cus"), newID("cus")
		addCustomers(t, s, cus, other)
		p := newPayment(cus, "charge-1", subscription.PaymentPending)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertPayment(p)) })
		sameID := newPayment(cus, "charge-2", subscription.PaymentPending)
		sameID.ID = p.ID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertPayment(sameID) }), store.ErrDuplicate)
		sameKey := newPayment(cus, "charge-1", subscription.PaymentSucceeded)
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertPayment(sameKey) }), store.ErrDuplicate)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertPayment(newPayment(other, "charge-1", subscription.PaymentPending)))
			require.NoError(t, tx.InsertPayment(newPayment(cus, "", subscription.PaymentPending)))
			require.NoError(t, tx.InsertPayment(newPayment(cus, "", subscription.PaymentPending)))
		})
		// An update may not take another payment's key either.
		taken := newPayment(cus, "charge-3", subscription.PaymentPending)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertPayment(taken)) })
		taken.IdempotencyKey = "charge-1"
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdatePayment(taken) }), store.ErrDuplicate)
		view(t, s, func(tx store.Tx) {
			got, err := tx.PaymentByKey(cus, "charge-1")
			require.NoError(t, err)
			require.Equal(t, p, got)
			_, err = tx.Payment(sameKey.ID)
			require.ErrorIs(t, err, store.ErrNotFound)
			list, _, err := tx.ListPayments(store.PaymentQuery{CustomerID: cus})
			require.NoError(t, err)
			require.Len(t, list, 4)
		})
	})
}

func testRefunds(t *testing.T, newStore newStoreFunc) {
	t.Run("InsertGetUpdate", func(t *testing.T) {
		s := newStore(t)
		pay, other := newID("pay"), newID("pay")
		addPayments(t, s, pay, other)
		r1 := newRefund(pay, "r-1", subscription.RefundPending)
		r2 := newRefund(pay, "r-2", subscription.RefundSucceeded)
		r3 := newRefund(other, "r-1", subscription.RefundPending) // same key, other payment
		r4 := newRefund(pay, "r-3", subscription.RefundPending)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertRefund(r1))
			require.NoError(t, tx.InsertRefund(r2))
		})
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertRefund(r3))
			require.NoError(t, tx.InsertRefund(r4))
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.Refund(r1.ID)
			require.NoError(t, err)
			require.Equal(t, r1, got)
			got, err = tx.RefundByKey(pay, "r-2")
			require.NoError(t, err)
			require.Equal(t, r2, got)
			got, err = tx.RefundByKey(other, "r-1")
			require.NoError(t, err)
			require.Equal(t, r3, got)
			_, err = tx.RefundByKey(other, "r-2")
			require.ErrorIs(t, err, store.ErrNotFound)

			list, err := tx.ListRefunds(pay)
			require.NoError(t, err)
			require.Equal(t, []subscription.Refund{r1, r2, r4}, list, "oldest first")
			list, err = tx.ListRefunds(newID("pay"))
			require.NoError(t, err)
			require.Empty(t, list)

			list, err = tx.PendingRefunds(10)
			require.NoError(t, err)
			require.Equal(t, []subscription.Refund{r1, r3, r4}, list, "pending, oldest first")
			list, err = tx.PendingRefunds(2)
			require.NoError(t, err)
			require.Equal(t, []subscription.Refund{r1, r3}, list)
		})

		r1.Status, r1.ProcessorID = subscription.RefundSucceeded, "rf_9"
		r2.Status = subscription.RefundPending // back to pending: listed by its age
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.UpdateRefund(r1))
			require.NoError(t, tx.UpdateRefund(r2))
		})
		view(t, s, func(tx store.Tx) {
			got, err := tx.Refund(r1.ID)
			require.NoError(t, err)
			require.Equal(t, r1, got)
			list, err := tx.PendingRefunds(10)
			require.NoError(t, err)
			require.Equal(t, []subscription.Refund{r2, r3, r4}, list)
		})
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error {
			return tx.UpdateRefund(newRefund(pay, "r-9", subscription.RefundPending))
		}), store.ErrNotFound)
	})
	t.Run("Duplicates", func(t *testing.T) {
		s := newStore(t)
		pay := newID("pay")
		addPayments(t, s, pay)
		r := newRefund(pay, "r-1", subscription.RefundPending)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertRefund(r)) })
		sameID := newRefund(pay, "r-2", subscription.RefundPending)
		sameID.ID = r.ID
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertRefund(sameID) }), store.ErrDuplicate)
		sameKey := newRefund(pay, "r-1", subscription.RefundSucceeded)
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.InsertRefund(sameKey) }), store.ErrDuplicate)
		update(t, s, func(tx store.Tx) {
			require.NoError(t, tx.InsertRefund(newRefund(pay, "", subscription.RefundSucceeded)))
			require.NoError(t, tx.InsertRefund(newRefund(pay, "", subscription.RefundSucceeded)))
		})
		taken := newRefund(pay, "r-3", subscription.RefundPending)
		update(t, s, func(tx store.Tx) { require.NoError(t, tx.InsertRefund(taken)) })
		taken.IdempotencyKey = "r-1"
		require.ErrorIs(t, s.Update(ctx, func(tx store.Tx) error { return tx.UpdateRefund(taken) }), store.ErrDuplicate)
		view(t, s, func(tx store.Tx) {
			list, err := tx.ListRefunds(pay)
			require.NoError(t, err)
			require.Len(t, list, 4)
			got, err := tx.RefundByKey(pay, "r-1")
			require.NoError(t, err)
			require.Equal(t, r, got)
		})
	})
}
