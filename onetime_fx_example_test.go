package coffer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/fx"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
)

// A one-time payment priced in EUR and charged in USD: converted at the
// static table's EUR/USD rate, the 2.5 % adaptive-currency fee inside the
// price.
func ExampleEngine_ChargeOneTime_adaptiveCurrency() {
	ctx := context.Background()
	rates, err := fx.ParseStatic(time.Time{}, "EUR/USD=1.0843")
	if err != nil {
		panic(err)
	}
	eng, err := coffer.New(memory.New(), coffer.WithProcessor(processor.NewTest(nil)),
		coffer.WithFX(rates), coffer.WithAdaptiveFee(250))
	if err != nil {
		panic(err)
	}
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	p, err := eng.ChargeOneTime(ctx, c.ID, coffer.OneTimeParams{Amount: 20_00, ProductCurrency: "EUR", Currency: "USD",
		PaymentMethod: processor.CardOK, AdaptiveCurrencyFeesInclusive: new(true), IdempotencyKey: "order-1001"})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Kind, p.Status, p.Amount, p.Currency, "fee", p.Fee, "for", p.ProductAmount, p.ProductCurrency, "at", p.FXRate)
	// Output: one_time succeeded 2169 USD fee 54 for 2000 EUR at 1.0843
}
