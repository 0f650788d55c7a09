package money_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/cofferhq/coffer/money"
)

func TestLookupExponents(t *testing.T) {
	for code, exp := range map[string]int{
		"USD": 2, "INR": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KRW": 0, "VND": 0,
		"KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "CLF": 4, "UYW": 4,
	} {
		c, err := money.Lookup(code)
		require.NoError(t, err, code)
		require.Equal(t, money.Currency{Code: code, Exponent: exp}, c)
	}
}

func TestLookupCaseInsensitive(t *testing.T) {
	for _, code := range []string{"usd", "Usd", "uSD", "USD"} {
		c, err := money.Lookup(code)
		require.NoError(t, err, code)
		require.Equal(t, "USD", c.Code, "codes come back upper-case")
	}
	c, err := money.Lookup("kwd")
	require.NoError(t, err)
	require.Equal(t, money.Currency{Code: "KWD", Exponent: 3}, c)
}

func TestLookupUnknown(t *testing.T) {
	for _, code := range []string{"", "US", "USDD", "XXX", "XAU", "XTS", "ZZZ", " USD", "USD ", "U$D", "123", "usd\x00"} {
		_, err := money.Lookup(code)
		require.ErrorIs(t, err, money.ErrUnknownCurrency, "%q", code)
	}
}

// Codes are ASCII: strings.ToUpper maps some non-ASCII letters to ASCII
// ("ſ" U+017F to "S", "ı" U+0131 to "I"), which must not smuggle look-alike
// strings in as real currency codes.
func TestLookupRejectsNonASCIILookalikes(t *testing.T) {
	for _, code := range []string{"uſd", "ınr", "ıNR", "UſD"} {
		_, err := money.Lookup(code)
		require.ErrorIs(t, err, money.ErrUnknownCurrency, "%q must not resolve", code)
	}
}

func TestMustLookup(t *testing.T) {
	require.Equal(t, 0, money.MustLookup("JPY").Exponent)
	require.Panics(t, func() { money.MustLookup("NOPE") })
}

func TestCurrenciesSortedUniqueAndResolvable(t *testing.T) {
	all := money.Currencies()
	require.Greater(t, len(all), 150)
	for i, c := range all {
		if i > 0 {
			require.Less(t, all[i-1].Code, c.Code, "sorted and unique")
		}
		require.Len(t, c.Code, 3)
		require.Contains(t, []int{0, 2, 3, 4}, c.Exponent)
		got, err := money.Lookup(c.Code)
		require.NoError(t, err)
		require.Equal(t, c, got)
	}
	// The slice is a copy: changing it does not change the table.
	all[0].Exponent = 9
	require.NotEqual(t, 9, money.Currencies()[0].Exponent)
}

func TestNew(t *testing.T) {
	a, err := money.New(150, "inr")
	require.NoError(t, err)
	require.Equal(t, money.Amount{Minor: 150, Currency: "INR"}, a)
	_, err = money.New(1, "ABC")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
}

func TestParse(t *testing.T) {
	tests := []struct {
		in, code string
		want     int64
		err      error
	}{
		{"12.34", "USD", 1234, nil},
		{"12.3", "USD", 1230, nil},
		{"12", "USD", 1200, nil},
		{"0", "USD", 0, nil},
		{"0.01", "USD", 1, nil},
		{"-0", "USD", 0, nil},
		{"-1.50", "USD", -150, nil},
		{"+1", "USD", 100, nil},
		{"12.340", "USD", 1234, nil}, // trailing zeros: the value is exact
		{"12.3400000", "USD", 1234, nil},
		{"00012.34", "USD", 1234, nil},
		{"12.", "USD", 1200, nil},
		{".5", "USD", 50, nil},
		{"  12.34\t\n", "USD", 1234, nil},
		{"12.34", "usd", 1234, nil},
		{"92233720368547758.07", "USD", math.MaxInt64, nil},
		{"-92233720368547758.08", "USD", math.MinInt64, nil},
		{"100", "JPY", 100, nil},
		{"100.0", "JPY", 100, nil},
		{"9223372036854775807", "JPY", math.MaxInt64, nil},
		{"1.234", "KWD", 1234, nil},
		{"1.2", "KWD", 1200, nil},
		{"0.001", "BHD", 1, nil},
		{"1.2345", "CLF", 12345, nil},
		{"5", "INR", 500, nil},

		{"12.345", "USD", 0, money.ErrPrecision},
		{"0.001", "USD", 0, money.ErrPrecision},
		{"100.5", "JPY", 0, money.ErrPrecision},
		{"1.2345", "KWD", 0, money.ErrPrecision},
		{"1.23456", "CLF", 0, money.ErrPrecision},
		{"12.3400001", "USD", 0, money.ErrPrecision},

		{"92233720368547758.08", "USD", 0, money.ErrOverflow},
		{"-92233720368547758.09", "USD", 0, money.ErrOverflow},
		{"9223372036854775808", "JPY", 0, money.ErrOverflow},
		{"99999999999999999999", "USD", 0, money.ErrOverflow},
		{"-99999999999999999999", "USD", 0, money.ErrOverflow},

		{"", "USD", 0, money.ErrSyntax},
		{" ", "USD", 0, money.ErrSyntax},
		{"\t\n", "USD", 0, money.ErrSyntax},
		{"1e3", "USD", 0, money.ErrSyntax},
		{"1E3", "USD", 0, money.ErrSyntax},
		{"1e-2", "USD", 0, money.ErrSyntax},
		{"NaN", "USD", 0, money.ErrSyntax},
		{"Inf", "USD", 0, money.ErrSyntax},
		{"-Infinity", "USD", 0, money.ErrSyntax},
		{"--1", "USD", 0, money.ErrSyntax},
		{"+-1", "USD", 0, money.ErrSyntax},
		{"-+1", "USD", 0, money.ErrSyntax},
		{"-", "USD", 0, money.ErrSyntax},
		{"+", "USD", 0, money.ErrSyntax},
		{".", "USD", 0, money.ErrSyntax},
		{"-.", "USD", 0, money.ErrSyntax},
		{"1,00", "USD", 0, money.ErrSyntax},
		{"1_000", "USD", 0, money.ErrSyntax},
		{"1 000", "USD", 0, money.ErrSyntax},
		{"1.2.3", "USD", 0, money.ErrSyntax},
		{"12..3", "USD", 0, money.ErrSyntax},
		{"$12", "USD", 0, money.ErrSyntax},
		{"12 USD", "USD", 0, money.ErrSyntax},
		{"0x10", "USD", 0, money.ErrSyntax},
		{"١٢", "USD", 0, money.ErrSyntax}, // Arabic-Indic digits
		{"１２", "USD", 0, money.ErrSyntax}, // full-width digits
		{"1\x002", "USD", 0, money.ErrSyntax},

		{"12.34", "ABC", 0, money.ErrUnknownCurrency},
		{"12.34", "", 0, money.ErrUnknownCurrency},
	}
	for _, tt := range tests {
		a, err := money.Parse(tt.in, tt.code)
		if tt.err != nil {
			require.ErrorIs(t, err, tt.err, "Parse(%q, %q)", tt.in, tt.code)
			require.Equal(t, money.Amount{}, a, "Parse(%q, %q) returns the zero Amount on error", tt.in, tt.code)
			continue
		}
		require.NoError(t, err, "Parse(%q, %q)", tt.in, tt.code)
		require.Equal(t, tt.want, a.Minor, "Parse(%q, %q)", tt.in, tt.code)
		require.Equal(t, strings.ToUpper(tt.code), a.Currency)
	}
}

// Numbers too large for int64 minor units are overflows whatever their
// length; the length bound that protects decimal must not turn them into
// syntax errors.
func TestParseHugeNumbersOverflow(t *testing.T) {
	for _, in := range []string{
		strings.Repeat("9", 41),
		"-" + strings.Repeat("9", 60),
		"1" + strings.Repeat("0", 100),
		strings.Repeat("9", 30) + ".99",
	} {
		_, err := money.Parse(in, "USD")
		require.ErrorIs(t, err, money.ErrOverflow, "Parse(%q)", in)
	}
}

func TestParseBoundsInputLength(t *testing.T) {
	// A hostile input is rejected without work proportional to its size
	// beyond a scan, and never accepted.
	_, err := money.Parse("1."+strings.Repeat("0", 1<<20)+"1", "USD")
	require.Error(t, err)
}

func TestParseErrorsAreDistinct(t *testing.T) {
	_, err := money.Parse("12.345", "USD")
	require.ErrorIs(t, err, money.ErrPrecision)
	require.NotErrorIs(t, err, money.ErrSyntax)
	require.NotErrorIs(t, err, money.ErrOverflow)
	require.Contains(t, err.Error(), "12.345")
}

func TestParseMinor(t *testing.T) {
	n, err := money.ParseMinor("1.234", money.MustLookup("KWD"))
	require.NoError(t, err)
	require.Equal(t, int64(1234), n)
	_, err = money.ParseMinor("1.2345", money.MustLookup("KWD"))
	require.ErrorIs(t, err, money.ErrPrecision)
}

func TestFormat(t *testing.T) {
	tests := []struct {
		minor int64
		code  string
		want  string
	}{
		{1234, "USD", "12.34"},
		{5, "USD", "0.05"},
		{-5, "USD", "-0.05"},
		{0, "USD", "0.00"},
		{100, "INR", "1.00"},
		{-150, "USD", "-1.50"},
		{5, "JPY", "5"},
		{0, "JPY", "0"},
		{1234, "KWD", "1.234"},
		{1, "BHD", "0.001"},
		{12345, "CLF", "1.2345"},
		{math.MaxInt64, "USD", "92233720368547758.07"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
		{math.MinInt64, "JPY", "-9223372036854775808"},
		{1234, "usd", "12.34"},
		{42, "???", "42"}, // unknown currency: plain minor units, no panic
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, money.Format(tt.minor, tt.code), "Format(%d, %q)", tt.minor, tt.code)
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	values := []int64{0, 1, -1, 9, 10, 99, 100, 101, 1234, -1234, 1e9 + 7, math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1}
	for _, c := range money.Currencies() {
		for _, v := range values {
			s := money.Format(v, c.Code)
			a, err := money.Parse(s, c.Code)
			require.NoError(t, err, "%s %d -> %q", c.Code, v, s)
			require.Equal(t, v, a.Minor, "%s %d -> %q", c.Code, v, s)
		}
	}
}

func TestAmountStringAndDecimal(t *testing.T) {
	a := money.Amount{Minor: 1234, Currency: "USD"}
	require.Equal(t, "12.34 USD", a.String())
	require.Equal(t, "12.34", a.Decimal().String())
	require.Equal(t, "-0.001 KWD", money.Amount{Minor: -1, Currency: "KWD"}.String())
	require.Equal(t, "7 JPY", money.Amount{Minor: 7, Currency: "JPY"}.String())
	// Unknown currency: Decimal falls back to minor units rather than panic.
	require.Equal(t, "7", money.Amount{Minor: 7, Currency: "???"}.Decimal().String())
}

func TestAddMinor(t *testing.T) {
	tests := []struct {
		x, y, want int64
		overflow   bool
	}{
		{1, 2, 3, false},
		{-1, -2, -3, false},
		{0, 0, 0, false},
		{math.MaxInt64, 0, math.MaxInt64, false},
		{math.MinInt64, 0, math.MinInt64, false},
		{math.MaxInt64 - 1, 1, math.MaxInt64, false},
		{math.MinInt64 + 1, -1, math.MinInt64, false},
		{math.MaxInt64, math.MinInt64, -1, false},
		{math.MaxInt64, 1, 0, true},
		{1, math.MaxInt64, 0, true},
		{math.MaxInt64, math.MaxInt64, 0, true},
		{math.MinInt64, -1, 0, true},
		{-1, math.MinInt64, 0, true},
		{math.MinInt64, math.MinInt64, 0, true},
	}
	for _, tt := range tests {
		got, err := money.AddMinor(tt.x, tt.y)
		if tt.overflow {
			require.ErrorIs(t, err, money.ErrOverflow, "%d + %d", tt.x, tt.y)
			continue
		}
		require.NoError(t, err, "%d + %d", tt.x, tt.y)
		require.Equal(t, tt.want, got)
	}
}

func TestSubMinor(t *testing.T) {
	tests := []struct {
		x, y, want int64
		overflow   bool
	}{
		{3, 2, 1, false},
		{2, 3, -1, false},
		{0, 0, 0, false},
		{math.MaxInt64, 0, math.MaxInt64, false},
		{math.MinInt64, 0, math.MinInt64, false},
		{-1, math.MaxInt64, math.MinInt64, false},
		{0, math.MaxInt64, -math.MaxInt64, false},
		{-1, math.MinInt64, math.MaxInt64, false},
		{math.MinInt64, math.MinInt64, 0, false},
		{math.MaxInt64, -1, 0, true},
		{math.MinInt64, 1, 0, true},
		{0, math.MinInt64, 0, true},
		{math.MaxInt64, math.MinInt64, 0, true},
		{math.MinInt64, math.MaxInt64, 0, true},
		{-2, math.MaxInt64, 0, true},
	}
	for _, tt := range tests {
		got, err := money.SubMinor(tt.x, tt.y)
		if tt.overflow {
			require.ErrorIs(t, err, money.ErrOverflow, "%d - %d", tt.x, tt.y)
			continue
		}
		require.NoError(t, err, "%d - %d", tt.x, tt.y)
		require.Equal(t, tt.want, got)
	}
}

func TestMulMinor(t *testing.T) {
	tests := []struct {
		x, y, want int64
		overflow   bool
	}{
		{3, 4, 12, false},
		{-3, 4, -12, false},
		{-3, -4, 12, false},
		{0, math.MaxInt64, 0, false},
		{math.MinInt64, 0, 0, false},
		{math.MaxInt64, 1, math.MaxInt64, false},
		{math.MaxInt64, -1, -math.MaxInt64, false},
		{math.MinInt64, 1, math.MinInt64, false},
		{-1, math.MaxInt64, -math.MaxInt64, false},
		{math.MinInt64 / 2, 2, math.MinInt64, false},
		{1 << 31, 1 << 31, 1 << 62, false},
		{math.MinInt64, -1, 0, true},
		{-1, math.MinInt64, 0, true},
		{math.MaxInt64, 2, 0, true},
		{2, math.MaxInt64, 0, true},
		{math.MinInt64, 2, 0, true},
		{math.MinInt64, math.MinInt64, 0, true},
		{math.MaxInt64, math.MaxInt64, 0, true},
		{1 << 32, 1 << 31, 0, true},
		{3037000500, 3037000500, 0, true}, // just above sqrt(MaxInt64)
		{-3037000500, 3037000500, 0, true},
	}
	for _, tt := range tests {
		got, err := money.MulMinor(tt.x, tt.y)
		if tt.overflow {
			require.ErrorIs(t, err, money.ErrOverflow, "%d * %d", tt.x, tt.y)
			continue
		}
		require.NoError(t, err, "%d * %d", tt.x, tt.y)
		require.Equal(t, tt.want, got)
	}
}

func TestAmountArithmetic(t *testing.T) {
	usd := func(n int64) money.Amount { return money.Amount{Minor: n, Currency: "USD"} }

	s, err := usd(150).Add(usd(250))
	require.NoError(t, err)
	require.Equal(t, usd(400), s)

	d, err := usd(150).Sub(usd(250))
	require.NoError(t, err)
	require.Equal(t, usd(-100), d)

	p, err := usd(150).Mul(3)
	require.NoError(t, err)
	require.Equal(t, usd(450), p)

	_, err = usd(math.MaxInt64).Add(usd(1))
	require.ErrorIs(t, err, money.ErrOverflow)
	_, err = usd(math.MinInt64).Sub(usd(1))
	require.ErrorIs(t, err, money.ErrOverflow)
	_, err = usd(math.MaxInt64).Mul(2)
	require.ErrorIs(t, err, money.ErrOverflow)
	_, err = usd(math.MinInt64).Mul(-1)
	require.ErrorIs(t, err, money.ErrOverflow)

	inr := money.Amount{Minor: 1, Currency: "INR"}
	_, err = usd(1).Add(inr)
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	require.NotErrorIs(t, err, money.ErrOverflow)
	_, err = usd(1).Sub(inr)
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
	// A mismatch is reported even when the sum would also overflow.
	_, err = usd(math.MaxInt64).Add(money.Amount{Minor: 1, Currency: "JPY"})
	require.ErrorIs(t, err, money.ErrCurrencyMismatch)
}

func TestSet(t *testing.T) {
	s, err := money.NewSet("usd", "INR", "USD", "jpy")
	require.NoError(t, err)
	require.Equal(t, []string{"INR", "JPY", "USD"}, s.Codes(), "sorted, de-duplicated, upper-case")
	require.True(t, s.Has("USD"))
	require.True(t, s.Has("JPY"))
	require.False(t, s.Has("EUR"))

	c, err := s.Check("usd")
	require.NoError(t, err)
	require.Equal(t, money.Currency{Code: "USD", Exponent: 2}, c)

	_, err = s.Check("EUR")
	require.ErrorIs(t, err, money.ErrCurrencyDisabled)
	require.NotErrorIs(t, err, money.ErrUnknownCurrency)
	require.Contains(t, err.Error(), "EUR")

	_, err = s.Check("ABC")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	require.NotErrorIs(t, err, money.ErrCurrencyDisabled)

	// Codes returns a copy.
	codes := s.Codes()
	codes[0] = "XXX"
	require.Equal(t, []string{"INR", "JPY", "USD"}, s.Codes())
}

func TestNewSetUnknownCode(t *testing.T) {
	s, err := money.NewSet("USD", "NOPE")
	require.ErrorIs(t, err, money.ErrUnknownCurrency)
	require.Empty(t, s.Codes())
	require.False(t, s.Has("USD"), "a failed NewSet enables nothing")
}

func TestZeroAndEmptySetEnableNothing(t *testing.T) {
	var zero money.Set
	require.Empty(t, zero.Codes())
	require.False(t, zero.Has("USD"))
	_, err := zero.Check("USD")
	require.ErrorIs(t, err, money.ErrCurrencyDisabled)

	empty, err := money.NewSet()
	require.NoError(t, err)
	_, err = empty.Check("USD")
	require.ErrorIs(t, err, money.ErrCurrencyDisabled)
}

func TestDefaultCurrencies(t *testing.T) {
	require.ElementsMatch(t, []string{"USD", "INR"}, money.DefaultCurrencies)
	s, err := money.NewSet(money.DefaultCurrencies...)
	require.NoError(t, err)
	require.Equal(t, []string{"INR", "USD"}, s.Codes())
	_, err = s.Check("JPY")
	require.True(t, errors.Is(err, money.ErrCurrencyDisabled))
}

func TestErrorsAreDistinct(t *testing.T) {
	errs := []error{money.ErrUnknownCurrency, money.ErrCurrencyDisabled, money.ErrOverflow,
		money.ErrPrecision, money.ErrSyntax, money.ErrCurrencyMismatch}
	for i, a := range errs {
		for j, b := range errs {
			require.Equal(t, i == j, errors.Is(a, b), "%v vs %v", a, b)
		}
	}
}

// TestLookupBoundsEcho: the unknown-currency and malformed-amount errors
// echoed their input whole (a 1 MiB code made a 1 MiB message).
func TestLookupBoundsEcho(t *testing.T) {
	_, err := money.Lookup(strings.Repeat("X", 1<<20))
	if !errors.Is(err, money.ErrUnknownCurrency) || len(err.Error()) > 200 {
		t.Errorf("Lookup(1 MiB): %d-byte error %.80v", len(err.Error()), err)
	}
	_, err = money.ParseMinor(strings.Repeat("9", 1<<20)+"x", money.MustLookup("USD"))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("ParseMinor(1 MiB): %.80v", err)
	}
}
