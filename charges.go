package coffer

import (
	"context"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/billing"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// ChargeParams charges an on-demand subscription. ProductPrice is
// required; the other fields default to the subscription's.
//
// ProductCurrency is the currency of ProductPrice. Without adaptive
// currency (no WithFX) it is also the currency charged (wallet and payment
// method). With WithFX the charge is always in the subscription's
// currency: a ProductPrice in another currency is converted at the
// source's rate, and the adaptive-currency fee (WithAdaptiveFee) is inside
// the price when AdaptiveCurrencyFeesInclusive is true, on top of it when
// false (see WithFX for the rules).
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
func (e *Engine) Charge(ctx context.Context, subscriptionID string, p ChargeParams) (pay subscription.Payment, err error) {
	if e.tracer != nil {
		var end func(subscription.Payment, error)
		ctx, end = e.spanCharge(ctx, subscriptionID)
		defer func() { end(pay, err) }()
	}
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
	// The subscription's defaults (currency, description, fees flag,
	// metadata) are filled in the reserving transaction, from the
	// subscription it reads and locks: no read of its own before it.
	in := charge.Input{SubscriptionID: subscriptionID, Amount: *p.ProductPrice, Description: p.ProductDescription,
		Metadata: p.Metadata, IdempotencyKey: p.IdempotencyKey, SubscriptionDefaults: true}
	if p.AdaptiveCurrencyFeesInclusive != nil {
		in.FeesInclusive, in.FeesInclusiveSet = *p.AdaptiveCurrencyFeesInclusive, true
	}
	if p.ProductCurrency != "" && e.fx != nil {
		// Adaptive currency: the price is in ProductCurrency, the charge
		// in the subscription's currency (fxcharge.go).
		c, err := money.Lookup(p.ProductCurrency)
		if err != nil {
			return subscription.Payment{}, err
		}
		return e.adaptiveCharge(ctx, in, c.Code)
	}
	if p.ProductCurrency != "" {
		c, err := e.currencies.Check(p.ProductCurrency)
		if err != nil {
			return subscription.Payment{}, err
		}
		in.Currency = c.Code
	}
	return e.charges.Charge(ctx, in)
}

// unknownOutcome reports whether a processor call ended by the caller's
// context rather than by an answer (see charge.UnknownOutcome).
func unknownOutcome(err error) bool { return charge.UnknownOutcome(err) }

// DeclineProcessorError is the decline code recorded when the processor
// rejects a request as malformed (an error that is neither a decline nor
// unavailability). It is not retried.
const DeclineProcessorError = "PROCESSOR_ERROR"

func getPayment(tx store.BillingReader, id string) (subscription.Payment, error) {
	return billing.Payment(tx, id)
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

func (w engineWallet) PutHold(tx store.Tx, b wallet.Balance, h ledger.Hold) error {
	if err := tx.PutHold(h); err != nil {
		return err
	}
	return w.e.holdGrants(tx, b, h)
}

func (w engineWallet) Post(tx store.Tx, customerID string, req ledger.Request) error {
	_, err := w.e.post(tx, customerID, req)
	return err
}
