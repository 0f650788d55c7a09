package coffer

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

var errBCCrash = errors.New("test: crashed")

// bcBalance is a customer's USD balance.
func (v *env) bcBalance(customerID string) int64 {
	v.t.Helper()
	b, err := v.Balance(v.ctx, customerID, "USD")
	require.NoError(v.t, err)
	return b.Amount
}

// bcCredits returns the purchase credit entries of payment payID.
func (v *env) bcCredits(customerID, payID string) []ledger.Entry {
	v.t.Helper()
	var out []ledger.Entry
	for e, err := range Iterate(v.ctx, EntryListParams{CustomerID: customerID, ListParams: ListParams{Limit: 100}}, v.ListEntries) {
		require.NoError(v.t, err)
		if e.Type == ledger.Credit && e.Reference.Type == ledger.RefPayment && e.Reference.ID == payID {
			out = append(out, e)
		}
	}
	return out
}

// bcPack buys a 10.00 pack with key.
func bcPack(method, key string) BuyCreditParams {
	return BuyCreditParams{Amount: 10_00, Currency: "USD", PaymentMethod: method, Description: "$10 pack", IdempotencyKey: key}
}

// bcHeld starts a purchase whose processor call gate holds, and returns
// the pending payment id and the call's result.
func (v *env) bcHeld(e *Engine, gate *msGate, customerID string) (string, chan error) {
	v.t.Helper()
	gate.mu.Lock()
	gate.holdCharge = 1
	gate.mu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := e.BuyCredit(v.ctx, customerID, bcPack(processor.CardOK, "held"))
		done <- err
	}()
	var id string
	select {
	case id = <-gate.entered:
	case <-time.After(10 * time.Second):
		v.t.Fatal("purchase never reached the processor")
	}
	require.Equal(v.t, subscription.PaymentPending, v.rtPayment(id).Status)
	return id, done
}

func TestBuyCreditNeverAppliesTheWallet(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(5_00, "USD", "seed"))
		require.NoError(t, err)
		changed := v.eventTypes()[EventBalanceChanged]

		pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "pack-1"))
		require.NoError(t, err)
		require.Equal(t, subscription.KindCreditPurchase, pay.Kind)
		require.Equal(t, subscription.PaymentSucceeded, pay.Status)
		require.Zero(t, pay.WalletAmount, "the wallet is never applied to a purchase")
		require.Equal(t, int64(10_00), pay.ProcessorAmount)
		charges := v.proc.Charges()
		require.Len(t, charges, 1)
		require.Equal(t, int64(10_00), charges[0].Amount, "the card is charged the whole pack")
		require.Equal(t, int64(15_00), v.bcBalance(c.ID))

		entries := v.bcCredits(c.ID, pay.ID)
		require.Len(t, entries, 1)
		require.Equal(t, "purchase:"+pay.ID, entries[0].IdempotencyKey)
		require.Equal(t, int64(10_00), entries[0].Amount)
		ev := v.eventTypes()
		require.Equal(t, 1, ev[EventPaymentSucceeded])
		require.Equal(t, changed+1, ev[EventBalanceChanged])
		v.checkLedger(c.ID)

		// Same key, same params: the original payment, nothing charged.
		again, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "pack-1"))
		require.NoError(t, err)
		require.Equal(t, pay.ID, again.ID)
		require.Equal(t, 1, v.proc.ChargeCount())
		require.Equal(t, int64(15_00), v.bcBalance(c.ID))

		// Same key, other params: a conflict.
		for name, p := range map[string]BuyCreditParams{
			"amount":      {Amount: 20_00, Currency: "USD", PaymentMethod: processor.CardOK, Description: "$10 pack"},
			"method":      {Amount: 10_00, Currency: "USD", PaymentMethod: "pm_card_other", Description: "$10 pack"},
			"description": {Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK, Description: "$20 pack"},
			"priority":    {Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK, Description: "$10 pack", Priority: 1},
			"terms":       {Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK, Description: "$10 pack", CreditKind: ledger.KindGranted},
		} {
			p.IdempotencyKey = "pack-1"
			_, err := v.BuyCredit(v.ctx, c.ID, p)
			require.ErrorIs(t, err, subscription.ErrIdempotencyConflict, name)
		}
		// A one-time payment is not a purchase: the same key conflicts.
		_, err = v.ChargeOneTime(v.ctx, c.ID, OneTimeParams{Amount: 10_00, Currency: "USD", PaymentMethod: processor.CardOK,
			Description: "$10 pack", IdempotencyKey: "pack-1"})
		require.ErrorIs(t, err, subscription.ErrIdempotencyConflict)
		require.Equal(t, 1, v.proc.ChargeCount())
		require.Equal(t, int64(15_00), v.bcBalance(c.ID))

		// Bad input changes nothing.
		for name, p := range map[string]BuyCreditParams{
			"zero amount":  {Amount: 0, Currency: "USD", PaymentMethod: processor.CardOK},
			"no method":    {Amount: 1, Currency: "USD"},
			"reserved key": {Amount: 1, Currency: "USD", PaymentMethod: processor.CardOK, IdempotencyKey: "purchase:" + pay.ID},
			"bad kind":     {Amount: 1, Currency: "USD", PaymentMethod: processor.CardOK, CreditKind: "free"},
			"past expiry":  {Amount: 1, Currency: "USD", PaymentMethod: processor.CardOK, ExpiresAt: v.clock.Now().Add(-time.Hour)},
		} {
			_, err := v.BuyCredit(v.ctx, c.ID, p)
			require.Error(t, err, name)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err), name)
		}
		require.Equal(t, 1, v.proc.ChargeCount())
	})
}

func TestBuyCreditDeclined(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		_, err := v.CreateEntry(v.ctx, c.ID, credit(5_00, "USD", "seed"))
		require.NoError(t, err)
		pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardDoNotHonor, "declined"))
		require.NoError(t, err, "a decline is not an error")
		require.Equal(t, subscription.PaymentFailed, pay.Status)
		require.Equal(t, "DO_NOT_HONOR", pay.DeclineCode)
		require.False(t, pay.Overdue(), "a declined purchase is not a debt")
		require.Equal(t, int64(5_00), v.bcBalance(c.ID))
		require.Empty(t, v.bcCredits(c.ID, pay.ID))
		b, err := v.Balance(v.ctx, c.ID, "USD")
		require.NoError(t, err)
		require.Zero(t, b.Held, "nothing was held")

		v.clock.Advance(10 * 24 * time.Hour)
		_, err = v.RunDue(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, v.proc.ChargeCount(), "no retry")
		require.False(t, v.rtDelinquent(c.ID))
		require.Equal(t, int64(5_00), v.bcBalance(c.ID))
		_, err = v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r"})
		require.ErrorIs(t, err, subscription.ErrNotRefundable)
		v.checkLedger(c.ID)
	})
}

func TestBuyCreditEverySuccessPathCreditsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("late success after reconcile failed it", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			gate := newGate(v.proc)
			payID, done := v.bcHeld(v.msEngine(gate), gate, c.ID)
			v.clock.Advance(ReconcileAfter + time.Minute)
			other := v.msEngine(v.proc)
			rep, err := other.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Payments)
			require.Equal(t, subscription.PaymentFailed, v.rtPayment(payID).Status)
			require.Zero(t, v.bcBalance(c.ID), "a failed purchase credits nothing")

			gate.release()
			require.NoError(t, <-done)
			got := v.rtPayment(payID)
			require.Equal(t, subscription.PaymentSucceeded, got.Status, "the late success is recorded")
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))

			// The same success again, by webhook and by Reconcile: no more credit.
			_, err = v.ApplyChargeOutcome(v.ctx, payID, processor.Charge{ID: got.ProcessorID, Status: processor.ChargeSucceeded})
			require.NoError(t, err)
			_, err = other.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			require.Len(t, v.bcCredits(c.ID, payID), 1)
			require.Equal(t, int64(10_00), msCollected(v.proc))
			v.checkLedger(c.ID)
		})

		t.Run("reconcile finds it succeeded", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			crashed := v.msEngine(v.proc)
			crashed.setCrashAfterCharge(func(string) error { return errBCCrash })
			_, err := crashed.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "crash"))
			require.ErrorIs(t, err, errBCCrash)
			require.Zero(t, v.bcBalance(c.ID))
			v.clock.Advance(ReconcileAfter + time.Minute)
			rep, err := v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Equal(t, 1, rep.Payments)
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			rep, err = v.Reconcile(v.ctx)
			require.NoError(t, err)
			require.Zero(t, rep.Payments)
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			v.checkLedger(c.ID)
		})

		t.Run("ApplyChargeOutcome twice, then the call's own answer", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			gate := newGate(v.proc)
			payID, done := v.bcHeld(v.msEngine(gate), gate, c.ID)
			for range 2 {
				got, err := v.ApplyChargeOutcome(v.ctx, payID, processor.Charge{ID: "ch_webhook", Status: processor.ChargeSucceeded})
				require.NoError(t, err)
				require.Equal(t, subscription.PaymentSucceeded, got.Status)
				require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			}
			gate.release()
			require.NoError(t, <-done)
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			require.Len(t, v.bcCredits(c.ID, payID), 1)
			require.Equal(t, 1, v.eventTypes()[EventPaymentSucceeded])
			v.checkLedger(c.ID)
		})

		t.Run("16 concurrent calls with one key", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			gate := newGate(v.proc)
			gate.holdCharge = 16
			e := v.msEngine(gate)
			const n = 16
			var (
				wg       sync.WaitGroup
				returned atomic.Int32
				ids      = make([]string, n)
				errs     = make([]error, n)
			)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer returned.Add(1)
					p, err := e.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "same"))
					ids[i], errs[i] = p.ID, err
				}()
			}
			deadline := time.Now().Add(20 * time.Second)
			for int(returned.Load())+len(gate.entered) < n && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			gate.release()
			wg.Wait()
			for i := range n {
				require.NoError(t, errs[i])
				require.Equal(t, ids[0], ids[i], "one payment for one key")
			}
			require.EqualValues(t, 1, gate.charges.Load(), "one processor charge")
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			require.Len(t, v.bcCredits(c.ID, ids[0]), 1)
			v.checkLedger(c.ID)
		})
	})
}

func TestBuyCreditRefunds(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		t.Run("to the card takes the credit back", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			_, err := v.CreateEntry(v.ctx, c.ID, credit(5_00, "USD", "seed"))
			require.NoError(t, err)
			pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "p"))
			require.NoError(t, err)
			require.Equal(t, int64(15_00), v.bcBalance(c.ID))

			r, err := v.Refund(v.ctx, pay.ID, RefundParams{Amount: 4_00, IdempotencyKey: "r1"})
			require.NoError(t, err)
			require.Equal(t, subscription.RefundSucceeded, r.Status)
			require.Equal(t, int64(4_00), r.ProcessorAmount)
			require.Zero(t, r.WalletAmount)
			require.Equal(t, int64(11_00), v.bcBalance(c.ID))
			r, err = v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r2"})
			require.NoError(t, err)
			require.Equal(t, int64(6_00), r.Amount)
			require.Equal(t, int64(5_00), v.bcBalance(c.ID), "the seed credit stays")
			require.Equal(t, subscription.PaymentRefunded, v.rtPayment(pay.ID).Status)
			require.Zero(t, msCollected(v.proc))
			// A replayed refund takes nothing more.
			_, err = v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r2"})
			require.NoError(t, err)
			require.Equal(t, int64(5_00), v.bcBalance(c.ID))
			v.checkLedger(c.ID)
		})

		t.Run("spent credit: insufficient funds, nothing changed", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "p"))
			require.NoError(t, err)
			_, err = v.CreateEntry(v.ctx, c.ID, debit(7_00, "USD", "spend"))
			require.NoError(t, err)
			events := len(v.events())

			_, err = v.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r"})
			require.ErrorIs(t, err, wallet.ErrInsufficientFunds)
			got := v.rtPayment(pay.ID)
			require.Equal(t, subscription.PaymentSucceeded, got.Status)
			require.Zero(t, got.RefundedAmount)
			require.Zero(t, got.ProcessorRefunded)
			refunds, err := pageData(v.ListRefunds(v.ctx, RefundListParams{PaymentID: pay.ID}))
			require.NoError(t, err)
			require.Empty(t, refunds)
			require.Empty(t, v.proc.Refunds())
			require.Equal(t, int64(3_00), v.bcBalance(c.ID))
			require.Equal(t, events, len(v.events()))

			// What is left can be refunded.
			_, err = v.Refund(v.ctx, pay.ID, RefundParams{Amount: 3_00, IdempotencyKey: "r-rest"})
			require.NoError(t, err)
			require.Zero(t, v.bcBalance(c.ID))
			v.checkLedger(c.ID)
		})

		t.Run("to the wallet is refused", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "p"))
			require.NoError(t, err)
			_, err = v.Refund(v.ctx, pay.ID, RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "r"})
			require.ErrorIs(t, err, ErrPurchaseToWallet)
			require.ErrorIs(t, err, subscription.ErrInvalid)
			require.Equal(t, http.StatusUnprocessableEntity, HTTPStatus(err))
			require.Equal(t, int64(10_00), v.bcBalance(c.ID))
			require.Zero(t, v.rtPayment(pay.ID).RefundedAmount)
			require.Empty(t, v.proc.Refunds())
		})

		t.Run("a refund the processor rejects gives the credit back", func(t *testing.T) {
			v := newEnv(t, newStore)
			c := v.customer()
			gate := newGate(v.proc)
			gate.holdRefund, gate.refundErr = 1, errBCCrash
			e := v.msEngine(gate)
			pay, err := e.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "p"))
			require.NoError(t, err)
			done := make(chan error, 1)
			go func() {
				_, err := e.Refund(v.ctx, pay.ID, RefundParams{IdempotencyKey: "r"})
				done <- err
			}()
			<-gate.entered
			require.Zero(t, v.bcBalance(c.ID), "the credit is taken while the refund is pending")
			gate.release()
			require.Error(t, <-done)
			require.Equal(t, int64(10_00), v.bcBalance(c.ID), "a failed refund restores the credit")
			got := v.rtPayment(pay.ID)
			require.Equal(t, subscription.PaymentSucceeded, got.Status)
			require.Zero(t, got.RefundedAmount)
			v.checkLedger(c.ID)
		})
	})
}

func TestBuyCreditTermsLandOnTheGrant(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		exp := v.clock.Now().Add(24 * time.Hour)
		p := bcPack(processor.CardOK, "bonus")
		p.CreditKind, p.Priority, p.ExpiresAt = ledger.KindGranted, 3, exp
		pay, err := v.BuyCredit(v.ctx, c.ID, p)
		require.NoError(t, err)
		require.Equal(t, ledger.CreditTerms{Kind: ledger.KindGranted, Priority: 3, ExpiresAt: exp.UTC()}, PurchaseTerms(pay))
		sum, err := v.ExpiringCredits(v.ctx, c.ID, "USD", 48*time.Hour)
		require.NoError(t, err)
		require.Equal(t, int64(10_00), sum.Granted)
		require.Equal(t, int64(10_00), sum.Expiring)
		require.Len(t, sum.Grants, 1)
		g := sum.Grants[0]
		require.Equal(t, ledger.KindGranted, g.Kind)
		require.Equal(t, 3, g.Priority)
		require.True(t, exp.Equal(g.ExpiresAt))

		// Past the expiry the credit expires, and a replay still answers
		// the original payment while a new purchase cannot buy it.
		v.clock.Advance(25 * time.Hour)
		n, err := v.ExpireCredits(v.ctx)
		require.NoError(t, err)
		require.Equal(t, 1, n)
		require.Zero(t, v.bcBalance(c.ID))
		again, err := v.BuyCredit(v.ctx, c.ID, p)
		require.NoError(t, err)
		require.Equal(t, pay.ID, again.ID)
		p.IdempotencyKey = "bonus-2"
		_, err = v.BuyCredit(v.ctx, c.ID, p)
		require.ErrorIs(t, err, ledger.ErrInvalidCredit)
		require.Equal(t, 1, v.proc.ChargeCount())
		v.checkLedger(c.ID)
	})
}

// A success recorded again for a purchase (as if two settlers had both
// found it pending) credits once: the entry's key replays.
func TestBuyCreditDuplicateSettlementCreditsOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, newStore func(t *testing.T) store.Store) {
		v := newEnv(t, newStore)
		c := v.customer()
		pay, err := v.BuyCredit(v.ctx, c.ID, bcPack(processor.CardOK, "p"))
		require.NoError(t, err)
		require.Equal(t, int64(10_00), v.bcBalance(c.ID))
		// Put the payment back to pending, then apply its success again.
		pending := v.rtPayment(pay.ID)
		pending.Status = subscription.PaymentPending
		require.NoError(t, v.store.Update(v.ctx, func(tx store.Tx) error { return tx.UpdatePayment(pending) }))
		got, err := v.ApplyChargeOutcome(v.ctx, pay.ID, processor.Charge{ID: pay.ProcessorID, Status: processor.ChargeSucceeded})
		require.NoError(t, err)
		require.Equal(t, subscription.PaymentSucceeded, got.Status)
		require.Equal(t, int64(10_00), v.bcBalance(c.ID), "credited once")
		require.Len(t, v.bcCredits(c.ID, pay.ID), 1)
		v.checkLedger(c.ID)
	})
}
