package coffer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// This file holds the rules that keep one debt collected at most once and
// every processor outcome recorded:
//
//   - a debt (an overdue charge) is claimed in the transaction that reserves
//     the charge collecting it (claimDebt): one collector at a time;
//   - a processor call holds a lease on its payment while it lasts
//     (holdCall): Reconcile and retaken retries do not declare it failed;
//   - a success that arrives for a payment already failed is recorded
//     (lateSuccess), and a success that collects a debt another charge
//     already collected is refunded automatically (refundSurplus).

// Errors of debt collection (409 class).
var (
	// ErrDebtSettled: the overdue charge was already collected by another
	// payment. It matches ErrNotOverdue too.
	ErrDebtSettled error = debtSettledError{}
	// ErrCollectionInProgress: another charge is collecting the overdue
	// charge right now; its outcome decides. Nothing was charged.
	ErrCollectionInProgress = errors.New("coffer: a collection of this overdue charge is in progress")
)

type debtSettledError struct{}

func (debtSettledError) Error() string        { return "coffer: the overdue charge was already collected" }
func (debtSettledError) Is(target error) bool { return target == ErrNotOverdue }

// DeclineDuplicate is the decline code of a payment whose processor charge
// succeeded for a debt that another payment had already collected: the
// charge is refunded automatically (payment.duplicate_refunded) and the
// payment stays failed.
const DeclineDuplicate = "DUPLICATE_COLLECTION"

// DuplicateRefund is the data of a payment.duplicate_refunded event.
type DuplicateRefund struct {
	// Payment is the payment whose processor charge was a duplicate.
	Payment subscription.Payment `json:"payment"`
	// CollectedBy is the payment that had already collected the debt, ""
	// when the wallet no longer covered the payment's wallet part.
	CollectedBy string `json:"collected_by,omitempty"`
	// Refund returns the processor charge to the payment method.
	Refund subscription.Refund `json:"refund"`
}

// claimDebt checks, inside the reserving transaction, that the debt a
// collecting charge names is still open and that no other charge is
// collecting it, and returns it (locked, on stores that lock). The caller
// records the claim (CollectingBy) in the same transaction.
func (e *Engine) claimDebt(tx store.Tx, in chargeInput) (subscription.Payment, error) {
	debt, err := getPayment(tx, in.retryOf)
	if err != nil {
		return debt, err
	}
	switch {
	case debt.SettledBy != "":
		return debt, fmt.Errorf("%w: %s by %s", ErrDebtSettled, debt.ID, debt.SettledBy)
	case debt.Paid() > 0:
		return debt, fmt.Errorf("%w: %s is %s", ErrDebtSettled, debt.ID, debt.Status)
	case !debt.Overdue():
		return debt, fmt.Errorf("%w: %s is %s", ErrNotOverdue, debt.ID, debt.Status)
	case in.allowOnHold && !debt.NextRetryAt.IsZero():
		return debt, fmt.Errorf("%w: %s has a retry scheduled", ErrNotOverdue, debt.ID)
	}
	if debt.CollectingBy != "" {
		cur, err := tx.Payment(debt.CollectingBy)
		switch {
		case err == nil && cur.Status == subscription.PaymentPending:
			return debt, fmt.Errorf("%w: %s is being collected by %s", ErrCollectionInProgress, debt.ID, cur.ID)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return debt, err
		}
		// A stale claim: its charge was settled (settling clears the claim;
		// this one predates that rule) or never committed.
	}
	return debt, nil
}

// debtCollected reports whether the debt that pay collects was already
// collected by another payment, and by which.
func debtCollected(tx store.Tx, pay *subscription.Payment) (by string, dup bool, err error) {
	if pay.RetryOf == "" {
		// pay is the debt itself: a retry may have collected it while pay's
		// own call was taken for lost.
		return pay.SettledBy, pay.SettledBy != "" && pay.SettledBy != pay.ID, nil
	}
	debt, err := getPayment(tx, pay.RetryOf)
	if err != nil {
		return "", false, err
	}
	switch {
	case debt.SettledBy != "" && debt.SettledBy != pay.ID:
		return debt.SettledBy, true, nil
	case debt.Paid() > 0:
		return debt.ID, true, nil // the debt's own late success
	}
	return "", false, nil
}

// refundSurplus records a processor success that collected nothing: the
// debt was already collected (by) or the wallet no longer covers the
// payment's wallet part (by ""). The payment stays failed, marked
// DeclineDuplicate, and a refund of its processor part is recorded pending,
// to be sent to the processor after the transaction commits (*out);
// Reconcile resends it if that send is lost. The hold, if any, must already
// be released.
func (e *Engine) refundSurplus(tx store.Tx, pay *subscription.Payment, ch processor.Charge, by string, out **subscription.Refund) error {
	now := e.clock.Now()
	pay.Status, pay.DeclineCode, pay.ProcessorID = subscription.PaymentFailed, DeclineDuplicate, ch.ID
	pay.NextRetryAt, pay.CallUntil, pay.UpdatedAt = time.Time{}, time.Time{}, now
	reason := "automatic refund: the wallet no longer covers its part of the payment"
	if by != "" {
		reason = "automatic refund: the charge was already collected by " + by
	}
	r := subscription.Refund{
		ID: newID("re"), PaymentID: pay.ID, CustomerID: pay.CustomerID, Amount: pay.ProcessorAmount,
		Currency: pay.Currency, Destination: subscription.ToPaymentMethod, Status: subscription.RefundPending,
		ProcessorAmount: pay.ProcessorAmount, Reason: reason, IdempotencyKey: "duplicate:" + pay.ID, CreatedAt: now,
	}
	// RefundedAmount counts refunds of what the payment collected, which
	// is nothing; the returned duplicate shows in ProcessorRefunded.
	pay.ProcessorRefunded += r.Amount
	if err := tx.UpdatePayment(*pay); err != nil {
		return err
	}
	if err := tx.InsertRefund(r); err != nil {
		return err
	}
	if pay.RetryOf != "" {
		debt, err := getPayment(tx, pay.RetryOf)
		if err != nil {
			return err
		}
		if billing.ReleaseDebtClaim(&debt, pay.ID) {
			debt.UpdatedAt = now
			if err := tx.UpdatePayment(debt); err != nil {
				return err
			}
		}
	}
	*out = &r
	return e.emit(tx, EventPaymentDuplicateRefunded, pay.CustomerID, DuplicateRefund{Payment: *pay, CollectedBy: by, Refund: r})
}

// lateSuccess records a processor success for a payment already failed
// (its call outlived its lease and Reconcile, finding no charge yet, failed
// it). The hold was released when it failed, so the wallet part is debited
// again; the payment then succeeds as if it had never failed: the debt is
// settled, the chain's pending retries are cancelled, the subscription is
// reactivated and the delinquent flag refreshed. If the debt was collected
// meanwhile, or the wallet no longer covers its part, the processor charge
// is refunded instead (refundSurplus).
func (e *Engine) lateSuccess(tx store.Tx, pay *subscription.Payment, ch processor.Charge, out **subscription.Refund) error {
	if successRecorded(pay, ch) {
		return nil
	}
	by, dup, err := debtCollected(tx, pay)
	if err != nil {
		return err
	}
	if dup {
		return e.refundSurplus(tx, pay, ch, by, out)
	}
	if pay.WalletAmount > 0 {
		b, err := e.balanceForUpdate(tx, pay.CustomerID, pay.Currency)
		if err != nil {
			return err
		}
		if b.Available() < pay.WalletAmount {
			return e.refundSurplus(tx, pay, ch, "", out)
		}
		if _, err := e.post(tx, pay.CustomerID, ledger.Request{
			Amount: pay.WalletAmount, Currency: pay.Currency, Type: ledger.Debit, Reason: "Payment " + pay.ID,
			IdempotencyKey: "late:" + pay.ID, Reference: ledger.Reference{Type: ledger.RefPayment, ID: pay.ID},
		}); err != nil {
			return err
		}
	}
	now := e.clock.Now()
	if pay.RetryOf == "" && pay.SubscriptionID != "" {
		// Before pay is written: cancelRetries rewrites the chain's first
		// payment, which is pay.
		if err := e.billing.CancelRetries(tx, pay.SubscriptionID, pay.ID); err != nil {
			return err
		}
	}
	pay.Status, pay.DeclineCode, pay.ProcessorID = subscription.PaymentSucceeded, "", ch.ID
	pay.NextRetryAt, pay.CallUntil, pay.UpdatedAt = time.Time{}, time.Time{}, now
	if err := tx.UpdatePayment(*pay); err != nil {
		return err
	}
	if err := e.emit(tx, EventPaymentSucceeded, pay.CustomerID, pay); err != nil {
		return err
	}
	if err := e.billing.AfterSuccess(tx, pay); err != nil {
		return err
	}
	if pay.RetryOf == "" {
		return e.billing.RefreshDelinquency(tx, pay.CustomerID)
	}
	return nil
}

// successRecorded reports whether the success ch of a failed payment was
// recorded already: as a duplicate refunded (refundSurplus), or as the
// charge the payment carries. Only a success not yet recorded is late.
func successRecorded(pay *subscription.Payment, ch processor.Charge) bool {
	return pay.DeclineCode == DeclineDuplicate || (pay.ProcessorID != "" && pay.ProcessorID == ch.ID)
}

// holdCall marks a payment's processor call in flight: in this process (so
// this engine's Reconcile and retry runner leave the payment alone however
// far its clock moves) and in the store, by renewing the payment's
// CallUntil lease every callRenewEvery while the call lasts (so other
// engines sharing the store leave it alone too). The returned function
// ends the hold; call it after the outcome is recorded.
func (e *Engine) holdCall(paymentID string) (release func()) {
	e.inflight.Store(paymentID, struct{}{})
	var (
		mu      sync.Mutex
		stopped bool
		timer   *time.Timer
	)
	renew := func() {
		ctx, cancel := context.WithTimeout(context.Background(), ReconcileAfter/4)
		defer cancel()
		// A failed renewal leaves the lease to run out: the cost is only
		// that another engine may look the charge up early, and a success
		// it then misses is still recorded by lateSuccess.
		_ = e.store.Update(ctx, func(tx store.Tx) error {
			p, err := tx.Payment(paymentID)
			if err != nil || p.Status != subscription.PaymentPending {
				return err
			}
			if until := e.clock.Now().Add(ReconcileAfter); until.After(p.CallUntil) {
				p.CallUntil = until
				return tx.UpdatePayment(p)
			}
			return nil
		})
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			timer.Reset(e.callRenewEvery)
		}
	}
	mu.Lock()
	timer = time.AfterFunc(e.callRenewEvery, renew)
	mu.Unlock()
	return func() {
		mu.Lock()
		stopped = true
		timer.Stop()
		mu.Unlock()
		e.inflight.Delete(paymentID)
	}
}

// callOpen reports whether a pending payment's processor call may still be
// in flight: in this process, or under a lease that has not run out.
// Payments from before call leases fall back to their age.
func (e *Engine) callOpen(p subscription.Payment, now time.Time) bool {
	if _, ok := e.inflight.Load(p.ID); ok {
		return true
	}
	if !p.CallUntil.IsZero() {
		return now.Before(p.CallUntil)
	}
	return p.UpdatedAt.After(now.Add(-ReconcileAfter))
}
