package coffer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// ChargeParams charges an on-demand subscription. ProductPrice is
// required; the other fields default to the subscription's.
type ChargeParams struct {
	ProductPrice                  *int64            `json:"product_price"`
	ProductCurrency               string            `json:"product_currency,omitempty"`
	ProductDescription            string            `json:"product_description,omitempty"`
	AdaptiveCurrencyFeesInclusive *bool             `json:"adaptive_currency_fees_inclusive,omitempty"`
	Metadata                      map[string]string `json:"metadata,omitempty"`
	// IdempotencyKey makes the charge safe to retry: the same key returns
	// the original payment; a different request under it is
	// subscription.ErrIdempotencyConflict.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// chargeInput is one charge to make on a subscription.
type chargeInput struct {
	subID        string
	amount       int64
	currency     string
	description  string
	fees         bool
	metadata     map[string]string
	key          string
	retryAttempt int
	retryOf      string
	// customerID and paymentMethod identify a one-time payment (subID "").
	customerID    string
	paymentMethod string
	// allowOnHold lets the charge collect an overdue payment of a
	// subscription on hold (CollectOverdue); success reactivates it.
	allowOnHold bool
}

// fingerprint identifies the request's content (amount, currency,
// description, fees flag, metadata and subscription), so a reused
// idempotency key with any other content is a conflict, not a replay.
func (in chargeInput) fingerprint() string {
	keys := make([]string, 0, len(in.metadata))
	for k := range in.metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(in.description)
	fmt.Fprintf(&b, "\x00fees=%t", in.fees)
	// The debt a collection settles and the payment method a one-time
	// payment names identify the request as much as its amount does.
	if in.retryOf != "" {
		fmt.Fprintf(&b, "\x00debt=%q", in.retryOf)
	}
	if in.paymentMethod != "" {
		fmt.Fprintf(&b, "\x00method=%q", in.paymentMethod)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "\x00%q=%q", k, in.metadata[k])
	}
	req := ledger.Request{Amount: in.amount, Currency: in.currency, Type: ledger.Debit, Reason: b.String(),
		Reference: ledger.Reference{Type: ledger.RefPayment, ID: in.subID}}
	return req.Fingerprint()
}

// Charge charges a subscription a variable amount. The customer's wallet
// balance in that currency is applied first (reserved by a hold); only the
// remainder is charged to the payment method, outside any store
// transaction; then one transaction captures or releases the hold, records
// the outcome and writes payment.succeeded or payment.failed.
//
// A declined charge is not an error: the returned payment has status failed
// and a decline code, and the retry policy schedules the next attempt (soft
// declines) or puts the subscription on hold (hard declines). If the
// processor's answer is lost, the payment is returned pending and Reconcile
// settles it.
func (e *Engine) Charge(ctx context.Context, subscriptionID string, p ChargeParams) (subscription.Payment, error) {
	if err := checkID(subscription.ErrInvalid, "subscription_id", subscriptionID); err != nil {
		return subscription.Payment{}, err
	}
	if p.ProductPrice == nil {
		return subscription.Payment{}, subscription.ErrMissingPrice
	}
	if *p.ProductPrice <= 0 {
		return subscription.Payment{}, subscription.ErrInvalidPrice
	}
	if err := customer.ValidateMetadata(p.Metadata); err != nil {
		return subscription.Payment{}, err
	}
	if err := checkText(subscription.ErrInvalid, "product_description", p.ProductDescription, maxTextLen); err != nil {
		return subscription.Payment{}, err
	}
	if err := checkIdempotencyKey(subscription.ErrInvalid, p.IdempotencyKey); err != nil {
		return subscription.Payment{}, err
	}
	if err := checkKey(subscription.ErrInvalid, "product_currency", p.ProductCurrency); err != nil {
		return subscription.Payment{}, err
	}
	sub, err := e.Subscription(ctx, subscriptionID)
	if err != nil {
		return subscription.Payment{}, err
	}
	in := chargeInput{subID: sub.ID, amount: *p.ProductPrice, currency: sub.Currency, description: sub.Description,
		fees: sub.FeesInclusive, metadata: sub.Metadata, key: p.IdempotencyKey}
	if p.ProductCurrency != "" {
		c, err := e.currencies.Check(p.ProductCurrency)
		if err != nil {
			return subscription.Payment{}, err
		}
		in.currency = c.Code
	}
	if p.ProductDescription != "" {
		in.description = p.ProductDescription
	}
	if p.AdaptiveCurrencyFeesInclusive != nil {
		in.fees = *p.AdaptiveCurrencyFeesInclusive
	}
	if p.Metadata != nil {
		in.metadata = p.Metadata
	}
	return e.charge(ctx, in)
}

// charge runs the three steps of a charge: reserve, call the processor,
// settle.
func (e *Engine) charge(ctx context.Context, in chargeInput) (subscription.Payment, error) {
	if e.processor == nil {
		return subscription.Payment{}, ErrNoProcessor
	}
	var (
		pay  subscription.Payment
		sub  subscription.Subscription
		done bool
	)
	err := e.update(ctx, func(tx store.Tx) error {
		var err error
		pay, done = subscription.Payment{}, false
		if in.subID == "" {
			// A one-time payment: no subscription, the payment method given.
			if _, err := getCustomer(tx, in.customerID); err != nil {
				return err
			}
			sub = subscription.Subscription{CustomerID: in.customerID, PaymentMethod: in.paymentMethod, Status: subscription.StatusActive}
		} else if sub, err = getSubscription(tx, in.subID); err != nil {
			return err
		}
		if in.key != "" {
			prev, err := tx.PaymentByKey(sub.CustomerID, in.key)
			if err == nil {
				if prev.Fingerprint != in.fingerprint() {
					return fmt.Errorf("%w: key %s", subscription.ErrIdempotencyConflict, text.Quote(in.key))
				}
				pay, done = prev, true
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := sub.CanCharge(); err != nil && !(in.allowOnHold && sub.Status == subscription.StatusOnHold) {
			return err
		}
		var debt subscription.Payment
		if in.retryOf != "" {
			// The debt is claimed in the transaction that reserves the
			// charge, so concurrent collectors of one debt serialize
			// here and only one reaches the processor.
			if debt, err = e.claimDebt(tx, in); err != nil {
				return err
			}
		}
		pay, err = e.reserve(tx, sub, in)
		if err != nil {
			return err
		}
		if in.retryOf != "" {
			debt.CollectingBy, debt.UpdatedAt = pay.ID, pay.CreatedAt
			if err := tx.UpdatePayment(debt); err != nil {
				return err
			}
		}
		if pay.ProcessorAmount == 0 {
			done = true
			// The debt was claimed in this transaction: no surplus.
			return e.settle(tx, &pay, processor.Charge{Status: processor.ChargeSucceeded}, new(*subscription.Refund))
		}
		return nil
	})
	if err != nil || done {
		return pay, err
	}
	// The call holds a lease on the payment until its outcome is recorded:
	// Reconcile and retaken retries leave the payment alone meanwhile.
	defer e.holdCall(pay.ID)()
	ch, err := e.processor.Charge(ctx, processor.ChargeRequest{
		IdempotencyKey: pay.ID, MandateID: sub.MandateID, PaymentMethod: pay.PaymentMethod,
		Amount: pay.ProcessorAmount, Currency: pay.Currency, Description: pay.Description, Metadata: pay.Metadata,
	})
	if e.crashAfterCharge != nil {
		if cerr := e.crashAfterCharge(pay.ID); cerr != nil {
			return pay, cerr
		}
	}
	ch, known := e.outcome(ctx, pay.ID, ch, err)
	if !known {
		return pay, nil // stays pending; Reconcile settles it
	}
	// The processor has acted: record it even if the caller gave up
	// meanwhile, rather than leave it to Reconcile.
	return e.finish(context.WithoutCancel(ctx), pay.ID, ch, false)
}

// reserve records a pending payment and holds the wallet part of it.
func (e *Engine) reserve(tx store.Tx, sub subscription.Subscription, in chargeInput) (subscription.Payment, error) {
	now := e.clock.Now()
	pay := subscription.Payment{
		ID: newID("pay"), CustomerID: sub.CustomerID, SubscriptionID: sub.ID, Kind: kindOf(sub),
		Amount: in.amount, Currency: in.currency, Status: subscription.PaymentPending, PaymentMethod: sub.PaymentMethod,
		IdempotencyKey: in.key, Fingerprint: in.fingerprint(), Description: in.description, FeesInclusive: in.fees,
		Metadata: in.metadata, RetryAttempt: in.retryAttempt, RetryOf: in.retryOf, CreatedAt: now, UpdatedAt: now,
	}
	if in.retryAttempt > 0 {
		md := make(map[string]string, len(in.metadata)+1)
		for k, v := range in.metadata {
			md[k] = v
		}
		md["retry_attempt"] = strconv.Itoa(in.retryAttempt)
		pay.Metadata = md
	}
	b, err := e.balanceForUpdate(tx, sub.CustomerID, in.currency)
	if err != nil {
		return pay, err
	}
	if apply := min(b.Available(), in.amount); apply > 0 {
		h, after, err := ledger.PlaceHold(b, newID("hold"), apply, ledger.Reference{Type: ledger.RefPayment, ID: pay.ID}, now)
		if err != nil {
			return pay, err
		}
		if err := tx.PutHold(h); err != nil {
			return pay, err
		}
		if err := e.putBalance(tx, after, nil); err != nil {
			return pay, err
		}
		pay.HoldID, pay.WalletAmount = h.ID, apply
	}
	pay.ProcessorAmount = in.amount - pay.WalletAmount
	if pay.ProcessorAmount > 0 {
		pay.CallUntil = now.Add(ReconcileAfter)
	}
	return pay, tx.InsertPayment(pay)
}

// outcome turns a processor answer into a charge outcome. known is false
// when the outcome cannot be known now (the processor is unreachable even
// for the lookup).
func (e *Engine) outcome(ctx context.Context, paymentID string, ch processor.Charge, err error) (processor.Charge, bool) {
	if err == nil {
		return ch, true
	}
	if unknownOutcome(err) {
		// The call was cut short on our side: the processor may have
		// charged, and ctx may be done too, so asking now is pointless.
		return processor.Charge{}, false
	}
	if !errors.Is(err, processor.ErrUnavailable) {
		return processor.Charge{Status: processor.ChargeFailed, DeclineCode: DeclineProcessorError}, true
	}
	found, lerr := e.processor.LookupCharge(ctx, paymentID)
	switch {
	case lerr == nil:
		return found, true
	case errors.Is(lerr, processor.ErrNotFound):
		// The processor never took the charge: a soft failure, retried by policy.
		return processor.Charge{Status: processor.ChargeFailed, DeclineCode: processor.NetworkError}, true
	}
	return processor.Charge{}, false
}

// unknownOutcome reports whether a processor call ended by the caller's
// context (cancelled, or its deadline passed) rather than by an answer: the
// request may have reached the processor and acted, so the outcome is
// unknown and must be looked up later, not taken as a rejection.
func unknownOutcome(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// DeclineProcessorError is the decline code recorded when the processor
// rejects a request as malformed (an error that is neither a decline nor
// unavailability). It is not retried.
const DeclineProcessorError = "PROCESSOR_ERROR"

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
func (e *Engine) finish(ctx context.Context, paymentID string, ch processor.Charge, ifLeaseExpired bool) (subscription.Payment, error) {
	var (
		pay     subscription.Payment
		surplus *subscription.Refund
		late    bool
	)
	err := e.update(ctx, func(tx store.Tx) error {
		var err error
		surplus, late = nil, false
		if pay, err = getPayment(tx, paymentID); err != nil {
			return err
		}
		switch {
		case pay.Status == subscription.PaymentPending:
			if ifLeaseExpired && e.clock.Now().Before(pay.CallUntil) {
				return nil
			}
			return e.settle(tx, &pay, ch, &surplus)
		case pay.Status == subscription.PaymentFailed && ch.Status == processor.ChargeSucceeded:
			late = !successRecorded(&pay, ch)
			return e.lateSuccess(tx, &pay, ch, &surplus)
		}
		return nil
	})
	if err == nil && late {
		e.log.LogAttrs(ctx, slog.LevelWarn, "coffer: processor success arrived for a payment already failed",
			slog.String("payment_id", pay.ID), slog.String("customer_id", pay.CustomerID),
			slog.String("status", string(pay.Status)), slog.Bool("duplicate_refunded", surplus != nil))
	}
	if err != nil || surplus == nil {
		return pay, err
	}
	e.log.LogAttrs(ctx, slog.LevelWarn, "coffer: duplicate collection, refunding the processor charge",
		slog.String("payment_id", pay.ID), slog.String("refund_id", surplus.ID),
		slog.Int64("amount", surplus.Amount), slog.String("currency", surplus.Currency))
	if _, rerr := e.charges.RefundThroughProcessor(ctx, *surplus, pay.ProcessorID); rerr != nil {
		// The refund stays recorded (pending or failed, with its event);
		// Reconcile resends a pending one.
		return pay, rerr
	}
	return e.Payment(ctx, paymentID)
}

func getPayment(tx store.BillingReader, id string) (subscription.Payment, error) {
	return billing.Payment(tx, id)
}

// settle records the outcome of a pending payment: capture or release its
// hold, update the payment, its subscription, the retry schedule and the
// customer's delinquency, and write the events.
func (e *Engine) settle(tx store.Tx, pay *subscription.Payment, ch processor.Charge, surplus **subscription.Refund) error {
	now := e.clock.Now()
	pay.ProcessorID = ch.ID
	pay.UpdatedAt = now
	pay.CallUntil = time.Time{}
	if ch.Status == processor.ChargeSucceeded {
		if by, dup, err := debtCollected(tx, pay); err != nil {
			return err
		} else if dup {
			if err := e.releaseHold(tx, pay.HoldID); err != nil {
				return err
			}
			return e.refundSurplus(tx, pay, ch, by, surplus)
		}
		if err := e.captureHold(tx, pay.HoldID, "Payment "+pay.ID); err != nil {
			return err
		}
		pay.Status = subscription.PaymentSucceeded
		pay.DeclineCode = ""
		if err := tx.UpdatePayment(*pay); err != nil {
			return err
		}
		if err := e.emit(tx, EventPaymentSucceeded, pay.CustomerID, pay); err != nil {
			return err
		}
		return e.billing.AfterSuccess(tx, pay)
	}
	if err := e.releaseHold(tx, pay.HoldID); err != nil {
		return err
	}
	pay.Status = subscription.PaymentFailed
	pay.DeclineCode = ch.DeclineCode
	var caused []billing.Pending
	if err := e.billing.AfterFailure(tx, pay, &caused); err != nil {
		return err
	}
	if err := tx.UpdatePayment(*pay); err != nil {
		return err
	}
	if err := e.emit(tx, EventPaymentFailed, pay.CustomerID, pay); err != nil {
		return err
	}
	for _, ev := range caused {
		if err := e.emit(tx, ev.Type, ev.CustomerID, ev.Data); err != nil {
			return err
		}
	}
	return e.billing.RefreshDelinquency(tx, pay.CustomerID)
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

func (e *Engine) captureHold(tx ledgerTx, holdID, reason string) error {
	if holdID == "" {
		return nil
	}
	h, b, err := heldBalance(tx, holdID)
	if err != nil {
		return err
	}
	h, entry, after, err := ledger.CaptureHold(b, h, newID("le"), reason, e.clock.Now())
	if err != nil {
		return err
	}
	if err := tx.InsertEntry(entry); err != nil {
		return err
	}
	if err := tx.PutHold(h); err != nil {
		return err
	}
	return e.putBalance(tx, after, &entry)
}

func (e *Engine) releaseHold(tx ledgerTx, holdID string) error {
	if holdID == "" {
		return nil
	}
	h, b, err := heldBalance(tx, holdID)
	if err != nil {
		return err
	}
	h, after, err := ledger.ReleaseHold(b, h, e.clock.Now())
	if err != nil {
		return err
	}
	if err := tx.PutHold(h); err != nil {
		return err
	}
	return e.putBalance(tx, after, nil)
}

// engineWallet is the engine's side of a balance change for the charge
// service (charge.Wallet).
type engineWallet struct{ e *Engine }

func (w engineWallet) BalanceForUpdate(tx store.Tx, customerID, currency string) (wallet.Balance, error) {
	return w.e.balanceForUpdate(tx, customerID, currency)
}

func (w engineWallet) PutBalance(tx interface {
	store.Ledger
	store.Outbox
}, b wallet.Balance, entry *ledger.Entry) error {
	return w.e.putBalance(tx, b, entry)
}

func (w engineWallet) Post(tx store.Tx, customerID string, req ledger.Request) error {
	_, err := w.e.post(tx, customerID, req)
	return err
}

func kindOf(sub subscription.Subscription) subscription.Kind {
	if sub.ID == "" {
		return subscription.KindOneTime
	}
	return subscription.KindSubscription
}
