package money

import (
	"fmt"
	"math"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/internal/text"
)

// Amount is a quantity of money: an integer count of the currency's minor
// unit (cents for USD) and the currency code. Arithmetic is exact and
// overflow-checked; decimal is used only to parse and format.
type Amount struct {
	Minor    int64  `json:"amount"`
	Currency string `json:"currency"`
}

// New returns an Amount after checking the currency code.
func New(minor int64, code string) (Amount, error) {
	c, err := Lookup(code)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: minor, Currency: c.Code}, nil
}

// maxDigits bounds the input accepted by Parse so hostile strings cannot make
// decimal allocate huge numbers.
const maxDigits = 40

// Parse reads a decimal string in major units ("12.34") as an Amount of the
// given currency (1234 USD cents). More fractional digits than the currency
// has is ErrPrecision ("12.345" USD), not rounding: money is never silently
// changed. Exponents, NaN and values beyond int64 minor units are rejected.
func Parse(s, code string) (Amount, error) {
	c, err := Lookup(code)
	if err != nil {
		return Amount{}, err
	}
	minor, err := ParseMinor(s, c)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: minor, Currency: c.Code}, nil
}

// ParseMinor is Parse returning only the minor-unit count.
func ParseMinor(s string, c Currency) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("%w: %s", ErrSyntax, text.Quote(s))
	}
	// Only plain decimal notation: [+-]digits[.digits]
	body := t
	if body[0] == '-' || body[0] == '+' {
		body = body[1:]
	}
	dot := false
	digits := 0
	for i := 0; i < len(body); i++ {
		switch ch := body[i]; {
		case ch >= '0' && ch <= '9':
			digits++
		case ch == '.' && !dot:
			dot = true
		default:
			return 0, fmt.Errorf("%w: %s", ErrSyntax, text.Quote(s))
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("%w: %s", ErrSyntax, text.Quote(s))
	}
	if len(t) > maxDigits {
		// Judge long inputs without decimal: drop leading zeros of the integer
		// part and trailing zeros of the fraction, then classify or parse the
		// short normal form.
		neg := t[0] == '-'
		intPart, frac, _ := strings.Cut(body, ".")
		intPart = strings.TrimLeft(intPart, "0")
		frac = strings.TrimRight(frac, "0")
		if len(frac) > c.Exponent {
			return 0, fmt.Errorf("%w: %s has more than %d decimal places for %s", ErrPrecision, text.Quote(s), c.Exponent, c.Code)
		}
		if len(intPart)+c.Exponent > 19 {
			return 0, fmt.Errorf("%w: %s", ErrOverflow, text.Quote(s))
		}
		if intPart == "" {
			intPart = "0"
		}
		t = intPart
		if frac != "" {
			t += "." + frac
		}
		if neg {
			t = "-" + t
		}
	}
	d, err := decimal.NewFromString(t)
	if err != nil {
		return 0, fmt.Errorf("%w: %s", ErrSyntax, text.Quote(s))
	}
	scaled := d.Shift(int32(c.Exponent))
	if !scaled.Equal(scaled.Truncate(0)) {
		return 0, fmt.Errorf("%w: %s has more than %d decimal places for %s", ErrPrecision, text.Quote(s), c.Exponent, c.Code)
	}
	if scaled.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || scaled.LessThan(decimal.NewFromInt(math.MinInt64)) {
		return 0, fmt.Errorf("%w: %s", ErrOverflow, text.Quote(s))
	}
	return scaled.IntPart(), nil
}

// Decimal returns the amount in major units as a decimal.
func (a Amount) Decimal() decimal.Decimal {
	c, err := Lookup(a.Currency)
	if err != nil {
		return decimal.NewFromInt(a.Minor)
	}
	return decimal.New(a.Minor, -int32(c.Exponent))
}

// Format renders minor units of a currency in major units with exactly the
// currency's number of decimal places: 1234 USD -> "12.34", 5 JPY -> "5".
func Format(minor int64, code string) string {
	c, err := Lookup(code)
	if err != nil {
		if exp, ok := unitFormat(code); ok { // a registered unit (unit.go)
			return decimal.New(minor, -int32(exp)).StringFixed(int32(exp))
		}
		return fmt.Sprintf("%d", minor)
	}
	return decimal.New(minor, -int32(c.Exponent)).StringFixed(int32(c.Exponent))
}

// String renders "12.34 USD".
func (a Amount) String() string { return Format(a.Minor, a.Currency) + " " + a.Currency }

// Add returns a+b; both must share a currency.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("%w: %s + %s", ErrCurrencyMismatch, a.Currency, b.Currency)
	}
	s, err := AddMinor(a.Minor, b.Minor)
	return Amount{Minor: s, Currency: a.Currency}, err
}

// Sub returns a-b; both must share a currency.
func (a Amount) Sub(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, fmt.Errorf("%w: %s - %s", ErrCurrencyMismatch, a.Currency, b.Currency)
	}
	s, err := SubMinor(a.Minor, b.Minor)
	return Amount{Minor: s, Currency: a.Currency}, err
}

// Mul returns a*n (a unit price times a quantity).
func (a Amount) Mul(n int64) (Amount, error) {
	p, err := MulMinor(a.Minor, n)
	return Amount{Minor: p, Currency: a.Currency}, err
}

// AddMinor returns x+y or ErrOverflow.
func AddMinor(x, y int64) (int64, error) {
	s := x + y
	if (s > x) != (y > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// SubMinor returns x-y or ErrOverflow.
func SubMinor(x, y int64) (int64, error) {
	s := x - y
	if (s < x) != (y > 0) {
		return 0, ErrOverflow
	}
	return s, nil
}

// MulMinor returns x*y or ErrOverflow.
func MulMinor(x, y int64) (int64, error) {
	if x == 0 || y == 0 {
		return 0, nil
	}
	p := x * y
	if p/y != x || (x == -1 && y == math.MinInt64) || (y == -1 && x == math.MinInt64) {
		return 0, ErrOverflow
	}
	return p, nil
}
