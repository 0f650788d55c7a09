package httpapi

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/money"
)

// WithUSDRates sets the exchange rates GET /customers/{id}/wallets uses for
// total_balance_usd: rates[code] is the price of one unit of that currency
// in US dollars ("INR": 0.012 means 1 rupee is 1.2 cents). A wallet in a
// currency without a rate is left out of the total and named in
// unconverted_currencies. Each converted wallet is rounded half to even to
// the cent before it is added; the rates are the host's, refreshed by
// replacing the Handler (coffer keeps no rate history). Rates must be
// positive; USD is always 1.
func WithUSDRates(rates map[string]decimal.Decimal) Option {
	return func(h *Handler) error {
		out := make(map[string]usdRate, len(rates))
		for code, r := range rates {
			cur, err := money.Lookup(strings.ToUpper(code))
			if err != nil {
				return fmt.Errorf("%w: USD rate for %q: %w", coffer.ErrInvalidConfig, code, err)
			}
			if !r.IsPositive() {
				return fmt.Errorf("%w: USD rate for %s must be positive", coffer.ErrInvalidConfig, cur.Code)
			}
			if cur.Code == "USD" && !r.Equal(decimal.NewFromInt(1)) {
				return fmt.Errorf("%w: the USD rate of USD is 1", coffer.ErrInvalidConfig)
			}
			out[cur.Code] = usdRate{rate: r, exp: int32(cur.Exponent)}
		}
		h.usdRates = out
		return nil
	}
}

type usdRate struct {
	rate decimal.Decimal
	exp  int32
}

// toUSDCents converts minor units of code to US cents, or reports that
// there is no rate (or the result does not fit).
func (h *Handler) toUSDCents(minor int64, code string) (int64, bool) {
	r, ok := h.usdRates[code]
	if !ok {
		return 0, false
	}
	cents := decimal.New(minor, -r.exp).Mul(r.rate).Shift(2).RoundBank(0)
	if !cents.BigInt().IsInt64() {
		return 0, false
	}
	return cents.IntPart(), true
}
