package coffer

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// A processor webhook settles a payment whose call answer was lost at once
// (before Reconcile would), and racing it with Reconcile, or applying it
// twice, settles the payment once: one capture, one succeeded event.
func TestApplyChargeOutcome(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		v.odFund(c.ID, 3_00, "USD")
		s := v.odSubscribe(c.ID, processor.CardOK)
		v.setCrashAfterCharge(func(string) error { return errODCrash })
		p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), IdempotencyKey: "order-1"})
		require.ErrorIs(t, err, errODCrash)
		v.setCrashAfterCharge(nil)
		ch, err := v.proc.LookupCharge(v.ctx, p.ID)
		require.NoError(t, err)
		before := v.eventTypes()

		// A status that is not final changes nothing.
		got, err := v.ApplyChargeOutcome(v.ctx, p.ID, processor.Charge{ID: ch.ID, Status: "processing"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentPending, got.Status)

		v.clock.Advance(ReconcileAfter) // Reconcile may race the webhook now
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(2)
			go func() { defer wg.Done(); _, _ = v.ApplyChargeOutcome(context.Background(), p.ID, ch) }()
			go func() { defer wg.Done(); _, _ = v.Reconcile(context.Background()) }()
		}
		wg.Wait()
		got, err = v.Payment(v.ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, got.Status)
		b := v.odBalance(c.ID, "USD")
		require.Equal(t, int64(0), b.Held)
		require.Equal(t, int64(0), b.Amount, "the wallet part captured once")
		diff := odDiff(before, v.eventTypes())
		require.Equal(t, 1, diff[EventPaymentSucceeded], "one payment.succeeded: %v", diff)
		require.Equal(t, 1, v.proc.ChargeCount())

		// A failure reported after the success changes nothing.
		got, err = v.ApplyChargeOutcome(v.ctx, p.ID, processor.Charge{ID: ch.ID, Status: processor.ChargeFailed, DeclineCode: processor.DoNotHonor})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, got.Status)
		_, err = v.ApplyChargeOutcome(v.ctx, "pay_missing", ch)
		require.ErrorIs(t, err, subscription.ErrPaymentNotFound)
	})
}
