package coffer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// ErrPurchaseToWallet: a refund of a credit purchase (BuyCredit) asked to
// go to the wallet. The purchase's money is already in the wallet as the
// credit it bought; it is refunded to its payment method only, which takes
// that credit back. It is of the 422 class (invalid_request) and changes
// nothing.
var ErrPurchaseToWallet = charge.ErrPurchaseToWallet

// BuyCreditParams is a purchase of wallet credit with a payment method.
type BuyCreditParams struct {
	// Amount is the credit bought and the amount charged, in minor units
	// (> 0).
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentMethod string            `json:"payment_method"`
	Description   string            `json:"description,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
	// IdempotencyKey makes the call safe to retry: the same key with the
	// same params returns the original payment; with other params
	// (amount, currency, method, description, metadata or credit terms) it
	// is an idempotency conflict.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// CreditKind, Priority and ExpiresAt are the terms of the credit the
	// purchase grants, as in EntryParams: paid (default) or granted,
	// consumed by priority (lower first, default 0), then earliest expiry,
	// then age; its unconsumed remainder expires at ExpiresAt (zero:
	// never; otherwise it must lie in the future).
	CreditKind ledger.CreditKind `json:"credit_kind,omitempty"`
	Priority   int               `json:"priority,omitempty"`
	ExpiresAt  time.Time         `json:"expires_at,omitzero"`
}

// BuyCredit sells a customer wallet credit for money taken from a payment
// method: a one-time payment of kind credit_purchase for Amount, charged in
// full to PaymentMethod. The wallet is never applied to it, whatever its
// balance (a $10 pack with $5 in the wallet charges the card 10.00 and
// leaves 15.00).
//
// The pending payment is reserved in one transaction, the processor is
// called outside any transaction (the same charge path as ChargeOneTime),
// and the transaction that records a success also posts the credit: a
// ledger credit of Amount with reason "Credit purchase <payment id>",
// reference type payment and the payment's id, under the credit terms
// given, atomically with payment.succeeded and wallet.balance_changed.
// Every way a success is recorded (the call's answer, Reconcile, a late
// success after Reconcile failed the payment, ApplyChargeOutcome) posts
// that credit, and only once: its entry is keyed "purchase:<payment id>".
// A declined purchase credits nothing, is not retried and is not overdue;
// an unknown outcome leaves the payment pending for Reconcile. If the
// success is recorded after ExpiresAt (a settlement delayed past it), the
// credit is posted without the expiry.
//
// Refund (to the payment method only; the wallet is refused with
// ErrPurchaseToWallet) takes the refunded credit back from the wallet in
// the refund's reserving transaction: if the wallet no longer holds it
// (spent, held or expired) the refund is refused with
// wallet.ErrInsufficientFunds and nothing changes. A refund the processor
// rejects gives the credit back as paid credit.
func (e *Engine) BuyCredit(ctx context.Context, customerID string, p BuyCreditParams) (subscription.Payment, error) {
	if err := reservedUnitMeta(p.Metadata); err != nil { // buyunits.go
		return subscription.Payment{}, err
	}
	return e.buyCredit(ctx, customerID, p)
}

// buyCredit is BuyCredit without the reserved-metadata check (BuyUnits
// sets those keys).
func (e *Engine) buyCredit(ctx context.Context, customerID string, p BuyCreditParams) (subscription.Payment, error) {
	ot := OneTimeParams{Amount: p.Amount, Currency: p.Currency, PaymentMethod: p.PaymentMethod,
		Description: p.Description, Metadata: p.Metadata, IdempotencyKey: p.IdempotencyKey}
	c, err := e.checkOneTime(customerID, &ot)
	if err != nil {
		return subscription.Payment{}, err
	}
	p.PaymentMethod = ot.PaymentMethod
	terms := ledger.CreditTerms{Kind: p.CreditKind, Priority: p.Priority, ExpiresAt: p.ExpiresAt}
	if !terms.Plain() {
		if err := terms.Validate(time.Time{}); err != nil {
			return subscription.Payment{}, err
		}
		if err := e.checkGrantsKept(ctx); err != nil {
			return subscription.Payment{}, err
		}
	}
	terms = terms.Normal()
	in := charge.Input{
		CustomerID: customerID, PaymentMethod: p.PaymentMethod, Amount: p.Amount, Currency: c.Code,
		Description: p.Description, Metadata: p.Metadata, IdempotencyKey: p.IdempotencyKey,
		CreditPurchase: true, Credit: terms,
	}
	if !terms.ExpiresAt.IsZero() && !terms.ExpiresAt.After(e.clock.Now()) {
		// A replay of a purchase made before its expiry still answers the
		// original payment; a new purchase cannot buy expired credit.
		prev, err := e.purchaseByKey(ctx, customerID, in)
		switch {
		case err == nil:
			return prev, nil
		case errors.Is(err, subscription.ErrIdempotencyConflict):
			return subscription.Payment{}, err
		}
		return subscription.Payment{}, fmt.Errorf("%w: expires_at must be in the future", ledger.ErrInvalidCredit)
	}
	return e.charges.Charge(ctx, in)
}

// checkGrantsKept refuses credit terms on a store that keeps no credit
// grants, before any money moves (the credit is posted once the card was
// charged, when a refusal would come too late).
func (e *Engine) checkGrantsKept(ctx context.Context) error {
	return e.store.View(ctx, func(tx store.Tx) error {
		if _, ok := store.As[store.CreditGrants](tx); !ok {
			return errCreditsUnsupported
		}
		return nil
	})
}

// purchaseByKey returns the purchase a key made with the same params.
func (e *Engine) purchaseByKey(ctx context.Context, customerID string, in charge.Input) (subscription.Payment, error) {
	var pay subscription.Payment
	if in.IdempotencyKey == "" {
		return pay, store.ErrNotFound
	}
	err := e.store.View(ctx, func(tx store.Tx) (err error) {
		pay, err = tx.PaymentByKey(customerID, in.IdempotencyKey)
		return err
	})
	if err == nil && pay.Fingerprint != in.Fingerprint() {
		return subscription.Payment{}, fmt.Errorf("%w: key %q", subscription.ErrIdempotencyConflict, in.IdempotencyKey)
	}
	return pay, err
}

// PurchaseTerms returns the credit terms a credit purchase (BuyCredit)
// grants when it succeeds; the zero terms for any other payment.
func PurchaseTerms(pay subscription.Payment) ledger.CreditTerms { return charge.PurchaseTerms(pay) }
