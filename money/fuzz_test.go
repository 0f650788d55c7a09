package money_test

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/money"
)

// fuzzFallback picks a real currency for inputs whose code is not one, so
// every fuzz input exercises the parser with some exponent.
var fuzzFallback = []string{"USD", "JPY", "KWD", "CLF"}

// FuzzParse checks that Parse never panics, classifies every failure with a
// package sentinel, agrees with exact decimal arithmetic, and that what it
// accepts round-trips through Format.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12.34", "12.345", "12.340", "-1.50", "+1", ".5", "12.", "0", "-0",
		"1e3", "NaN", "", " ", "--1", "1,00", "92233720368547758.07", "92233720368547758.08",
		"-92233720368547758.08", "99999999999999999999999", "  7  ", "0.0001", "١"} {
		for _, code := range []string{"USD", "JPY", "KWD", "CLF", "usd", "XYZ"} {
			f.Add(s, code)
		}
	}
	f.Fuzz(func(t *testing.T, s, code string) {
		if _, err := money.Lookup(code); err != nil {
			if _, perr := money.Parse(s, code); !errors.Is(perr, money.ErrUnknownCurrency) {
				t.Fatalf("Parse(%q, %q) = %v, want ErrUnknownCurrency", s, code, perr)
			}
			code = fuzzFallback[len(code)%len(fuzzFallback)]
		}
		c := money.MustLookup(code)

		a, err := money.Parse(s, code)
		if err != nil {
			if a != (money.Amount{}) {
				t.Fatalf("Parse(%q, %q) returned %+v with error %v", s, code, a, err)
			}
			checkParseError(t, s, c, err)
			return
		}
		if a.Currency != c.Code {
			t.Fatalf("Parse(%q, %q) currency %q, want %q", s, code, a.Currency, c.Code)
		}

		// Agrees with decimal: the accepted string is exactly minor / 10^exp.
		d, derr := decimal.NewFromString(strings.TrimSpace(s))
		if derr != nil {
			t.Fatalf("Parse(%q) accepted what decimal rejects: %v", s, derr)
		}
		if !d.Equal(decimal.New(a.Minor, -int32(c.Exponent))) {
			t.Fatalf("Parse(%q, %s) = %d minor units, decimal says %s", s, c.Code, a.Minor, d)
		}

		// Round trip: Format then Parse gives the same minor units, and
		// Format is canonical (a fixed point of the round trip).
		out := money.Format(a.Minor, c.Code)
		b, err := money.Parse(out, c.Code)
		if err != nil || b != a {
			t.Fatalf("Parse(Format(%d)) = %+v, %v; Format gave %q", a.Minor, b, err, out)
		}
		if again := money.Format(b.Minor, c.Code); again != out {
			t.Fatalf("Format not canonical: %q then %q", out, again)
		}
	})
}

// checkParseError verifies a Parse failure is the right one of ErrSyntax,
// ErrPrecision and ErrOverflow, judged independently with decimal.
func checkParseError(t *testing.T, s string, c money.Currency, err error) {
	t.Helper()
	kinds := 0
	for _, e := range []error{money.ErrSyntax, money.ErrPrecision, money.ErrOverflow} {
		if errors.Is(err, e) {
			kinds++
		}
	}
	if kinds != 1 {
		t.Fatalf("Parse(%q, %s): error %v is not exactly one of the parse sentinels", s, c.Code, err)
	}
	trimmed := strings.TrimSpace(s)
	if !plainDecimal(trimmed) {
		if !errors.Is(err, money.ErrSyntax) {
			t.Fatalf("Parse(%q): not plain decimal notation, want ErrSyntax, got %v", s, err)
		}
		return
	}
	if len(trimmed) > 40 {
		return // the length guard may reject before the value is judged
	}
	d, derr := decimal.NewFromString(trimmed)
	if derr != nil {
		t.Fatalf("decimal rejects plain decimal %q: %v", trimmed, derr)
	}
	scaled := d.Shift(int32(c.Exponent))
	switch {
	case !scaled.Equal(scaled.Truncate(0)):
		if !errors.Is(err, money.ErrPrecision) {
			t.Fatalf("Parse(%q, %s): has sub-minor digits, want ErrPrecision, got %v", s, c.Code, err)
		}
	case scaled.GreaterThan(decimal.NewFromInt(math.MaxInt64)) || scaled.LessThan(decimal.NewFromInt(math.MinInt64)):
		if !errors.Is(err, money.ErrOverflow) {
			t.Fatalf("Parse(%q, %s): out of int64 range, want ErrOverflow, got %v", s, c.Code, err)
		}
	default:
		t.Fatalf("Parse(%q, %s) rejected a representable amount: %v", s, c.Code, err)
	}
}

// plainDecimal reports whether s is [+-]digits[.digits] with at least one
// digit on some side of the point: the only notation money accepts.
func plainDecimal(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	allDigits := func(p string) bool {
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
		}
		return true
	}
	return len(intPart)+len(frac) > 0 && allDigits(intPart) && allDigits(frac)
}

// FuzzAddSub checks overflow-checked arithmetic against math/big: every
// result is exact, and ErrOverflow is returned exactly when the true result
// does not fit in int64.
func FuzzAddSub(f *testing.F) {
	edges := []int64{0, 1, -1, 2, -2, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
		1 << 32, -(1 << 32), 3037000499, 3037000500, -3037000500}
	for _, x := range edges {
		for _, y := range edges {
			f.Add(x, y)
		}
	}
	minBig, maxBig := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	fits := func(z *big.Int) bool { return z.Cmp(minBig) >= 0 && z.Cmp(maxBig) <= 0 }
	check := func(t *testing.T, op string, x, y, got int64, err error, want *big.Int) {
		t.Helper()
		if !fits(want) {
			if !errors.Is(err, money.ErrOverflow) {
				t.Fatalf("%d %s %d = %s overflows, got %d, %v", x, op, y, want, got, err)
			}
			return
		}
		if err != nil || got != want.Int64() {
			t.Fatalf("%d %s %d = %d, %v; want %s", x, op, y, got, err, want)
		}
	}
	f.Fuzz(func(t *testing.T, x, y int64) {
		bx, by := big.NewInt(x), big.NewInt(y)

		s, err := money.AddMinor(x, y)
		check(t, "+", x, y, s, err, new(big.Int).Add(bx, by))
		d, err := money.SubMinor(x, y)
		check(t, "-", x, y, d, err, new(big.Int).Sub(bx, by))
		p, err := money.MulMinor(x, y)
		check(t, "*", x, y, p, err, new(big.Int).Mul(bx, by))

		// The Amount methods agree with the minor-unit functions.
		ax, ay := money.Amount{Minor: x, Currency: "USD"}, money.Amount{Minor: y, Currency: "USD"}
		as, err := ax.Add(ay)
		check(t, "Add", x, y, as.Minor, err, new(big.Int).Add(bx, by))
		ad, err := ax.Sub(ay)
		check(t, "Sub", x, y, ad.Minor, err, new(big.Int).Sub(bx, by))
		am, err := ax.Mul(y)
		check(t, "Mul", x, y, am.Minor, err, new(big.Int).Mul(bx, by))
		if _, err := ax.Add(money.Amount{Minor: y, Currency: "INR"}); !errors.Is(err, money.ErrCurrencyMismatch) {
			t.Fatalf("USD + INR: %v, want ErrCurrencyMismatch", err)
		}
	})
}
