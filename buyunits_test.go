package coffer

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// pricedCalls: 1,000 api_calls for 1.50 USD.
var pricedCalls = UnitParams{Code: "api_calls", Price: &money.UnitPrice{Amount: 150, Currency: "USD", Per: 1000}}

func (v *env) unitBalance(customerID, code string) int64 {
	v.t.Helper()
	b, err := v.Balance(v.ctx, customerID, code)
	require.NoError(v.t, err)
	return b.Amount
}

// TestBuyUnits: a purchase of units charges price × quantity to the card
// (never the wallet) and credits the unit wallet once; replays and
// conflicts as BuyCredit; bad input changes nothing.
func TestBuyUnits(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		_, err := v.DefineUnit(v.ctx, pricedCalls)
		require.NoError(t, err)
		_, err = v.DefineUnit(v.ctx, UnitParams{Code: "free_units"})
		require.NoError(t, err)
		_, err = v.DefineUnit(v.ctx, UnitParams{Code: "gold_units", Price: &money.UnitPrice{Amount: math.MaxInt64 / 2, Currency: "USD", Per: 1}})
		require.NoError(t, err)
		c := v.customer()
		_, err = v.CreateEntry(v.ctx, c.ID, credit(50_00, "USD", "seed"))
		require.NoError(t, err)

		p := BuyUnitsParams{Unit: "api_calls", Quantity: 5000, PaymentMethod: processor.CardOK, IdempotencyKey: "calls-1"}
		pay, err := v.BuyUnits(v.ctx, c.ID, p)
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, pay.Status)
		require.Equal(t, subscription.KindCreditPurchase, pay.Kind)
		require.Equal(t, int64(7_50), pay.Amount)
		require.Equal(t, "USD", pay.Currency)
		require.Zero(t, pay.WalletAmount)
		require.Equal(t, "5000 api_calls", pay.Description)
		unit, qty, ok := PurchaseUnits(pay)
		require.True(t, ok)
		require.Equal(t, "api_calls", unit)
		require.Equal(t, int64(5000), qty)
		require.Equal(t, int64(5000), v.unitBalance(c.ID, "api_calls"))
		require.Equal(t, int64(50_00), v.unitBalance(c.ID, "USD"), "the money wallet is never applied")

		again, err := v.BuyUnits(v.ctx, c.ID, p)
		require.NoError(t, err)
		require.Equal(t, pay.ID, again.ID)
		require.Equal(t, int64(5000), v.unitBalance(c.ID, "api_calls"))
		p.Quantity = 6000
		_, err = v.BuyUnits(v.ctx, c.ID, p)
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		require.Len(t, v.proc.Charges(), 1)

		for name, bad := range map[string]struct {
			p    BuyUnitsParams
			code string
		}{
			"not a multiple":  {BuyUnitsParams{Unit: "api_calls", Quantity: 1500, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "invalid_unit"},
			"zero":            {BuyUnitsParams{Unit: "api_calls", Quantity: 0, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "invalid_unit"},
			"no price":        {BuyUnitsParams{Unit: "free_units", Quantity: 1, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "invalid_unit"},
			"unknown unit":    {BuyUnitsParams{Unit: "tokens", Quantity: 1, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "unknown_unit"},
			"cost overflow":   {BuyUnitsParams{Unit: "gold_units", Quantity: 3, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "amount_overflow"},
			"wallet overflow": {BuyUnitsParams{Unit: "api_calls", Quantity: math.MaxInt64 / 1000 * 1000, PaymentMethod: processor.CardOK, IdempotencyKey: "x"}, "amount_overflow"},
			"reserved meta": {BuyUnitsParams{Unit: "api_calls", Quantity: 1000, PaymentMethod: processor.CardOK, IdempotencyKey: "x",
				Metadata: map[string]string{"coffer_unit": "credits"}}, "invalid_request"},
		} {
			_, err := v.BuyUnits(v.ctx, c.ID, bad.p)
			require.Equal(t, bad.code, ErrorCode(err), "%s: %v", name, err)
		}
		_, err = v.BuyCredit(v.ctx, c.ID, BuyCreditParams{Amount: 10, Currency: "USD", PaymentMethod: processor.CardOK, IdempotencyKey: "y",
			Metadata: map[string]string{"coffer_unit_quantity": "1000000"}})
		require.Equal(t, "invalid_request", ErrorCode(err), "BuyCredit cannot pose as a purchase of units")
		require.Len(t, v.proc.Charges(), 1)

		// A declined card credits nothing.
		d, err := v.BuyUnits(v.ctx, c.ID, BuyUnitsParams{Unit: "api_calls", Quantity: 1000, PaymentMethod: processor.CardDoNotHonor, IdempotencyKey: "d"})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentFailed, d.Status)
		require.Equal(t, int64(5000), v.unitBalance(c.ID, "api_calls"))
		v.checkLedger(c.ID)
	})
}

// TestBuyUnitsRefund: in full only, taking the whole quantity back; not
// when the units are spent.
func TestBuyUnitsRefund(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		_, err := v.DefineUnit(v.ctx, pricedCalls)
		require.NoError(t, err)
		c := v.customer()
		pay, err := v.BuyUnits(v.ctx, c.ID, BuyUnitsParams{Unit: "api_calls", Quantity: 2000, PaymentMethod: processor.CardOK, IdempotencyKey: "k"})
		require.NoError(t, err)
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{Amount: 1_50, IdempotencyKey: "r0"})
		require.Equal(t, "invalid_refund_amount", ErrorCode(err))
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "r1"})
		require.ErrorIs(t, err, ErrPurchaseToWallet)

		_, err = v.CreateEntry(v.ctx, c.ID, debit(1, "api_calls", "spend"))
		require.NoError(t, err)
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r2"})
		require.ErrorIs(t, err, wallet.ErrInsufficientFunds, "one call is spent: the units cannot all be taken back")
		_, err = v.CreateEntry(v.ctx, c.ID, credit(1, "api_calls", "give back"))
		require.NoError(t, err)
		r, err := v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r3"})
		require.NoError(t, err)
		require.Equal(t, int64(3_00), r.Amount)
		require.Equal(t, subscription.RefundSucceeded, r.Status)
		require.Zero(t, v.unitBalance(c.ID, "api_calls"))
		v.checkLedger(c.ID)
	})
}

// TestBuyUnitsSettledElsewhere: a purchase whose success is recorded by
// another engine on the store (Reconcile after a crash), which has never
// read the unit, still credits the units.
func TestBuyUnitsSettledElsewhere(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		seller := v.msEngine(v.proc)
		_, err := seller.DefineUnit(v.ctx, pricedCalls)
		require.NoError(t, err)
		c := v.customer()
		seller.setCrashAfterCharge(func(string) error { return errBCCrash })
		_, err = seller.BuyUnits(v.ctx, c.ID, BuyUnitsParams{Unit: "api_calls", Quantity: 3000, PaymentMethod: processor.CardOK, IdempotencyKey: "k"})
		require.ErrorIs(t, err, errBCCrash)
		other := v.msEngine(v.proc) // an empty unit cache
		v.clock.Advance(ReconcileAfter + time.Minute)
		rep, err := other.Reconcile(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Payments)
		b, err := other.Balance(v.ctx, c.ID, "api_calls")
		require.NoError(t, err)
		require.Equal(t, int64(3000), b.Amount)
		v.checkLedger(c.ID)
	})
}
