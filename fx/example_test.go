package fx_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer/fx"
)

// A price of 20.00 EUR charged to a USD customer at EUR/USD 1.0843 with a
// 2.5 % adaptive-currency fee added on top.
func ExampleConvert() {
	rates, err := fx.ParseStatic(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), "EUR/USD=1.0843")
	if err != nil {
		panic(err)
	}
	r, err := rates.Rate(context.Background(), "EUR", "USD")
	if err != nil {
		panic(err)
	}
	usd, err := fx.Convert(20_00, "EUR", "USD", r.Value) // 2168.6 cents, rounded half up
	if err != nil {
		panic(err)
	}
	fee, total, err := fx.Fee(usd, 250, false) // 54.225 cents
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Source, r.Value, usd, fee, total)
	// Output: static 1.0843 2169 54 2223
}
