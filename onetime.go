package coffer

import (
	"context"
	"fmt"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/subscription"
)

// OneTimeParams is a one-time payment: no subscription, no mandate.
//
// Currency is the currency charged (the wallet and the payment method in
// it). Amount is in Currency, or, with adaptive currency on (WithFX) and a
// ProductCurrency that differs from Currency, the price in ProductCurrency:
// it is then converted into Currency at the source's rate and the
// adaptive-currency fee (WithAdaptiveFee) is inside the price when
// AdaptiveCurrencyFeesInclusive is true, on top of it when false or unset,
// exactly as for a converted subscription charge (see WithFX).
type OneTimeParams struct {
	Amount   int64  `json:"amount"` // minor units, > 0
	Currency string `json:"currency"`
	// ProductCurrency is the currency of Amount when it is not Currency
	// (adaptive currency; "" means Currency). Without WithFX a
	// ProductCurrency other than Currency is refused (ErrFXOff), and so it
	// is in a host transaction (TxEngine.ChargeOneTime:
	// ErrProcessorInHostTx).
	ProductCurrency string `json:"product_currency,omitempty"`
	// AdaptiveCurrencyFeesInclusive puts the adaptive-currency fee of a
	// converted payment inside Amount (true) or on top of it (false, the
	// default). The payment records it (FeesInclusive) either way.
	AdaptiveCurrencyFeesInclusive *bool             `json:"adaptive_currency_fees_inclusive,omitempty"`
	PaymentMethod                 string            `json:"payment_method"`
	Description                   string            `json:"description,omitempty"`
	Metadata                      map[string]string `json:"metadata,omitempty"`
	// IdempotencyKey makes the call safe to retry (same key, same payment).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// ChargeOneTime takes a one-time payment from a customer through the same
// path as a subscription charge: the wallet balance in the currency first,
// the remainder from PaymentMethod, outside any store transaction. The
// payment's Kind is one_time; a declined one-time payment is not retried
// and is not overdue.
func (e *Engine) ChargeOneTime(ctx context.Context, customerID string, p OneTimeParams) (pay subscription.Payment, err error) {
	if e.tracer != nil {
		var end func(subscription.Payment, error)
		ctx, end = e.spanOneTime(ctx, customerID, p)
		defer func() { end(pay, err) }()
	}
	c, err := e.checkOneTime(customerID, &p)
	if err != nil {
		return subscription.Payment{}, err
	}
	in := charge.Input{
		CustomerID: customerID, PaymentMethod: p.PaymentMethod, Amount: p.Amount,
		Currency: c.Code, Description: p.Description, Metadata: p.Metadata, IdempotencyKey: p.IdempotencyKey,
	}
	if p.AdaptiveCurrencyFeesInclusive != nil {
		in.FeesInclusive = *p.AdaptiveCurrencyFeesInclusive
	}
	pc, err := e.oneTimeProductCurrency(p.ProductCurrency, c)
	if err != nil {
		return subscription.Payment{}, err
	}
	if pc == c.Code {
		return e.charges.Charge(ctx, in)
	}
	// Adaptive currency: Amount is the price in pc, converted into
	// Currency by the code that converts subscription charges (fxcharge.go).
	in.ProductAmount, in.ProductCurrency = in.Amount, pc
	return e.convertedCharge(ctx, customerID, in)
}

// oneTimeProductCurrency returns the currency a one-time payment's Amount
// is in: the charged currency c when ProductCurrency is empty or names
// it, else (adaptive currency on) the known currency it names. Without
// WithFX another currency is ErrFXOff.
func (e *Engine) oneTimeProductCurrency(productCurrency string, c money.Currency) (string, error) {
	if productCurrency == "" {
		return c.Code, nil
	}
	if err := checkKey(subscription.ErrInvalid, "product_currency", productCurrency); err != nil {
		return "", err
	}
	pc, err := money.Lookup(productCurrency)
	if err != nil {
		return "", err
	}
	if _, host := e.processor.(hostTxProcessor); pc.Code != c.Code && host {
		// TxEngine: its wallet check is on the price as given, not on a
		// converted total, so a converted payment cannot run there.
		return "", fmt.Errorf("%w: a one-time payment priced in %s and charged in %s is converted, not in a host transaction",
			ErrProcessorInHostTx, pc.Code, c.Code)
	}
	if pc.Code != c.Code && e.fx == nil {
		return "", fmt.Errorf("%w: product_currency %s is not the currency charged (%s)", ErrFXOff, pc.Code, c.Code)
	}
	return pc.Code, nil
}

// ErrFXOff is a one-time payment priced in another currency than the one
// charged (OneTimeParams.ProductCurrency) while adaptive currency is off
// (no WithFX). It wraps subscription.ErrInvalid (422 invalid_request).
var ErrFXOff = fmt.Errorf("%w: adaptive currency is off", subscription.ErrInvalid)

// checkOneTime validates the params of a one-time payment (ChargeOneTime,
// BuyCredit) before any store sees them, trimming the payment method as it
// is stored, and returns the currency.
func (e *Engine) checkOneTime(customerID string, p *OneTimeParams) (money.Currency, error) {
	if err := checkCustomerID(customerID); err != nil {
		return money.Currency{}, err
	}
	if p.Amount <= 0 {
		return money.Currency{}, subscription.ErrInvalidPrice
	}
	p.PaymentMethod = strings.TrimSpace(p.PaymentMethod) // checked as it is stored
	if p.PaymentMethod == "" {
		return money.Currency{}, subscription.ErrMissingMethod
	}
	c, err := e.currencies.Check(p.Currency)
	if err != nil {
		return money.Currency{}, err
	}
	if err := customer.ValidateMetadata(p.Metadata); err != nil {
		return money.Currency{}, err
	}
	if err := checkText(subscription.ErrInvalid, "description", p.Description, maxTextLen); err != nil {
		return money.Currency{}, err
	}
	for _, f := range [...][2]string{{"payment_method", p.PaymentMethod}, {"customer_id", customerID}} {
		if err := checkKey(subscription.ErrInvalid, f[0], f[1]); err != nil {
			return money.Currency{}, err
		}
	}
	if err := checkIdempotencyKey(subscription.ErrInvalid, p.IdempotencyKey); err != nil {
		return money.Currency{}, err
	}
	return c, nil
}
