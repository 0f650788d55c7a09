package money_test

import (
	"errors"
	"fmt"

	"github.com/cofferhq/coffer/money"
)

func ExampleParse() {
	a, err := money.Parse("12.34", "USD")
	fmt.Println(a.Minor, a.Currency, err)

	yen, _ := money.Parse("100", "jpy")
	fmt.Println(yen.Minor, yen.Currency)

	// Money is never rounded: a third decimal place is an error for USD.
	_, err = money.Parse("12.345", "USD")
	fmt.Println(errors.Is(err, money.ErrPrecision))
	// Output:
	// 1234 USD <nil>
	// 100 JPY
	// true
}

func ExampleFormat() {
	fmt.Println(money.Format(1234, "USD"))
	fmt.Println(money.Format(5, "JPY"))
	fmt.Println(money.Format(1234, "KWD"))
	fmt.Println(money.Amount{Minor: -150, Currency: "INR"})
	// Output:
	// 12.34
	// 5
	// 1.234
	// -1.50 INR
}

func ExampleAmount_Add() {
	price := money.Amount{Minor: 1999, Currency: "USD"}
	tax := money.Amount{Minor: 160, Currency: "USD"}
	total, err := price.Add(tax)
	fmt.Println(total, err)

	_, err = price.Add(money.Amount{Minor: 100, Currency: "INR"})
	fmt.Println(errors.Is(err, money.ErrCurrencyMismatch))
	// Output:
	// 21.59 USD <nil>
	// true
}

func ExampleSet_Check() {
	enabled, _ := money.NewSet(money.DefaultCurrencies...)
	c, err := enabled.Check("inr")
	fmt.Println(c.Code, c.Exponent, err)

	_, err = enabled.Check("EUR")
	fmt.Println(errors.Is(err, money.ErrCurrencyDisabled))
	// Output:
	// INR 2 <nil>
	// true
}
