package coffer

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

func TestChargeOneTime(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(3_00, "USD", "gift"))
		require.NoError(t, err)

		pay, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "usd", PaymentMethod: processor.CardOK,
			Description: "T-shirt", IdempotencyKey: "order-1"})
		require.NoError(t, err)
		require.Equal(t, subscription.KindOneTime, pay.Kind)
		require.Equal(t, subscription.PaymentSucceeded, pay.Status)
		require.Empty(t, pay.SubscriptionID)
		require.Equal(t, int64(3_00), pay.WalletAmount)
		require.Equal(t, int64(7_00), pay.ProcessorAmount)
		again, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK,
			Description: "T-shirt", IdempotencyKey: "order-1"})
		require.NoError(t, err)
		require.Equal(t, pay.ID, again.ID)
		require.Equal(t, 1, v.proc.ChargeCount())

		// A declined one-time payment: failed, not retried, not overdue, not delinquent.
		failed, err := v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 5_00, Currency: "USD", PaymentMethod: processor.CardInsufficientFunds})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, failed.Status)
		require.Equal(t, processor.InsufficientFunds, failed.DeclineCode)
		require.True(t, failed.NextRetryAt.IsZero())
		od, err := v.Overdue(v.ctx, c.ID)
		require.NoError(t, err)
		require.Empty(t, od.Payments)
		got, _ := v.Customer(v.ctx, c.ID)
		require.False(t, got.Delinquent)

		// Refundable like any payment.
		r, err := v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "ret-1"})
		require.NoError(t, err)
		require.Equal(t, int64(3_00), r.WalletAmount)
		require.Equal(t, int64(7_00), r.ProcessorAmount)

		for _, bad := range []struct {
			p    OneTimeParams
			want error
		}{
			{OneTimeParams{Amount: 0, Currency: "USD", PaymentMethod: processor.CardOK}, subscription.ErrInvalidPrice},
			{OneTimeParams{Amount: 1, Currency: "EUR", PaymentMethod: processor.CardOK}, money.ErrCurrencyDisabled},
			{OneTimeParams{Amount: 1, Currency: "USD"}, subscription.ErrMissingMethod},
		} {
			_, err := v.ChargeOneTime(v.ctx, c.ID, bad.p)
			require.ErrorIs(t, err, bad.want)
		}
		_, err = v.ChargeOneTime(v.ctx, "cus_missing", OneTimeParams{Amount: 1, Currency: "USD", PaymentMethod: processor.CardOK})
		require.ErrorIs(t, err, customer.ErrNotFound)
		list, err := v.ListPayments(v.ctx, PaymentListParams{CustomerID: c.ID})
		require.NoError(t, err)
		require.Len(t, list.Data, 2)
		v.checkLedger(c.ID)
	})
}
