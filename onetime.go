package coffer

import (
	"context"
	"strings"

	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/subscription"
)

// OneTimeParams is a one-time payment: no subscription, no mandate.
type OneTimeParams struct {
	Amount        int64             `json:"amount"` // minor units, > 0
	Currency      string            `json:"currency"`
	PaymentMethod string            `json:"payment_method"`
	Description   string            `json:"description,omitempty"`
	Metadata      map[string]string `json:"metadata,omitempty"`
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
	return e.charges.Charge(ctx, charge.Input{
		CustomerID: customerID, PaymentMethod: p.PaymentMethod, Amount: p.Amount,
		Currency: c.Code, Description: p.Description, Metadata: p.Metadata, IdempotencyKey: p.IdempotencyKey,
	})
}

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
