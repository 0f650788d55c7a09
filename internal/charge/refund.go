package charge

import (
	"context"
	"errors"
	"fmt"

	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// RefundRequest is a validated refund of one payment.
type RefundRequest struct {
	// Amount in minor units; 0 refunds everything still refundable.
	Amount int64
	// Destination is subscription.ToPaymentMethod or subscription.ToWallet.
	Destination    subscription.RefundDestination
	Reason         string
	IdempotencyKey string
}

// Refund returns all or part of a succeeded payment, never more than was
// paid in total. The refunded amount is reserved on the payment in one
// transaction (so concurrent refunds cannot exceed it), the processor is
// called for the card part outside any transaction, and its answer is
// recorded in another.
func (s *Service) Refund(ctx context.Context, paymentID string, p RefundRequest) (subscription.Refund, error) {
	fingerprint := ledger.Request{Amount: p.Amount, Currency: "", Type: ledger.Credit, Reason: p.Reason,
		Reference: ledger.Reference{Type: ledger.RefType(p.Destination), ID: paymentID}}.Fingerprint()
	var (
		r    subscription.Refund
		pay  subscription.Payment
		done bool
	)
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		r, done = subscription.Refund{}, false
		if pay, err = billing.Payment(tx, paymentID); err != nil {
			return err
		}
		prev, err := tx.RefundByKey(pay.ID, p.IdempotencyKey)
		if err == nil {
			if prev.Fingerprint != fingerprint {
				return fmt.Errorf("%w: refund key %s", subscription.ErrIdempotencyConflict, text.Quote(p.IdempotencyKey))
			}
			r, done = prev, true
			return nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if pay.Kind == subscription.KindCreditPurchase && p.Destination == subscription.ToWallet {
			return ErrPurchaseToWallet
		}
		refundable := pay.Refundable()
		if refundable <= 0 {
			return fmt.Errorf("%w: %s is %s", subscription.ErrNotRefundable, pay.ID, pay.Status)
		}
		amount := p.Amount
		if amount == 0 {
			amount = refundable
		}
		if amount > refundable {
			return fmt.Errorf("%w: %d requested, %d refundable", subscription.ErrInvalidRefund, amount, refundable)
		}
		if _, _, units := PurchaseUnits(pay); units && amount != pay.Amount {
			return ErrUnitPurchasePartialRefund
		}
		if err := splitRefunded(tx, &pay); err != nil {
			return err
		}
		// Every refund draws on the wallet-applied part first, then on
		// the card part; each part is tracked on its own, so a refund
		// that failed at the processor gives back exactly what it took
		// and the processor is never sent more than the card part left.
		walletLeft := max(0, pay.WalletAmount-pay.WalletRefunded)
		cardLeft := max(0, pay.ProcessorAmount-pay.ProcessorRefunded)
		fromWallet := min(amount, walletLeft)
		fromCard := amount - fromWallet
		if fromCard > cardLeft {
			return fmt.Errorf("%w: %d requested, %d refundable", subscription.ErrInvalidRefund, amount, walletLeft+cardLeft)
		}
		toWallet := fromWallet
		if p.Destination == subscription.ToWallet {
			toWallet = amount // the card part too comes back as wallet credit
		}
		now := s.c.Clock.Now()
		r = subscription.Refund{
			ID: ids.New("re"), PaymentID: pay.ID, CustomerID: pay.CustomerID, Amount: amount, Currency: pay.Currency,
			Destination: p.Destination, Status: subscription.RefundPending, WalletAmount: toWallet,
			ProcessorAmount: amount - toWallet, Reason: p.Reason, IdempotencyKey: p.IdempotencyKey,
			Fingerprint: fingerprint, CreatedAt: now,
		}
		if pay.Kind == subscription.KindCreditPurchase {
			// The credit it bought leaves the wallet with the refund.
			if err := s.takeBackPurchase(tx, r, "purchase:refund:"+r.ID); err != nil {
				return err
			}
		}
		pay.RefundedAmount += amount
		pay.WalletRefunded += fromWallet
		pay.ProcessorRefunded += fromCard
		pay.Status = refundedStatus(pay)
		pay.UpdatedAt = now
		if err := tx.UpdatePayment(pay); err != nil {
			return err
		}
		if err := tx.InsertRefund(r); err != nil {
			return err
		}
		if r.ProcessorAmount == 0 {
			done = true
			return s.completeRefund(tx, &r, "")
		}
		return nil
	})
	if err != nil || done {
		return r, err
	}
	return s.refundThroughProcessor(ctx, r, pay.ProcessorID)
}

// splitRefunded fills in WalletRefunded and ProcessorRefunded of a payment
// refunded before they were recorded, from its refunds (oldest first, each
// drawing on the wallet part first; failed refunds gave nothing back).
func splitRefunded(tx store.Tx, pay *subscription.Payment) error {
	if pay.RefundedAmount == 0 || pay.WalletRefunded+pay.ProcessorRefunded != 0 {
		return nil
	}
	refunds, err := tx.ListRefunds(pay.ID)
	if err != nil {
		return err
	}
	var w, c int64
	for _, r := range refunds {
		if r.Status == subscription.RefundFailed {
			continue
		}
		fromWallet := min(r.Amount, max(0, pay.WalletAmount-w))
		if r.Destination == subscription.ToPaymentMethod {
			fromWallet = min(r.WalletAmount, max(0, pay.WalletAmount-w))
		}
		w, c = w+fromWallet, c+r.Amount-fromWallet
	}
	pay.WalletRefunded, pay.ProcessorRefunded = w, c
	return nil
}

func refundedStatus(p subscription.Payment) subscription.PaymentStatus {
	if p.RefundedAmount >= p.Amount {
		return subscription.PaymentRefunded
	}
	return subscription.PaymentPartiallyRefunded
}

// refundThroughProcessor calls the processor for a pending refund and
// records the outcome. An unreachable processor leaves the refund pending
// for Reconcile (the call is idempotent by refund id).
func (s *Service) refundThroughProcessor(ctx context.Context, r subscription.Refund, chargeID string) (subscription.Refund, error) {
	proc := s.c.Processor
	if proc == nil {
		return r, ErrNoProcessor
	}
	// While this call lasts, this service's Reconcile does not resend the
	// refund (a resend racing it could be refused and fail a refund the
	// processor is making).
	s.inflight.Store(r.ID, struct{}{})
	defer s.inflight.Delete(r.ID)
	pr, err := proc.Refund(ctx, processor.RefundRequest{
		IdempotencyKey: r.ID, ChargeID: chargeID, Amount: r.ProcessorAmount, Currency: r.Currency,
	})
	if errors.Is(err, processor.ErrUnavailable) || UnknownOutcome(err) {
		return r, nil
	}
	var out subscription.Refund
	// The processor has answered: record it even if the caller gave up.
	uerr := s.update(context.WithoutCancel(ctx), func(tx store.Tx) error {
		cur, gerr := tx.Refund(r.ID)
		if gerr != nil {
			return gerr
		}
		out = cur
		if cur.Status == subscription.RefundFailed && err == nil {
			// A success after another call for the same refund was
			// refused (a resend from another process racing this one):
			// the money went back, so the refund takes its parts again.
			return s.lateRefundSuccess(tx, &out, pr.ID)
		}
		if cur.Status != subscription.RefundPending {
			return nil
		}
		if err != nil {
			return s.failRefund(tx, &out)
		}
		return s.completeRefund(tx, &out, pr.ID)
	})
	if uerr != nil {
		return out, uerr
	}
	if err != nil {
		return out, fmt.Errorf("coffer: refund %s rejected by the processor: %w", r.ID, err)
	}
	return out, nil
}

// completeRefund credits the wallet part of a refund and marks it succeeded.
func (s *Service) completeRefund(tx store.Tx, r *subscription.Refund, processorID string) error {
	if r.WalletAmount > 0 {
		err := s.c.Wallet.Post(tx, r.CustomerID, ledger.Request{
			Amount: r.WalletAmount, Currency: r.Currency, Type: ledger.Credit,
			Reason: "Refund for payment " + r.PaymentID, IdempotencyKey: "refund:" + r.ID,
			Reference: ledger.Reference{Type: ledger.RefRefund, ID: r.ID},
		})
		if err != nil {
			return err
		}
	}
	r.Status, r.ProcessorID = subscription.RefundSucceeded, processorID
	if err := tx.UpdateRefund(*r); err != nil {
		return err
	}
	return s.c.Emit(tx, EventRefundSucceeded, r.CustomerID, r)
}

// lateRefundSuccess records a processor success for a refund already
// marked failed: the payment takes back the parts failRefund freed, and the
// refund completes (crediting its wallet part).
func (s *Service) lateRefundSuccess(tx store.Tx, r *subscription.Refund, processorID string) error {
	pay, err := billing.Payment(tx, r.PaymentID)
	if err != nil {
		return err
	}
	if pay.Status == subscription.PaymentFailed {
		pay.ProcessorRefunded += r.ProcessorAmount // a duplicate's automatic refund
	} else {
		pay.RefundedAmount += r.Amount
		pay.WalletRefunded += r.WalletAmount
		pay.ProcessorRefunded += r.ProcessorAmount
		pay.Status = refundedStatus(pay)
		if pay.Kind == subscription.KindCreditPurchase {
			if err := s.lateTakeBack(tx, *r); err != nil {
				return err
			}
		}
	}
	pay.UpdatedAt = s.c.Clock.Now()
	if err := tx.UpdatePayment(pay); err != nil {
		return err
	}
	return s.completeRefund(tx, r, processorID)
}

// failRefund marks a refund failed and frees its reserved amount.
func (s *Service) failRefund(tx store.Tx, r *subscription.Refund) error {
	pay, err := billing.Payment(tx, r.PaymentID)
	if err != nil {
		return err
	}
	if pay.Status == subscription.PaymentFailed {
		// The automatic refund of a duplicate charge (refundSurplus):
		// the payment collected nothing and stays failed; the money is
		// still on the card, which refund.failed reports.
		pay.ProcessorRefunded -= r.ProcessorAmount
	} else {
		// Only refunds through the processor fail, and they took their
		// parts as recorded on the refund (see Refund).
		pay.RefundedAmount -= r.Amount
		pay.WalletRefunded -= r.WalletAmount
		pay.ProcessorRefunded -= r.ProcessorAmount
		pay.Status = subscription.PaymentSucceeded
		if pay.RefundedAmount > 0 {
			pay.Status = refundedStatus(pay)
		}
		if pay.Kind == subscription.KindCreditPurchase {
			if err := s.restorePurchase(tx, *r); err != nil {
				return err
			}
		}
	}
	pay.UpdatedAt = s.c.Clock.Now()
	if err := tx.UpdatePayment(pay); err != nil {
		return err
	}
	r.Status = subscription.RefundFailed
	if err := tx.UpdateRefund(*r); err != nil {
		return err
	}
	return s.c.Emit(tx, EventRefundFailed, r.CustomerID, r)
}
