package coffer

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// odPaid makes a succeeded charge of amount USD on a new customer whose
// wallet holds walletPart of it.
func (v *env) odPaid(amount, walletPart int64) (string, subscription.Payment) {
	v.t.Helper()
	c := v.customer()
	if walletPart > 0 {
		v.odFund(c.ID, walletPart, "USD")
	}
	s := v.odSubscribe(c.ID, processor.CardOK)
	p, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(amount))})
	require.NoError(v.t, err)
	require.Equal(v.t, subscription.PaymentSucceeded, p.Status)
	require.Equal(v.t, walletPart, p.WalletAmount)
	return c.ID, p
}

// odRejectRefunds is a processor that rejects every refund.
type odRejectRefunds struct{ *processor.Test }

var errODRefundRejected = errors.New("test: refund rejected by the issuer")

func (odRejectRefunds) Refund(context.Context, processor.RefundRequest) (processor.Refund, error) {
	return processor.Refund{}, errODRefundRejected
}

func TestRefunds(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("full refund to the payment method", func(t *testing.T) {
			v := newEnv(t, newStore)
			cus, p := v.odPaid(10_00, 0)
			before := v.eventTypes()
			r, err := v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "r1", Reason: "damaged"})
			require.NoError(t, err)
			require.True(t, strings.HasPrefix(r.ID, "re_"), r.ID)
			require.Equal(t, p.ID, r.PaymentID)
			require.Equal(t, cus, r.CustomerID)
			require.Equal(t, int64(10_00), r.Amount)
			require.Equal(t, "USD", r.Currency)
			require.Equal(t, subscription.ToPaymentMethod, r.Destination)
			require.Equal(t, subscription.RefundSucceeded, r.Status)
			require.Zero(t, r.WalletAmount)
			require.Equal(t, int64(10_00), r.ProcessorAmount)
			require.Equal(t, "re_test_1", r.ProcessorID)
			require.Equal(t, "damaged", r.Reason)
			pr := v.proc.Refunds()
			require.Len(t, pr, 1)
			require.Equal(t, p.ProcessorID, pr[0].ChargeID)
			require.Equal(t, int64(10_00), pr[0].Amount)
			require.Equal(t, r.ID, pr[0].IdempotencyKey)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentRefunded, p.Status)
			require.Equal(t, int64(10_00), p.RefundedAmount)
			require.Zero(t, p.Refundable())
			require.Zero(t, v.odBalance(cus, "USD").Amount)
			require.Equal(t, map[string]int{EventRefundSucceeded: 1}, odDiff(before, v.eventTypes()))

			_, err = v.Refund(v.ctx, p.ID, RefundParams{Amount: 1, IdempotencyKey: "r2"})
			require.ErrorIs(t, err, subscription.ErrNotRefundable)
			require.Equal(t, http.StatusConflict, HTTPStatus(err))
			list, err := pageData(v.ListRefunds(v.ctx, RefundListParams{PaymentID: p.ID}))
			require.NoError(t, err)
			require.Equal(t, []subscription.Refund{r}, list)
		})

		t.Run("partial refunds to the payment method: the wallet part goes back to the wallet first", func(t *testing.T) {
			v := newEnv(t, newStore)
			cus, p := v.odPaid(10_00, 3_00)
			require.Zero(t, v.odBalance(cus, "USD").Amount)
			before := v.eventTypes()
			r1, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 5_00, IdempotencyKey: "r1"})
			require.NoError(t, err)
			require.Equal(t, subscription.RefundSucceeded, r1.Status)
			require.Equal(t, int64(3_00), r1.WalletAmount)
			require.Equal(t, int64(2_00), r1.ProcessorAmount)
			require.Equal(t, int64(3_00), v.odBalance(cus, "USD").Amount)
			e := v.odEntries(cus)[0]
			require.Equal(t, ledger.Credit, e.Type)
			require.Equal(t, int64(3_00), e.Amount)
			require.Equal(t, "Refund for payment "+p.ID, e.Reason)
			require.Equal(t, ledger.Reference{Type: ledger.RefRefund, ID: r1.ID}, e.Reference)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentPartiallyRefunded, p.Status)
			require.Equal(t, int64(5_00), p.RefundedAmount)
			require.Equal(t, int64(5_00), p.Refundable())
			require.Equal(t, map[string]int{EventRefundSucceeded: 1, EventBalanceChanged: 1}, odDiff(before, v.eventTypes()))

			_, err = v.Refund(v.ctx, p.ID, RefundParams{Amount: 5_01, IdempotencyKey: "r2"})
			require.ErrorIs(t, err, subscription.ErrInvalidRefund)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))

			r2, err := v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "r2"}) // the rest
			require.NoError(t, err)
			require.Equal(t, int64(5_00), r2.Amount)
			require.Zero(t, r2.WalletAmount)
			require.Equal(t, int64(5_00), r2.ProcessorAmount)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentRefunded, p.Status)
			var toCard int64
			for _, pr := range v.proc.Refunds() {
				toCard += pr.Amount
			}
			require.Equal(t, p.ProcessorAmount, toCard, "the card gets back exactly what it paid")
			require.Equal(t, int64(3_00), v.odBalance(cus, "USD").Amount)
			list, err := pageData(v.ListRefunds(v.ctx, RefundListParams{PaymentID: p.ID}))
			require.NoError(t, err)
			require.Equal(t, []string{r2.ID, r1.ID}, []string{list[0].ID, list[1].ID}, "newest first")
			v.checkLedger(cus)
		})

		t.Run("refund to the wallet", func(t *testing.T) {
			v := newEnv(t, newStore)
			cus, p := v.odPaid(10_00, 0)
			before := v.eventTypes()
			r, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 4_00, Destination: subscription.ToWallet, IdempotencyKey: "w1"})
			require.NoError(t, err)
			require.Equal(t, subscription.ToWallet, r.Destination)
			require.Equal(t, subscription.RefundSucceeded, r.Status)
			require.Equal(t, int64(4_00), r.WalletAmount)
			require.Zero(t, r.ProcessorAmount)
			require.Empty(t, r.ProcessorID)
			require.Empty(t, v.proc.Refunds())
			require.Equal(t, int64(4_00), v.odBalance(cus, "USD").Amount)
			entries := v.odEntries(cus)
			require.Len(t, entries, 1)
			e := entries[0]
			require.Equal(t, ledger.Credit, e.Type)
			require.Equal(t, int64(4_00), e.Amount)
			require.Equal(t, "USD", e.Currency)
			require.Equal(t, "Refund for payment "+p.ID, e.Reason)
			require.Equal(t, ledger.Reference{Type: ledger.RefRefund, ID: r.ID}, e.Reference)
			require.Equal(t, map[string]int{EventRefundSucceeded: 1, EventBalanceChanged: 1}, odDiff(before, v.eventTypes()))

			// Idempotent per key: a replay returns the same refund and
			// credits nothing more.
			again, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 4_00, Destination: subscription.ToWallet, IdempotencyKey: "w1"})
			require.NoError(t, err)
			require.Equal(t, r, again)
			require.Equal(t, int64(4_00), v.odBalance(cus, "USD").Amount)
			require.Len(t, v.odEntries(cus), 1)
			require.Equal(t, map[string]int{EventRefundSucceeded: 1, EventBalanceChanged: 1}, odDiff(before, v.eventTypes()))
			for name, rp := range map[string]RefundParams{
				"other amount":      {Amount: 4_01, Destination: subscription.ToWallet, IdempotencyKey: "w1"},
				"other destination": {Amount: 4_00, IdempotencyKey: "w1"},
				"other reason":      {Amount: 4_00, Destination: subscription.ToWallet, Reason: "x", IdempotencyKey: "w1"},
			} {
				_, err := v.Refund(v.ctx, p.ID, rp)
				require.ErrorIs(t, err, subscription.ErrIdempotencyConflict, name)
				require.Equal(t, http.StatusConflict, HTTPStatus(err))
			}
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, int64(4_00), p.RefundedAmount)
			require.Equal(t, subscription.PaymentPartiallyRefunded, p.Status)

			// The rest to the wallet too: fully refunded.
			_, err = v.Refund(v.ctx, p.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "w2"})
			require.NoError(t, err)
			require.Equal(t, int64(10_00), v.odBalance(cus, "USD").Amount)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentRefunded, p.Status)
			_, err = v.Refund(v.ctx, p.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "w3"})
			require.ErrorIs(t, err, subscription.ErrNotRefundable)
			v.checkLedger(cus)
		})

		t.Run("keys are per payment", func(t *testing.T) {
			v := newEnv(t, newStore)
			_, p1 := v.odPaid(1_00, 0)
			_, p2 := v.odPaid(1_00, 0)
			r1, err := v.Refund(v.ctx, p1.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "k"})
			require.NoError(t, err)
			r2, err := v.Refund(v.ctx, p2.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "k"})
			require.NoError(t, err)
			require.NotEqual(t, r1.ID, r2.ID)
		})

		t.Run("bad requests", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			s := v.odSubscribe(c.ID, processor.CardInsufficientFunds)
			failed, err := v.Charge(v.ctx, s.ID, ChargeParams{ProductPrice: new(int64(1_00))})
			require.NoError(t, err)
			require.Equal(t, subscription.PaymentFailed, failed.Status)
			_, paid := v.odPaid(1_00, 0)
			before := len(v.events())
			for _, tc := range []struct {
				name   string
				pay    string
				p      RefundParams
				want   error
				status int
			}{
				{"no key", paid.ID, RefundParams{}, subscription.ErrInvalid, 422},
				{"negative", paid.ID, RefundParams{Amount: -1, IdempotencyKey: "a"}, subscription.ErrInvalidRefund, 422},
				{"more than paid", paid.ID, RefundParams{Amount: 1_01, IdempotencyKey: "a"}, subscription.ErrInvalidRefund, 422},
				{"bad destination", paid.ID, RefundParams{Destination: "bank", IdempotencyKey: "a"}, subscription.ErrInvalid, 422},
				{"unknown payment", "pay_missing", RefundParams{IdempotencyKey: "a"}, subscription.ErrPaymentNotFound, 404},
				{"failed payment", failed.ID, RefundParams{IdempotencyKey: "a"}, subscription.ErrNotRefundable, 409},
				{"failed payment to wallet", failed.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "a"}, subscription.ErrNotRefundable, 409},
			} {
				_, err := v.Refund(v.ctx, tc.pay, tc.p)
				require.ErrorIs(t, err, tc.want, tc.name)
				require.Equal(t, tc.status, HTTPStatus(err), tc.name)
			}
			require.Len(t, v.events(), before)
			require.Empty(t, v.proc.Refunds())
		})

		t.Run("processor rejects the refund: failed, amount freed", func(t *testing.T) {
			v := newEnv(t, newStore)
			_, p := v.odPaid(10_00, 0)
			v.setProcessor(odRejectRefunds{v.proc})
			before := v.eventTypes()
			r, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 6_00, IdempotencyKey: "r1"})
			require.ErrorIs(t, err, errODRefundRejected)
			require.Equal(t, subscription.RefundFailed, r.Status)
			p, err = v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Zero(t, p.RefundedAmount)
			require.Equal(t, subscription.PaymentSucceeded, p.Status)
			require.Equal(t, map[string]int{EventRefundFailed: 1}, odDiff(before, v.eventTypes()))
			v.setProcessor(v.proc)
			r2, err := v.Refund(v.ctx, p.ID, RefundParams{IdempotencyKey: "r2"})
			require.NoError(t, err)
			require.Equal(t, int64(10_00), r2.Amount)
		})

		t.Run("concurrent refunds never exceed what was paid", func(t *testing.T) {
			v := newEnv(t, newStore)
			cus, p := v.odPaid(10_00, 4_00)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var refunded int64
			for i := 0; i < 12; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					dest := subscription.ToWallet
					if i%2 == 0 {
						dest = subscription.ToPaymentMethod
					}
					r, err := v.Refund(v.ctx, p.ID, RefundParams{Amount: 3_00, Destination: dest, IdempotencyKey: fmt.Sprint("k", i)})
					switch {
					case err == nil:
						mu.Lock()
						refunded += r.Amount
						mu.Unlock()
					case errors.Is(err, subscription.ErrInvalidRefund), errors.Is(err, subscription.ErrNotRefundable):
					default:
						t.Error(err)
					}
				}(i)
			}
			wg.Wait()
			require.Equal(t, int64(9_00), refunded)
			p, err := v.Payment(v.ctx, p.ID)
			require.NoError(t, err)
			require.Equal(t, int64(9_00), p.RefundedAmount)
			var toCard int64
			for _, pr := range v.proc.Refunds() {
				toCard += pr.Amount
			}
			require.LessOrEqual(t, toCard, p.ProcessorAmount)
			require.Equal(t, int64(9_00), toCard+v.odBalance(cus, "USD").Amount)
			v.checkLedger(cus)
		})
	})
}
