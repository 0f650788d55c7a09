package coffer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// errODCrash is what the injected crash between the processor call and the
// settling transaction returns.
var errODCrash = errors.New("test: process crashed")

// odDropCharges is a processor that loses charge requests on the way (the
// processor never receives them) while drop is set.
type odDropCharges struct {
	*processor.Test
	drop atomic.Bool
}

func (p *odDropCharges) Charge(ctx context.Context, req processor.ChargeRequest) (processor.Charge, error) {
	if p.drop.Load() {
		return processor.Charge{}, fmt.Errorf("%w: connection reset", processor.ErrUnavailable)
	}
	return p.Test.Charge(ctx, req)
}

func TestReconcile(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("crash after a successful charge: settled as succeeded", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 3_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			var crashed string
			v.setCrashAfterCharge(func(id string) error { crashed = id; return errODCrash })
			before := v.eventTypes()
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), IdempotencyKey: "order-9"})
			require.ErrorIs(t, err, errODCrash)
			require.Equal(t, p.ID, crashed)
			v.setCrashAfterCharge(nil)

			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentPending, p.Status)
			require.Equal(t, int64(3_00), p.WalletAmount)
			b := v.odBalance(c.ID, "USD")
			require.Equal(t, int64(3_00), b.Held)
			require.Equal(t, int64(3_00), b.Amount)
			require.Equal(t, 1, v.proc.ChargeCount(), "the processor charged")
			require.Empty(t, odDiff(before, v.eventTypes()), "nothing settled, nothing emitted")

			// A replay of the request while pending returns the pending payment.
			again, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), IdempotencyKey: "order-9"})
			require.NoError(t, err)
			require.Equal(t, p.ID, again.ID)
			require.Equal(t, subscription.PaymentPending, again.Status)

			// Too recent: may still be in flight elsewhere.
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{}, rep)

			v.clock.Advance(ReconcileAfter)
			rep, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Payments: 1}, rep)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, "ch_test_1", p.ProcessorID)
			require.Equal(t, ledger.HoldCaptured, v.odHold(p.HoldID).Status)
			b = v.odBalance(c.ID, "USD")
			require.Zero(t, b.Held)
			require.Zero(t, b.Amount)
			var debits []ledger.Entry
			for _, e := range v.odEntries(c.ID) {
				if e.Type == ledger.Debit {
					debits = append(debits, e)
				}
			}
			require.Len(t, debits, 1)
			require.Equal(t, ledger.Reference{Type: ledger.RefPayment, ID: p.ID}, debits[0].Reference)
			require.Equal(t, map[string]int{EventPaymentSucceeded: 1, EventBalanceChanged: 1}, odDiff(before, v.eventTypes()))
			require.Equal(t, 1, v.proc.ChargeCount())

			// Nothing left; a second pass and a replay change nothing.
			rep, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{}, rep)
			again, err = v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00)), IdempotencyKey: "order-9"})
			require.NoError(t, err)
			require.Equal(t, p, again)
			require.Equal(t, map[string]int{EventPaymentSucceeded: 1, EventBalanceChanged: 1}, odDiff(before, v.eventTypes()))
			v.checkLedger(c.ID)
		})

		t.Run("crash after a declined charge: settled as failed", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 3_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.proc.Script(processor.CardOK, processor.LostCard)
			v.setCrashAfterCharge(func(string) error { return errODCrash })
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.ErrorIs(t, err, errODCrash)
			v.setCrashAfterCharge(nil)
			v.clock.Advance(ReconcileAfter)
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Payments)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status)
			require.Equal(t, processor.LostCard, p.DeclineCode)
			require.Equal(t, ledger.HoldReleased, v.odHold(p.HoldID).Status)
			b := v.odBalance(c.ID, "USD")
			require.Equal(t, int64(3_00), b.Amount)
			require.Zero(t, b.Held)
			sub, err := v.Subscription(v.ctx, s.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.StatusOnHold, sub.Status)
			require.True(t, v.odCustomer(c.ID).Delinquent)
			require.Equal(t, 1, v.eventTypes()[EventPaymentFailed])
			v.checkLedger(c.ID)
		})

		t.Run("the processor never received the charge: failed, hold released", func(t *testing.T) {
			v := newEnv(t, newStore)
			dp := &odDropCharges{Test: v.proc}
			v.setProcessor(dp)
			c := v.customer()
			v.odFund(c.ID, 3_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			dp.drop.Store(true)
			v.setCrashAfterCharge(func(string) error { return errODCrash })
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.ErrorIs(t, err, errODCrash)
			v.setCrashAfterCharge(nil)
			dp.drop.Store(false)
			require.Equal(t, int64(3_00), v.odBalance(c.ID, "USD").Held)
			require.Zero(t, v.proc.ChargeCount())

			v.clock.Advance(ReconcileAfter)
			before := v.eventTypes()
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Payments: 1}, rep)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status)
			require.Equal(t, processor.NetworkError, p.DeclineCode)
			require.Equal(t, ledger.HoldReleased, v.odHold(p.HoldID).Status)
			b := v.odBalance(c.ID, "USD")
			require.Equal(t, int64(3_00), b.Amount)
			require.Zero(t, b.Held)
			require.Zero(t, v.proc.ChargeCount(), "reconcile never charges")
			// A network error is soft: the retry policy takes over.
			atts, err := pageData(v.ListAttempts(v.ctx, AttemptListParams{SubscriptionID: s.ID}))
			require.NoError(t, err)
			require.Len(t, atts, 1)
			require.Equal(t, retry.AttemptScheduled, atts[0].Status)
			require.Equal(t, map[string]int{EventPaymentFailed: 1, EventRetryScheduled: 1}, odDiff(before, v.eventTypes()))
			v.checkLedger(c.ID)
		})

		t.Run("processor down: charge pending, reconcile waits for it", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 3_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.proc.SetUnavailable(true)
			before := v.eventTypes()
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentPending, p.Status)
			require.Equal(t, int64(3_00), v.odBalance(c.ID, "USD").Held)

			v.clock.Advance(ReconcileAfter)
			for i := 0; i < 2; i++ {
				rep, err := v.Reconcile(v.ctx)
				require.NoError(t, err)
				require.Equal(t, ReconcileReport{Pending: 1}, rep)
			}
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentPending, p.Status)
			require.Equal(t, int64(3_00), v.odBalance(c.ID, "USD").Held)
			require.Empty(t, odDiff(before, v.eventTypes()))

			v.proc.SetUnavailable(false)
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Payments: 1}, rep)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, p.Status, "never received")
			require.Equal(t, processor.NetworkError, p.DeclineCode)
			require.Zero(t, v.odBalance(c.ID, "USD").Held)
			v.checkLedger(c.ID)
		})

		t.Run("crash, then processor down at reconcile, then up", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 3_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			v.setCrashAfterCharge(func(string) error { return errODCrash })
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.ErrorIs(t, err, errODCrash)
			v.setCrashAfterCharge(nil)
			v.clock.Advance(ReconcileAfter)
			v.proc.SetUnavailable(true)
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Pending: 1}, rep)
			require.Equal(t, int64(3_00), v.odBalance(c.ID, "USD").Held)
			v.proc.SetUnavailable(false)
			rep, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Payments: 1}, rep)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])
			v.checkLedger(c.ID)
		})

		t.Run("pending refund is sent again", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			v.odFund(c.ID, 2_00, "USD")
			s := v.odSubscribe(c.ID, processor.CardOK)
			p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(10_00))})
			require.NoError(t, err)
			v.proc.SetUnavailable(true)
			r, err := v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "r1"})
			require.NoError(t, err)
			require.Equal(t, subscription.RefundPending, r.Status)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, int64(10_00), p.RefundedAmount, "reserved while pending")
			_, err = v.Refund(v.ctx, p.ID, RefundParams{Amount: 1, IdempotencyKey: "r2"})
			require.ErrorIs(t, err, subscription.ErrNotRefundable)
			require.Zero(t, v.odBalance(c.ID, "USD").Amount, "wallet part credited only on success")

			v.clock.Advance(ReconcileAfter)
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Pending: 1}, rep)
			v.proc.SetUnavailable(false)
			rep, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{Refunds: 1}, rep)
			refunds, err := pageData(v.ListRefunds(v.ctx, RefundListParams{PaymentID: p.ID}))
			require.NoError(t, err)
			require.Len(t, refunds, 1)
			require.Equal(t, subscription.RefundSucceeded, refunds[0].Status)
			require.Equal(t, int64(8_00), v.proc.Refunds()[0].Amount)
			require.Equal(t, int64(2_00), v.odBalance(c.ID, "USD").Amount)
			require.Equal(t, 1, v.eventTypes()[EventRefundSucceeded])
			v.checkLedger(c.ID)
		})

		t.Run("no processor: nothing to reconcile", func(t *testing.T) {
			e, err := New(newStore(t), WithoutProcessor())
			require.NoError(t, err)
			rep, err := e.Reconcile(context.Background())
			require.NoError(t, err)
			require.Equal(t, ReconcileReport{}, rep)
		})
	})
}
