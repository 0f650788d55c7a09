package coffer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/internal/charge"
	"github.com/cofferhq/coffer/internal/text"
	"github.com/cofferhq/coffer/store"
	"github.com/cofferhq/coffer/subscription"
)

// Adaptive currency.
//
// Without WithFX, a charge's product_currency is the currency charged
// (the wallet and the payment method in that currency), as before.
//
// With WithFX, adaptive currency is on: a subscription is charged in its
// own currency (the one it was created in), and a charge whose
// product_currency differs gives its product_price in that other
// currency. The engine asks the Source for the rate product_currency →
// subscription currency (outside any store transaction), converts the
// price (fx.Convert: half up to the charged currency's minor unit), then
// applies the adaptive-currency fee of WithAdaptiveFee to the converted
// price (fx.Fee: half up): with adaptive_currency_fees_inclusive true the
// fee is part of the price and the customer pays the converted price;
// false adds it on top. The fee applies only to converted charges: a
// charge in the subscription's own currency has no fee, whatever the
// flag. The wallet in the charged currency is applied to the converted
// total (fee included), then the payment method pays the rest, as for
// any charge. The payment records the fee, the price before conversion
// and the rate (subscription.Payment.Fee, ProductAmount, ProductCurrency,
// FXRate, FXSource, FXRateAt).
//
// A pair the source does not know is fx.ErrNoRate (422
// fx_rate_unavailable) and changes nothing. An idempotent charge is
// identified by its price and product currency, not by the converted
// amount: replayed after the rate moved (or after the rate went away) it
// returns the original payment.

// WithFX turns adaptive currency on with the exchange-rate source s (for
// example an fx.Static table). See the package documentation of fx for the
// rounding rule.
func WithFX(s fx.Source) Option {
	return func(e *Engine) error {
		if s == nil {
			return fmt.Errorf("%w: nil FX source", ErrInvalidConfig)
		}
		e.fx = s
		return nil
	}
}

// WithAdaptiveFee sets the adaptive-currency fee in basis points of the
// converted price (250 = 2.5 %; 0, the default, charges no fee; at most
// fx.MaxFeeBP). It applies only to converted charges (see WithFX).
func WithAdaptiveFee(bp int64) Option {
	return func(e *Engine) error {
		if bp < 0 || bp > fx.MaxFeeBP {
			return fmt.Errorf("%w: adaptive-currency fee of %d basis points is outside [0, %d]", ErrInvalidConfig, bp, fx.MaxFeeBP)
		}
		e.fxFeeBP = bp
		return nil
	}
}

// AdaptiveCurrency reports whether adaptive currency is on (WithFX) and
// the fee in basis points.
func (e *Engine) AdaptiveCurrency() (on bool, feeBP int64) { return e.fx != nil, e.fxFeeBP }

// maxFXSourceLen bounds the source name recorded on a payment.
const maxFXSourceLen = 64

// adaptiveCharge charges in (a subscription charge whose price is in
// productCurrency) in the subscription's currency, converting the price
// when the currencies differ.
func (e *Engine) adaptiveCharge(ctx context.Context, in charge.Input, productCurrency string) (subscription.Payment, error) {
	// The reserving transaction reads and locks the subscription again;
	// its currency never changes, so the one read here is the one charged.
	sub, err := e.Subscription(ctx, in.SubscriptionID)
	if err != nil {
		return subscription.Payment{}, err
	}
	in = in.FillDefaults(sub)
	in.Currency = sub.Currency
	if productCurrency == sub.Currency {
		return e.charges.Charge(ctx, in)
	}
	in.ProductAmount, in.ProductCurrency = in.Amount, productCurrency
	if sub.CanCharge() != nil {
		// Refused in the reserving transaction (not active), or a replay
		// there: no rate needed for either (the fingerprint has none).
		return e.charges.Charge(ctx, in)
	}
	return e.convertedCharge(ctx, sub.CustomerID, in)
}

// convertedCharge converts in (in.Amount in in.ProductCurrency, to be
// charged in in.Currency; the caller set ProductAmount = Amount) at the
// source's rate, applies the adaptive-currency fee and charges the total.
// It is the conversion of every converted charge: a subscription's
// (adaptiveCharge) and a one-time payment's (ChargeOneTime). A price the
// source cannot convert now answers a replay of its key with the original
// payment (replayedCharge), else the FX error, and changes nothing.
func (e *Engine) convertedCharge(ctx context.Context, customerID string, in charge.Input) (subscription.Payment, error) {
	productCurrency, currency := in.ProductCurrency, in.Currency
	rate, err := e.fx.Rate(ctx, productCurrency, currency)
	if err == nil {
		err = fx.CheckRate(rate.Value)
	}
	if err == nil && (len(rate.Source) > maxFXSourceLen || text.Check(rate.Source, maxFXSourceLen) != nil) {
		err = fmt.Errorf("%w: the FX source names itself %s (at most %d bytes of text)", ErrInvalidConfig,
			text.Quote(rate.Source), maxFXSourceLen)
	}
	if err != nil {
		if prev, ok, perr := e.replayedCharge(ctx, customerID, in); ok || perr != nil {
			return prev, perr
		}
		if errors.Is(err, fx.ErrNoRate) || errors.Is(err, fx.ErrUnavailable) || errors.Is(err, fx.ErrInvalidRate) ||
			errors.Is(err, ErrInvalidConfig) {
			return subscription.Payment{}, err
		}
		return subscription.Payment{}, fmt.Errorf("%w: %s/%s: %w", fx.ErrUnavailable, productCurrency, currency, err)
	}
	converted, err := fx.Convert(in.Amount, productCurrency, currency, rate.Value)
	if err != nil {
		return subscription.Payment{}, err
	}
	fee, total, err := fx.Fee(converted, e.fxFeeBP, in.FeesInclusive)
	if err != nil {
		return subscription.Payment{}, err
	}
	if total <= 0 {
		return subscription.Payment{}, fmt.Errorf("%w: %d %s converts to 0 %s", subscription.ErrInvalidPrice,
			in.ProductAmount, productCurrency, currency)
	}
	in.Amount, in.Fee = total, fee
	in.FXRate, in.FXSource = rate.Value.String(), rate.Source
	if !rate.At.IsZero() {
		in.FXRateAt = rate.At.UTC().Truncate(time.Microsecond) // the precision every store keeps
	}
	return e.charges.Charge(ctx, in)
}

// replayedCharge answers a converted charge that cannot be priced now
// (no rate) as the charge path answers a reused key: the original payment
// when in is its replay (ok), a conflict when the key was used for another
// request, nothing (ok false, nil) when the key is free or unset.
func (e *Engine) replayedCharge(ctx context.Context, customerID string, in charge.Input) (subscription.Payment, bool, error) {
	if in.IdempotencyKey == "" {
		return subscription.Payment{}, false, nil
	}
	var prev subscription.Payment
	err := e.store.View(ctx, func(tx store.Tx) error {
		var err error
		prev, err = tx.PaymentByKey(customerID, in.IdempotencyKey)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return subscription.Payment{}, false, nil
	case err != nil:
		return subscription.Payment{}, false, err
	case prev.Fingerprint != in.Fingerprint():
		return subscription.Payment{}, false, fmt.Errorf("%w: key %s", subscription.ErrIdempotencyConflict, text.Quote(in.IdempotencyKey))
	}
	return prev, true, nil
}
