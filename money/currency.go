package money

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cofferhq/coffer/internal/text"
)

// Errors returned by this package. Each is a sentinel that callers test with
// errors.Is; the root package maps them to the 422 (invalid request) class.
var (
	ErrUnknownCurrency  = errors.New("money: unknown currency")
	ErrCurrencyDisabled = errors.New("money: currency not enabled")
	ErrOverflow         = errors.New("money: amount overflows int64 minor units")
	ErrPrecision        = errors.New("money: more decimal places than the currency allows")
	ErrSyntax           = errors.New("money: malformed amount")
	ErrCurrencyMismatch = errors.New("money: currency mismatch")
)

// Currency is an ISO-4217 currency with its minor-unit exponent: USD has 2
// (cents), JPY 0, KWD 3.
type Currency struct {
	Code     string `json:"code"`
	Exponent int    `json:"exponent"`
}

// iso4217 lists active ISO-4217 codes with a non-default exponent; every other
// code in codes2 has exponent 2. Precious metals and testing codes (XAU, XTS,
// ...) have no minor unit and are deliberately absent.
var (
	codes0 = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
	codes3 = "BHD IQD JOD KWD LYD OMR TND"
	codes4 = "CLF UYW"
	codes2 = "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV " +
		"BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK " +
		"DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL " +
		"HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL " +
		"MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO " +
		"NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK " +
		"SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS " +
		"UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG"
)

var table = func() map[string]Currency {
	t := make(map[string]Currency, 200)
	for exp, list := range map[int]string{0: codes0, 2: codes2, 3: codes3, 4: codes4} {
		for _, c := range strings.Fields(list) {
			t[c] = Currency{Code: c, Exponent: exp}
		}
	}
	return t
}()

// Lookup returns the ISO-4217 currency for code. Codes are matched
// case-insensitively and returned upper-case.
func Lookup(code string) (Currency, error) {
	c, ok := table[code]
	if !ok && len(code) == 3 {
		// ASCII only: strings.ToUpper would map "ſ" to "S" and "ı" to "I".
		var up [3]byte
		for i := range up {
			ch := code[i]
			if 'a' <= ch && ch <= 'z' {
				ch -= 'a' - 'A'
			}
			up[i] = ch
		}
		c, ok = table[string(up[:])]
	}
	if !ok {
		return Currency{}, fmt.Errorf("%w: %s", ErrUnknownCurrency, text.Quote(code))
	}
	return c, nil
}

// MustLookup is Lookup for codes known at compile time; it panics on an
// unknown code.
func MustLookup(code string) Currency {
	c, err := Lookup(code)
	if err != nil {
		panic(err)
	}
	return c
}

// Currencies returns every known ISO-4217 currency, sorted by code.
func Currencies() []Currency {
	out := make([]Currency, 0, len(table))
	for _, c := range table {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// DefaultCurrencies are the currencies an engine accepts unless configured
// otherwise (the seed product supports USD and INR).
var DefaultCurrencies = []string{"USD", "INR"}

// Set is an immutable set of enabled currencies. The zero Set enables nothing.
type Set struct {
	byCode map[string]Currency
	codes  []string
}

// NewSet builds a Set from ISO-4217 codes; an unknown code is an error.
func NewSet(codes ...string) (Set, error) {
	s := Set{byCode: make(map[string]Currency, len(codes))}
	for _, code := range codes {
		c, err := Lookup(code)
		if err != nil {
			return Set{}, err
		}
		if _, dup := s.byCode[c.Code]; !dup {
			s.byCode[c.Code] = c
			s.codes = append(s.codes, c.Code)
		}
	}
	sort.Strings(s.codes)
	return s, nil
}

// Codes returns the enabled codes, sorted.
func (s Set) Codes() []string { return append([]string(nil), s.codes...) }

// Has reports whether code (upper-case) is enabled.
func (s Set) Has(code string) bool { _, ok := s.byCode[code]; return ok }

// Check resolves code and reports ErrUnknownCurrency for codes that are not
// ISO-4217 and ErrCurrencyDisabled for real currencies this set does not enable.
func (s Set) Check(code string) (Currency, error) {
	c, err := Lookup(code)
	if err != nil {
		return Currency{}, err
	}
	if !s.Has(c.Code) {
		return Currency{}, fmt.Errorf("%w: %s", ErrCurrencyDisabled, c.Code)
	}
	return c, nil
}
