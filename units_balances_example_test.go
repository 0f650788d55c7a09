package coffer_test

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/store/memory"
)

// The balances of a page of customers in one store read.
func ExampleEngine_CustomerBalances() {
	ctx := context.Background()
	eng, _ := coffer.New(memory.New(), coffer.WithoutProcessor(), coffer.WithCurrencies("USD"))
	_, _ = eng.DefineUnit(ctx, coffer.UnitParams{Code: "api_calls", Name: "API calls"})
	a, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	b, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Bob")})
	_, _ = eng.CreateEntry(ctx, a.ID, coffer.EntryParams{Amount: 1000, Currency: "api_calls", Type: ledger.Credit, Reason: "Plan"})
	_, _ = eng.CreateEntry(ctx, b.ID, coffer.EntryParams{Amount: 250, Currency: "USD", Type: ledger.Credit, Reason: "Gift"})

	bs, err := eng.CustomerBalances(ctx, []string{a.ID, b.ID})
	if err != nil {
		panic(err)
	}
	for _, id := range []string{a.ID, b.ID} {
		for _, w := range bs[id] {
			if w.Amount != 0 {
				fmt.Println(map[string]string{a.ID: "Ada", b.ID: "Bob"}[id], eng.FormatUnits(ctx, w.Amount, w.Currency), w.Currency)
			}
		}
	}
	// Output:
	// Ada 1000 api_calls
	// Bob 2.50 USD
}
