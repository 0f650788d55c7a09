package money

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestUnitCodesNeverISO(t *testing.T) {
	for _, ok := range []string{"api_calls", "tokens", "credits", "c1", "gpu_s", "a", "ab", "abcd", "a_b", "ab1", strings.Repeat("x", 32)} {
		if err := CheckUnitCode(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
		if _, err := Lookup(ok); err == nil {
			t.Errorf("%q is a unit code and an ISO code", ok)
		}
		if c, err := CanonicalCode(ok); err != nil || c != ok {
			t.Errorf("CanonicalCode(%q) = %q, %v", ok, c, err)
		}
	}
	for _, bad := range []string{"", "usd", "USD", "Usd", "abc", "xyz", "API_CALLS", "Api_calls", "_calls", "1calls", "api-calls",
		"api calls", "apı_calls", strings.Repeat("x", 33), "calls\x00"} {
		if err := CheckUnitCode(bad); !errors.Is(err, ErrInvalidUnit) {
			t.Errorf("%q: %v, want ErrInvalidUnit", bad, err)
		}
	}
	// Every three-letter code, ISO or not, in any case, stays out of the
	// unit space: "usd" is USD (Lookup is case-insensitive), "abc" is
	// reserved for a future ISO code.
	for _, c := range Currencies() {
		if IsUnitCode(strings.ToLower(c.Code)) {
			t.Fatalf("%s lower-cased is a unit code", c.Code)
		}
	}
	if c, err := CanonicalCode("usd"); err != nil || c != "USD" {
		t.Fatalf("CanonicalCode(usd) = %q, %v", c, err)
	}
	if _, err := CanonicalCode("API_CALLS"); !errors.Is(err, ErrUnknownCurrency) {
		t.Fatalf("API_CALLS: %v", err)
	}
}

func TestUnitValidate(t *testing.T) {
	good := []Unit{
		{Code: "api_calls"},
		{Code: "credits", Exponent: 2, Name: "Credits", Price: &UnitPrice{Amount: 1, Currency: "USD", Per: 100}},
		{Code: "micro", Exponent: MaxUnitExponent},
	}
	for _, u := range good {
		if err := u.Validate(); err != nil {
			t.Errorf("%+v: %v", u, err)
		}
	}
	bad := []Unit{
		{Code: "usd"},
		{Code: "credits", Exponent: -1},
		{Code: "credits", Exponent: MaxUnitExponent + 1},
		{Code: "credits", Name: strings.Repeat("n", MaxUnitNameLen+1)},
		{Code: "credits", Name: "a\nb"},
		{Code: "credits", Name: "\xff"},
		{Code: "credits", Price: &UnitPrice{Amount: 0, Currency: "USD", Per: 1}},
		{Code: "credits", Price: &UnitPrice{Amount: 5, Currency: "USD", Per: 0}},
		{Code: "credits", Price: &UnitPrice{Amount: 5, Currency: "usd", Per: 1}},
		{Code: "credits", Price: &UnitPrice{Amount: 5, Currency: "api_calls", Per: 1}},
	}
	for _, u := range bad {
		if err := u.Validate(); !errors.Is(err, ErrInvalidUnit) {
			t.Errorf("%+v: %v, want ErrInvalidUnit", u, err)
		}
	}
	n := Unit{Code: "credits", Price: &UnitPrice{Amount: 5, Currency: "usd"}}.Normal()
	if n.Validate() != nil || n.Price.Currency != "USD" || n.Price.Per != 1 {
		t.Fatalf("Normal: %+v", n.Price)
	}
}

func TestUnitCostAndFormat(t *testing.T) {
	// 1000 api_calls for 1.50 USD.
	u := Unit{Code: "api_calls", Price: &UnitPrice{Amount: 150, Currency: "USD", Per: 1000}}
	a, err := u.Cost(5000)
	if err != nil || a != (Amount{Minor: 750, Currency: "USD"}) {
		t.Fatalf("Cost(5000) = %v, %v", a, err)
	}
	for _, q := range []int64{0, -1000, 999, 1500} {
		if _, err := u.Cost(q); !errors.Is(err, ErrInvalidUnit) {
			t.Errorf("Cost(%d): %v", q, err)
		}
	}
	big := Unit{Code: "tokens", Price: &UnitPrice{Amount: math.MaxInt64 / 2, Currency: "USD", Per: 1}}
	if _, err := big.Cost(3); !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflow: %v", err)
	}
	if _, err := (Unit{Code: "tokens"}).Cost(1); !errors.Is(err, ErrInvalidUnit) {
		t.Fatalf("no price: %v", err)
	}
	c := Unit{Code: "credits", Exponent: 2}
	if got := c.Format(1234); got != "12.34" {
		t.Fatalf("Format = %q", got)
	}
	if got := (Unit{Code: "api_calls"}).Format(-7); got != "-7" {
		t.Fatalf("Format = %q", got)
	}
	m, err := ParseMinor("12.34", c.Currency())
	if err != nil || m != 1234 {
		t.Fatalf("ParseMinor = %d, %v", m, err)
	}
	if _, err := ParseMinor("1.5", Unit{Code: "api_calls"}.Currency()); !errors.Is(err, ErrPrecision) {
		t.Fatalf("ParseMinor precision: %v", err)
	}
}

func TestRegisterUnitFormat(t *testing.T) {
	if got := Format(1234, "fmt_units"); got != "1234" {
		t.Fatalf("unregistered: %q", got)
	}
	RegisterUnitFormat(Unit{Code: "fmt_units", Exponent: 2})
	if got := Format(1234, "fmt_units"); got != "12.34" {
		t.Fatalf("registered: %q", got)
	}
	RegisterUnitFormat(Unit{Code: "USD", Exponent: 5}) // not a unit code: ignored
	if got := Format(1234, "USD"); got != "12.34" {
		t.Fatalf("USD: %q", got)
	}
}
