package charge

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/ids"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// Charge runs the three steps of a charge: reserve (one transaction: the
// pending payment, the hold on the wallet part, the claim on the debt it
// collects), call the processor for the rest outside any transaction under
// a lease on the payment, settle (another transaction). A declined charge
// is not an error: the payment is failed with its decline code. If the
// processor's answer is lost, the payment is returned pending and
// Reconcile settles it.
func (s *Service) Charge(ctx context.Context, req Input) (subscription.Payment, error) {
	proc := s.c.Processor
	if proc == nil {
		return subscription.Payment{}, ErrNoProcessor
	}
	var (
		pay  subscription.Payment
		sub  subscription.Subscription
		done bool
	)
	err := s.update(ctx, func(tx store.Tx) error {
		var err error
		pay, done = subscription.Payment{}, false
		in := req
		if in.SubscriptionID == "" {
			// A one-time payment: no subscription, the payment method given.
			if _, err := billing.Customer(tx, in.CustomerID); err != nil {
				return err
			}
			sub = subscription.Subscription{CustomerID: in.CustomerID, PaymentMethod: in.PaymentMethod, Status: subscription.StatusActive}
		} else if sub, err = billing.Subscription(tx, in.SubscriptionID); err != nil {
			return err
		}
		in = in.withDefaults(sub)
		var inserted bool
		pay, done, inserted, err = s.reserveCharge(tx, sub, in)
		if err == nil || inserted || in.IdempotencyKey == "" {
			return err
		}
		// The idempotency lookup is folded into the payment's insert: a
		// fresh key (the common case) costs no lookup. When the charge
		// failed before its payment was stored (the key taken, or any
		// earlier refusal), a taken key answers as a lookup up front
		// would have: the original payment, or a conflict.
		prev, lerr := tx.PaymentByKey(sub.CustomerID, in.IdempotencyKey)
		switch {
		case errors.Is(lerr, store.ErrNotFound):
			return err
		case lerr != nil:
			return lerr
		case prev.Fingerprint != in.Fingerprint():
			return fmt.Errorf("%w: key %s", subscription.ErrIdempotencyConflict, text.Quote(in.IdempotencyKey))
		}
		pay, done = prev, true
		// Roll back what this attempt wrote before it found the key
		// taken (a hold on the wallet).
		return errReplayed
	})
	if errors.Is(err, errReplayed) {
		return pay, nil
	}
	if err != nil || done {
		return pay, err
	}
	// The call holds a lease on the payment until its outcome is recorded:
	// Reconcile and retaken retries leave the payment alone meanwhile.
	defer s.holdCall(pay.ID)()
	ch, err := proc.Charge(ctx, processor.ChargeRequest{
		IdempotencyKey: pay.ID, MandateID: sub.MandateID, PaymentMethod: pay.PaymentMethod,
		Amount: pay.ProcessorAmount, Currency: pay.Currency, Description: pay.Description, Metadata: pay.Metadata,
	})
	if crash := s.c.CrashAfterCharge; crash != nil {
		if cerr := crash(pay.ID); cerr != nil {
			return pay, cerr
		}
	}
	ch, known := s.outcome(ctx, proc, pay.ID, ch, err)
	if !known {
		return pay, nil // stays pending; Reconcile settles it
	}
	// The processor has acted: record it even if the caller gave up
	// meanwhile, rather than leave it to Reconcile.
	return s.finish(context.WithoutCancel(ctx), pay.ID, ch, false)
}

// errReplayed ends a reserving transaction that found its idempotency key
// taken: what it wrote is rolled back and the original payment returned.
var errReplayed = errors.New("charge: idempotency key replayed")

// reserveCharge runs the checks and writes of the reserving transaction
// for sub: the charge must be allowed, the debt it collects claimed, the
// payment reserved (and, when the wallet covers all of it, settled at
// once: done). inserted reports that the payment was stored, so a later
// failure is not an idempotency question.
func (s *Service) reserveCharge(tx store.Tx, sub subscription.Subscription, in Input) (pay subscription.Payment, done, inserted bool, err error) {
	if err := sub.CanCharge(); err != nil && !(in.AllowOnHold && sub.Status == subscription.StatusOnHold) {
		return pay, false, false, err
	}
	var debt subscription.Payment
	if in.RetryOf != "" {
		// The debt is claimed in the transaction that reserves the
		// charge, so concurrent collectors of one debt serialize
		// here and only one reaches the processor.
		if debt, err = claimDebt(tx, in); err != nil {
			return pay, false, false, err
		}
		in = in.withDebtFX(debt)
	}
	pay, err = s.reserve(tx, sub, in)
	if err != nil {
		return pay, false, false, err
	}
	if err := issueInvoice(tx, pay); err != nil {
		return pay, false, true, err
	}
	if in.RetryOf != "" {
		debt.CollectingBy, debt.UpdatedAt = pay.ID, pay.CreatedAt
		if err := tx.UpdatePayment(debt); err != nil {
			return pay, false, true, err
		}
	}
	if pay.ProcessorAmount == 0 {
		// The debt was claimed in this transaction: no surplus.
		err = s.settle(tx, &pay, processor.Charge{Status: processor.ChargeSucceeded}, new(*subscription.Refund))
		return pay, true, true, err
	}
	return pay, false, true, nil
}

// reserve records a pending payment and holds the wallet part of it.
func (s *Service) reserve(tx store.Tx, sub subscription.Subscription, in Input) (subscription.Payment, error) {
	now := s.c.Clock.Now()
	pay := subscription.Payment{
		ID: ids.New("pay"), CustomerID: sub.CustomerID, SubscriptionID: sub.ID, Kind: kindOf(sub, in),
		Amount: in.Amount, Currency: in.Currency, Status: subscription.PaymentPending, PaymentMethod: sub.PaymentMethod,
		IdempotencyKey: in.IdempotencyKey, Fingerprint: in.Fingerprint(), Description: in.Description, FeesInclusive: in.FeesInclusive,
		Metadata: in.Metadata, RetryAttempt: in.RetryAttempt, RetryOf: in.RetryOf, CreatedAt: now, UpdatedAt: now,
		Fee: in.Fee, ProductAmount: in.ProductAmount, ProductCurrency: in.ProductCurrency,
		FXRate: in.FXRate, FXSource: in.FXSource, FXRateAt: in.FXRateAt,
	}
	if in.RetryAttempt > 0 {
		md := make(map[string]string, len(in.Metadata)+1)
		for k, v := range in.Metadata {
			md[k] = v
		}
		md["retry_attempt"] = strconv.Itoa(in.RetryAttempt)
		pay.Metadata = md
	}
	if in.CreditPurchase {
		// Buying credit never spends the wallet's credit: all of it goes
		// to the payment method.
		pay.ProcessorAmount, pay.CallUntil = in.Amount, now.Add(ReconcileAfter)
		return pay, tx.InsertPayment(pay)
	}
	b, err := s.c.Wallet.BalanceForUpdate(tx, sub.CustomerID, in.Currency)
	if err != nil {
		return pay, err
	}
	if apply := min(b.Available(), in.Amount); apply > 0 {
		h, after, err := ledger.PlaceHold(b, ids.New("hold"), apply, ledger.Reference{Type: ledger.RefPayment, ID: pay.ID}, now)
		if err != nil {
			return pay, err
		}
		if err := s.c.Wallet.PutHold(tx, b, h); err != nil {
			return pay, err
		}
		if err := s.c.Wallet.PutBalance(tx, after, nil); err != nil {
			return pay, err
		}
		pay.HoldID, pay.WalletAmount = h.ID, apply
	}
	pay.ProcessorAmount = in.Amount - pay.WalletAmount
	if pay.ProcessorAmount > 0 {
		pay.CallUntil = now.Add(ReconcileAfter)
	}
	return pay, tx.InsertPayment(pay)
}

// outcome turns a processor answer into a charge outcome. known is false
// when the outcome cannot be known now (the processor is unreachable even
// for the lookup).
func (s *Service) outcome(ctx context.Context, proc processor.Processor, paymentID string, ch processor.Charge, err error) (processor.Charge, bool) {
	if err == nil {
		return ch, true
	}
	if UnknownOutcome(err) {
		// The call was cut short on our side: the processor may have
		// charged, and ctx may be done too, so asking now is pointless.
		return processor.Charge{}, false
	}
	if !errors.Is(err, processor.ErrUnavailable) {
		return processor.Charge{Status: processor.ChargeFailed, DeclineCode: DeclineProcessorError}, true
	}
	found, lerr := proc.LookupCharge(ctx, paymentID)
	switch {
	case lerr == nil:
		return found, true
	case errors.Is(lerr, processor.ErrNotFound):
		// The processor never took the charge: a soft failure, retried by policy.
		return processor.Charge{Status: processor.ChargeFailed, DeclineCode: processor.NetworkError}, true
	}
	return processor.Charge{}, false
}

// heldBalance reads (and locks) a hold and the balance it reserves.
func heldBalance(tx store.LedgerReader, holdID string) (ledger.Hold, wallet.Balance, error) {
	h, err := tx.Hold(holdID)
	if err != nil {
		return h, wallet.Balance{}, err
	}
	b, err := tx.Balance(h.CustomerID, h.Currency)
	return h, b, err
}

// captureHold debits the wallet by what the hold reserved.
func (s *Service) captureHold(tx store.Tx, holdID, reason string) error {
	if holdID == "" {
		return nil
	}
	h, b, err := heldBalance(tx, holdID)
	if err != nil {
		return err
	}
	h, entry, after, err := ledger.CaptureHold(b, h, ids.New("le"), reason, s.c.Clock.Now())
	if err != nil {
		return err
	}
	if err := tx.InsertEntry(entry); err != nil {
		return err
	}
	if err := s.c.Wallet.PutHold(tx, b, h); err != nil {
		return err
	}
	return s.c.Wallet.PutBalance(tx, after, &entry)
}

// releaseHold gives what the hold reserved back to the available balance.
func (s *Service) releaseHold(tx store.Tx, holdID string) error {
	if holdID == "" {
		return nil
	}
	h, b, err := heldBalance(tx, holdID)
	if err != nil {
		return err
	}
	h, after, err := ledger.ReleaseHold(b, h, s.c.Clock.Now())
	if err != nil {
		return err
	}
	if err := s.c.Wallet.PutHold(tx, b, h); err != nil {
		return err
	}
	return s.c.Wallet.PutBalance(tx, after, nil)
}

func kindOf(sub subscription.Subscription, in Input) subscription.Kind {
	if in.CreditPurchase && sub.ID == "" {
		return subscription.KindCreditPurchase
	}
	if sub.ID == "" {
		return subscription.KindOneTime
	}
	return subscription.KindSubscription
}
