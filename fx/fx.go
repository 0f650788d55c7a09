// Package fx converts money between currencies for adaptive-currency
// charges: a Source of exchange rates (Static, a fixed table, is the one
// this package ships), Convert (an amount in minor units of one currency
// to minor units of another) and Fee (the adaptive-currency fee in basis
// points).
//
// Rates are shopspring/decimal values; amounts are always int64 minor
// units. Both Convert and Fee round half up (half away from zero, the
// amounts being positive) to the target currency's minor unit, its
// exponent as money.Lookup gives it (0 for JPY, 2 for USD, 3 for KWD),
// and a result beyond int64 is money.ErrOverflow, never a wrapped value.
package fx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/money"
)

// Errors of the package.
var (
	// ErrNoRate: the source has no rate for the currency pair. The charge
	// that needed it is refused and changes nothing (HTTP 422,
	// fx_rate_unavailable).
	ErrNoRate = errors.New("fx: no exchange rate for the currency pair")
	// ErrUnavailable: the source could not be asked now (a remote source
	// that is down); the same request may succeed later (HTTP 503,
	// fx_source_unavailable). A Source wraps it.
	ErrUnavailable = errors.New("fx: exchange rate source unavailable")
	// ErrInvalidRate: a rate that is not a positive decimal within
	// [MinRate, MaxRate], or a fee outside [0, MaxFeeBP].
	ErrInvalidRate = errors.New("fx: invalid exchange rate")
)

// Bounds of a rate: a rate outside them is a typo, not an exchange rate.
var (
	MinRate = decimal.New(1, -12) // 0.000000000001
	MaxRate = decimal.New(1, 12)  // 1000000000000
)

// MaxRateDigits bounds the significant digits of a rate (its string form
// is stored on every converted payment).
const MaxRateDigits = 24

// MaxFeeBP is the largest fee in basis points: 10000 bp = 100 %.
const MaxFeeBP = 10_000

// Rate is one exchange rate: Value units of To for one unit of From (major
// units: EUR/USD 1.08 means 1 EUR = 1.08 USD), as the Source reported it.
type Rate struct {
	From  string          `json:"from"`
	To    string          `json:"to"`
	Value decimal.Decimal `json:"value"`
	// Source names where the rate came from ("static" for a Static
	// table); it is recorded on the payment with the rate.
	Source string `json:"source"`
	// At is when the source fixed the rate (zero when it does not say).
	At time.Time `json:"at,omitzero"`
}

// Source gives exchange rates. It must be safe for concurrent use. The
// engine asks it outside any store transaction, before it reserves a
// converted charge. A pair it does not know is ErrNoRate; a source that
// cannot answer now wraps ErrUnavailable.
type Source interface {
	Rate(ctx context.Context, from, to string) (Rate, error)
}

// CheckRate validates a rate value: positive, within [MinRate, MaxRate],
// at most MaxRateDigits significant digits.
func CheckRate(v decimal.Decimal) error {
	if v.LessThan(MinRate) || v.GreaterThan(MaxRate) {
		return fmt.Errorf("%w: %s is outside [%s, %s]", ErrInvalidRate, v, MinRate, MaxRate)
	}
	if n := len(v.Coefficient().String()); n > MaxRateDigits {
		return fmt.Errorf("%w: %s has %d significant digits (at most %d)", ErrInvalidRate, v, n, MaxRateDigits)
	}
	return nil
}

var maxMinor = decimal.NewFromInt(math.MaxInt64)

// toMinor rounds d half up (away from zero) to a whole number of minor
// units; beyond int64 it is money.ErrOverflow.
func toMinor(d decimal.Decimal) (int64, error) {
	r := d.Round(0)
	if r.Abs().GreaterThan(maxMinor) {
		return 0, fmt.Errorf("%w: %s minor units", money.ErrOverflow, r)
	}
	return r.IntPart(), nil
}

// Convert converts amount minor units of from into minor units of to at
// rate (units of to per unit of from): amount × rate × 10^(exp(to) −
// exp(from)), rounded half up to a whole minor unit of to. Both currencies
// are looked up with money.Lookup; a result beyond int64 is
// money.ErrOverflow. Converting a currency into itself returns amount.
//
// For example 1000 JPY (exponent 0) at JPY/USD 0.0067 is 6.70 USD (670
// cents); 12.34 USD at USD/KWD 0.3075 is 3.794550 KWD before rounding,
// 3.795 KWD (3795 fils) after.
func Convert(amount int64, from, to string, rate decimal.Decimal) (int64, error) {
	f, err := money.Lookup(from)
	if err != nil {
		return 0, err
	}
	t, err := money.Lookup(to)
	if err != nil {
		return 0, err
	}
	if f.Code == t.Code {
		return amount, nil
	}
	if err := CheckRate(rate); err != nil {
		return 0, err
	}
	d := decimal.NewFromInt(amount).Mul(rate).Shift(int32(t.Exponent - f.Exponent))
	return toMinor(d)
}

// Fee splits an adaptive-currency fee of bp basis points off amount (minor
// units, the converted product price): fee = amount × bp / 10000, rounded
// half up to a whole minor unit. With inclusive the fee is inside amount
// and the customer pays amount (total = amount); otherwise it is added on
// top (total = amount + fee, money.ErrOverflow past int64). bp outside [0,
// MaxFeeBP] or a negative amount is ErrInvalidRate.
//
// For example 10.00 at 250 bp: inclusive, fee 0.25 and total 10.00; on
// top, fee 0.25 and total 10.25. 0.01 at 250 bp has a fee of 0 (0.00025
// rounds down); 0.02 at 2500 bp has a fee of 0.01 (0.005 rounds up).
func Fee(amount, bp int64, inclusive bool) (fee, total int64, err error) {
	if bp < 0 || bp > MaxFeeBP {
		return 0, 0, fmt.Errorf("%w: fee of %d basis points is outside [0, %d]", ErrInvalidRate, bp, MaxFeeBP)
	}
	if amount < 0 {
		return 0, 0, fmt.Errorf("%w: negative amount %d", ErrInvalidRate, amount)
	}
	// amount × bp fits no int64 near the top of the range; the fee itself
	// (at most amount) always does.
	fee, err = toMinor(decimal.NewFromInt(amount).Mul(decimal.NewFromInt(bp)).Shift(-4))
	if err != nil {
		return 0, 0, err
	}
	if inclusive {
		return fee, amount, nil
	}
	total, err = money.AddMinor(amount, fee)
	if err != nil {
		return 0, 0, err
	}
	return fee, total, nil
}
