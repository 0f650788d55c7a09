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

// A subscription in USD charged a price given in EUR: converted at the
// static table's EUR/USD rate, a 2.5 % adaptive-currency fee on top.
func ExampleWithFX() {
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
	prod, _ := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Plan", Price: 10_00, Currency: "USD"})
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	if err != nil {
		panic(err)
	}
	p, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(20_00)),
		ProductCurrency: "EUR", AdaptiveCurrencyFeesInclusive: new(false)})
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Status, p.Amount, p.Currency, "fee", p.Fee, "for", p.ProductAmount, p.ProductCurrency, "at", p.FXRate)
	// Output: succeeded 2223 USD fee 54 for 2000 EUR at 1.0843
}
