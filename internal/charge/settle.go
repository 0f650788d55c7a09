package charge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// DuplicateRefund is the data of a payment.duplicate_refunded event; the
// root package's DuplicateRefund has the same fields and JSON names (a
// root test checks they agree).
type DuplicateRefund struct {
	Payment     subscription.Payment `json:"payment"`
	CollectedBy string               `json:"collected_by,omitempty"`
	Refund      subscription.Refund  `json:"refund"`
}

// finish records a processor outcome for a payment in its own transaction.
// A pending payment is settled. A success for a payment already failed
// (Reconcile took the call for lost while it was still in flight) is never
// dropped: it is recorded by lateSuccess. Any other outcome for a payment
// no longer pending is returned as is.
//
// ifLeaseExpired, set by Reconcile, leaves the payment pending if its call
// lease was renewed meanwhile (its caller is alive and still waiting).
//
// A processor charge that collected a debt already collected by another
// charge is refunded through the processor after the transaction commits.
func (s *Service) finish(ctx context.Context, paymentID string, ch processor.Charge, ifLeaseExpired bool) (subscription.Payment, error) {
	var (
		pay     subscription.Payment
		surplus *subscription.Refund
		late    bool
	)
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		surplus, late = nil, false
		if pay, err = billing.Payment(tx, paymentID); err != nil {
			return err
		}
		switch {
		case pay.Status == subscription.PaymentPending:
			if ifLeaseExpired && s.c.Clock.Now().Before(pay.CallUntil) {
				return nil
			}
			return s.settle(tx, &pay, ch, &surplus)
		case pay.Status == subscription.PaymentFailed && ch.Status == processor.ChargeSucceeded:
			late = !successRecorded(&pay, ch)
			return s.lateSuccess(tx, &pay, ch, &surplus)
		}
		return nil
	})
	if err == nil && late {
		s.c.Log.LogAttrs(ctx, slog.LevelWarn, "coffer: processor success arrived for a payment already failed",
			slog.String("payment_id", pay.ID), slog.String("customer_id", pay.CustomerID),
			slog.String("status", string(pay.Status)), slog.Bool("duplicate_refunded", surplus != nil))
	}
	if err != nil || surplus == nil {
		return pay, err
	}
	s.c.Log.LogAttrs(ctx, slog.LevelWarn, "coffer: duplicate collection, refunding the processor charge",
		slog.String("payment_id", pay.ID), slog.String("customer_id", pay.CustomerID), slog.String("refund_id", surplus.ID),
		slog.Int64("amount", surplus.Amount), slog.String("currency", surplus.Currency))
	if _, rerr := s.refundThroughProcessor(ctx, *surplus, pay.ProcessorID); rerr != nil {
		// The refund stays recorded (pending or failed, with its event);
		// Reconcile resends a pending one.
		return pay, rerr
	}
	return s.Payment(ctx, paymentID)
}

// settle records the outcome of a pending payment: capture or release its
// hold, update the payment, its subscription, the retry schedule and the
// customer's delinquency, and write the events.
func (s *Service) settle(tx store.Tx, pay *subscription.Payment, ch processor.Charge, surplus **subscription.Refund) error {
	now := s.c.Clock.Now()
	pay.ProcessorID = ch.ID
	pay.UpdatedAt = now
	pay.CallUntil = time.Time{}
	if ch.Status == processor.ChargeSucceeded {
		if by, dup, err := debtCollected(tx, pay); err != nil {
			return err
		} else if dup {
			if err := s.releaseHold(tx, pay.HoldID); err != nil {
				return err
			}
			return s.refundSurplus(tx, pay, ch, by, surplus)
		}
		if err := s.captureHold(tx, pay.HoldID, "Payment "+pay.ID); err != nil {
			return err
		}
		if err := s.creditPurchase(tx, pay); err != nil {
			return err
		}
		pay.Status = subscription.PaymentSucceeded
		pay.DeclineCode = ""
		if err := tx.UpdatePayment(*pay); err != nil {
			return err
		}
		if err := s.c.Emit(tx, EventPaymentSucceeded, pay.CustomerID, pay); err != nil {
			return err
		}
		return s.c.Billing.AfterSuccess(tx, pay)
	}
	if err := s.releaseHold(tx, pay.HoldID); err != nil {
		return err
	}
	pay.Status = subscription.PaymentFailed
	pay.DeclineCode = ch.DeclineCode
	var caused []billing.Pending
	if err := s.c.Billing.AfterFailure(tx, pay, &caused); err != nil {
		return err
	}
	if err := tx.UpdatePayment(*pay); err != nil {
		return err
	}
	if err := s.c.Emit(tx, EventPaymentFailed, pay.CustomerID, pay); err != nil {
		return err
	}
	for _, ev := range caused {
		if err := s.c.Emit(tx, ev.Type, ev.CustomerID, ev.Data); err != nil {
			return err
		}
	}
	return s.c.Billing.RefreshDelinquency(tx, pay.CustomerID)
}

// claimDebt checks, inside the reserving transaction, that the debt a
// collecting charge names is still open and that no other charge is
// collecting it, and returns it (locked, on stores that lock). The caller
// records the claim (CollectingBy) in the same transaction.
func claimDebt(tx store.Tx, in Input) (subscription.Payment, error) {
	debt, err := billing.Payment(tx, in.RetryOf)
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
	case in.AllowOnHold && !debt.NextRetryAt.IsZero():
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
	debt, err := billing.Payment(tx, pay.RetryOf)
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
func (s *Service) refundSurplus(tx store.Tx, pay *subscription.Payment, ch processor.Charge, by string, out **subscription.Refund) error {
	now := s.c.Clock.Now()
	pay.Status, pay.DeclineCode, pay.ProcessorID = subscription.PaymentFailed, DeclineDuplicate, ch.ID
	pay.NextRetryAt, pay.CallUntil, pay.UpdatedAt = time.Time{}, time.Time{}, now
	reason := "automatic refund: the wallet no longer covers its part of the payment"
	if by != "" {
		reason = "automatic refund: the charge was already collected by " + by
	}
	r := subscription.Refund{
		ID: ids.New("re"), PaymentID: pay.ID, CustomerID: pay.CustomerID, Amount: pay.ProcessorAmount,
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
		debt, err := billing.Payment(tx, pay.RetryOf)
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
	return s.c.Emit(tx, EventPaymentDuplicateRefunded, pay.CustomerID, DuplicateRefund{Payment: *pay, CollectedBy: by, Refund: r})
}

// lateSuccess records a processor success for a payment already failed
// (its call outlived its lease and Reconcile, finding no charge yet, failed
// it). The hold was released when it failed, so the wallet part is debited
// again; the payment then succeeds as if it had never failed: the debt is
// settled, the chain's pending retries are cancelled, the subscription is
// reactivated and the delinquent flag refreshed. If the debt was collected
// meanwhile, or the wallet no longer covers its part, the processor charge
// is refunded instead (refundSurplus).
func (s *Service) lateSuccess(tx store.Tx, pay *subscription.Payment, ch processor.Charge, out **subscription.Refund) error {
	if successRecorded(pay, ch) {
		return nil
	}
	by, dup, err := debtCollected(tx, pay)
	if err != nil {
		return err
	}
	if dup {
		return s.refundSurplus(tx, pay, ch, by, out)
	}
	if pay.WalletAmount > 0 {
		b, err := s.c.Wallet.BalanceForUpdate(tx, pay.CustomerID, pay.Currency)
		if err != nil {
			return err
		}
		if b.Available() < pay.WalletAmount {
			return s.refundSurplus(tx, pay, ch, "", out)
		}
		if err := s.c.Wallet.Post(tx, pay.CustomerID, ledger.Request{
			Amount: pay.WalletAmount, Currency: pay.Currency, Type: ledger.Debit, Reason: "Payment " + pay.ID,
			IdempotencyKey: "late:" + pay.ID, Reference: ledger.Reference{Type: ledger.RefPayment, ID: pay.ID},
		}); err != nil {
			return err
		}
	}
	if err := s.creditPurchase(tx, pay); err != nil {
		return err
	}
	now := s.c.Clock.Now()
	if pay.RetryOf == "" && pay.SubscriptionID != "" {
		// Before pay is written: CancelRetries rewrites the chain's first
		// payment, which is pay.
		if err := s.c.Billing.CancelRetries(tx, pay.SubscriptionID, pay.ID); err != nil {
			return err
		}
	}
	pay.Status, pay.DeclineCode, pay.ProcessorID = subscription.PaymentSucceeded, "", ch.ID
	pay.NextRetryAt, pay.CallUntil, pay.UpdatedAt = time.Time{}, time.Time{}, now
	if err := tx.UpdatePayment(*pay); err != nil {
		return err
	}
	if err := s.c.Emit(tx, EventPaymentSucceeded, pay.CustomerID, pay); err != nil {
		return err
	}
	if err := s.c.Billing.AfterSuccess(tx, pay); err != nil {
		return err
	}
	if pay.RetryOf == "" {
		return s.c.Billing.RefreshDelinquency(tx, pay.CustomerID)
	}
	return nil
}

// successRecorded reports whether the success ch of a failed payment was
// recorded already: as a duplicate refunded (refundSurplus), or as the
// charge the payment carries. Only a success not yet recorded is late.
func successRecorded(pay *subscription.Payment, ch processor.Charge) bool {
	return pay.DeclineCode == DeclineDuplicate || (pay.ProcessorID != "" && pay.ProcessorID == ch.ID)
}
