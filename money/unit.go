package money

import (
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/cofferhq/coffer/internal/text"
)

// Credit units (issue 15, credit-based billing).
//
// Besides ISO-4217 currencies a wallet may hold a unit: a virtual quantity
// such as api_calls (exponent 0: whole calls) or credits (exponent 2: 12.34
// credits is 1234 minor units). A unit has the same integer arithmetic as
// money: int64 minor units, overflow-checked.
//
// The two code spaces never meet: an ISO-4217 code is three letters,
// matched case-insensitively (Lookup("usd") is USD); a unit code is 1 to 32
// bytes of lower-case ASCII letters, digits and underscores, starting with a
// letter, matched exactly, and never three letters alone (every
// three-letter code, in any case, is reserved for ISO-4217, present or
// future). So "api_calls", "tokens", "gpu_s" and "c1" are unit codes;
// "usd", "USD", "abc" and "API_CALLS" are not.

// Bounds of a unit definition.
const (
	MaxUnitCodeLen  = 32
	MaxUnitExponent = 6
	MaxUnitNameLen  = 64
)

// Errors of units. ErrInvalidUnit is a malformed definition or code;
// ErrUnknownUnit a well-formed unit code that is not defined.
var (
	ErrInvalidUnit = errors.New("money: invalid unit")
	ErrUnknownUnit = errors.New("money: unknown unit")
)

// Unit is a credit unit: a code, the number of decimal places of its
// major unit (its minor unit is what wallets count), a display name and,
// optionally, a price in an ISO-4217 currency. A unit is immutable once
// defined.
type Unit struct {
	Code     string `json:"code"`
	Exponent int    `json:"exponent"`
	Name     string `json:"name,omitempty"`
	// Price, when set, is what the unit costs: Price.Amount minor units of
	// Price.Currency buy Price.Per minor units of the unit.
	Price     *UnitPrice `json:"price,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// UnitPrice is the price of a unit: Amount minor units of Currency (an
// ISO-4217 code) for Per minor units of the unit (Per >= 1). A quantity is
// sold in multiples of Per, so a cost is always exact: quantity/Per ×
// Amount, with no rounding.
type UnitPrice struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Per      int64  `json:"per"`
}

// IsUnitCode reports whether code has the shape of a unit code (it says
// nothing of whether the unit is defined). It allocates nothing: the
// Engine asks it of every wallet code, ISO ones included.
func IsUnitCode(code string) bool { return unitCodeShape(code) == shapeOK }

// codeShape is what unitCodeShape found: CheckUnitCode's test, without
// building an error.
type codeShape int

const (
	shapeOK codeShape = iota
	shapeLength
	shapeChars
	shapeISO
)

func unitCodeShape(code string) codeShape {
	if code == "" || len(code) > MaxUnitCodeLen {
		return shapeLength
	}
	letters := 0
	for i := 0; i < len(code); i++ {
		ch := code[i]
		switch {
		case 'a' <= ch && ch <= 'z':
			letters++
		case i > 0 && ('0' <= ch && ch <= '9' || ch == '_'):
		default:
			return shapeChars
		}
	}
	if len(code) == 3 && letters == 3 {
		return shapeISO
	}
	return shapeOK
}

// CheckUnitCode returns ErrInvalidUnit unless code has the shape of a
// unit code: 1..32 bytes of [a-z0-9_], starting with a letter, and not
// three letters alone (reserved for ISO-4217).
func CheckUnitCode(code string) error {
	switch unitCodeShape(code) {
	case shapeLength:
		return fmt.Errorf("%w: a unit code is 1 to %d bytes: %s", ErrInvalidUnit, MaxUnitCodeLen, text.Quote(code))
	case shapeChars:
		return fmt.Errorf("%w: a unit code is lower-case letters, digits and underscores, starting with a letter: %s",
			ErrInvalidUnit, text.Quote(code))
	case shapeISO:
		return fmt.Errorf("%w: three-letter codes are reserved for ISO-4217 currencies: %s", ErrInvalidUnit, text.Quote(code))
	}
	return nil
}

// Validate checks a unit definition: its code, an exponent in
// 0..MaxUnitExponent, a name of at most MaxUnitNameLen characters without
// control characters, and a price (if any) of a positive amount in an
// ISO-4217 currency for Per >= 1 minor units.
func (u Unit) Validate() error {
	if err := CheckUnitCode(u.Code); err != nil {
		return err
	}
	if u.Exponent < 0 || u.Exponent > MaxUnitExponent {
		return fmt.Errorf("%w: exponent must be 0 to %d", ErrInvalidUnit, MaxUnitExponent)
	}
	if !utf8.ValidString(u.Name) || utf8.RuneCountInString(u.Name) > MaxUnitNameLen {
		return fmt.Errorf("%w: name must be valid UTF-8 of at most %d characters", ErrInvalidUnit, MaxUnitNameLen)
	}
	for _, r := range u.Name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: name must not contain control characters", ErrInvalidUnit)
		}
	}
	if p := u.Price; p != nil {
		c, err := Lookup(p.Currency)
		if err != nil {
			return fmt.Errorf("%w: price currency: %v", ErrInvalidUnit, err)
		}
		if c.Code != p.Currency {
			return fmt.Errorf("%w: price currency must be upper-case: %s", ErrInvalidUnit, text.Quote(p.Currency))
		}
		if p.Amount <= 0 || p.Per <= 0 {
			return fmt.Errorf("%w: a price needs a positive amount and per", ErrInvalidUnit)
		}
	}
	return nil
}

// Normal returns u with its price currency upper-cased and a zero Per
// taken as 1 (what Validate then accepts).
func (u Unit) Normal() Unit {
	if u.Price != nil {
		p := *u.Price
		if c, err := Lookup(p.Currency); err == nil {
			p.Currency = c.Code
		}
		if p.Per == 0 {
			p.Per = 1
		}
		u.Price = &p
	}
	return u
}

// Same reports whether u and v define the same unit (CreatedAt aside).
func (u Unit) Same(v Unit) bool {
	if u.Code != v.Code || u.Exponent != v.Exponent || u.Name != v.Name || (u.Price == nil) != (v.Price == nil) {
		return false
	}
	return u.Price == nil || *u.Price == *v.Price
}

// Currency returns the unit as a Currency value (its code and exponent),
// for ParseMinor.
func (u Unit) Currency() Currency { return Currency{Code: u.Code, Exponent: u.Exponent} }

// Format renders minor units of the unit in major units with exactly its
// number of decimal places: 1234 credits (exponent 2) -> "12.34".
func (u Unit) Format(minor int64) string {
	return decimal.New(minor, -int32(u.Exponent)).StringFixed(int32(u.Exponent))
}

// Cost is the price of quantity minor units of the unit: quantity/Per ×
// Amount in the price's currency. A unit without a price, a quantity that
// is not a positive multiple of Per, or a cost beyond int64 is an error
// (ErrInvalidUnit, ErrOverflow).
func (u Unit) Cost(quantity int64) (Amount, error) {
	p := u.Price
	if p == nil {
		return Amount{}, fmt.Errorf("%w: unit %s has no price", ErrInvalidUnit, u.Code)
	}
	if quantity <= 0 || quantity%p.Per != 0 {
		return Amount{}, fmt.Errorf("%w: %s is sold in multiples of %d minor units", ErrInvalidUnit, u.Code, p.Per)
	}
	m, err := MulMinor(quantity/p.Per, p.Amount)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: m, Currency: p.Currency}, nil
}

// CanonicalCode returns the code a wallet stores for code: an ISO-4217
// code upper-cased, a unit code unchanged. Anything else is
// ErrUnknownCurrency. It does not say whether the currency is enabled or
// the unit defined.
func CanonicalCode(code string) (string, error) {
	if IsUnitCode(code) {
		return code, nil
	}
	c, err := Lookup(code)
	if err != nil {
		return "", err
	}
	return c.Code, nil
}

// unitFormats holds the exponents of the units registered for display:
// code -> int.
var unitFormats sync.Map

// RegisterUnitFormat makes Format render amounts of u's code with u's
// decimal places ("12.34" credits) instead of a bare integer. It concerns
// display only (the dashboard, the portal, messages); every Engine
// registers each unit it knows. A unit is immutable, so a code registered
// twice keeps one exponent in practice; if two definitions of one code
// meet in one process, the last registered renders.
func RegisterUnitFormat(u Unit) {
	if IsUnitCode(u.Code) && u.Exponent >= 0 && u.Exponent <= MaxUnitExponent {
		unitFormats.Store(u.Code, u.Exponent)
	}
}

func unitFormat(code string) (int, bool) {
	v, ok := unitFormats.Load(code)
	if !ok {
		return 0, false
	}
	return v.(int), true
}
