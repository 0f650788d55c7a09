package coffer_test

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/store/memory"
)

// Credit units: a unit with two decimal places and a price, a wallet in
// it, and the customer's balance rendered with the unit's decimals.
func ExampleEngine_DefineUnit() {
	ctx := context.Background()
	eng, _ := coffer.New(memory.New(), coffer.WithoutProcessor())
	u, err := eng.DefineUnit(ctx, coffer.UnitParams{Code: "credits", Exponent: 2, Name: "Credits",
		Price: &money.UnitPrice{Amount: 150, Currency: "USD", Per: 100}}) // 1.50 USD a credit
	if err != nil {
		panic(err)
	}
	cost, _ := u.Cost(25_00) // 25.00 credits
	fmt.Println("25.00 credits cost", cost)

	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	res, _ := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 25_00, Currency: "credits", Type: ledger.Credit, Reason: "Plan"})
	fmt.Println("balance:", eng.FormatUnits(ctx, res.Balance.Amount, "credits"), "credits")

	_, err = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 1, Currency: "tokens", Type: ledger.Credit, Reason: "x"})
	fmt.Println(coffer.ErrorCode(err))
	_, err = eng.DefineUnit(ctx, coffer.UnitParams{Code: "usd"})
	fmt.Println(coffer.ErrorCode(err))
	// Output:
	// 25.00 credits cost 37.50 USD
	// balance: 25.00 credits
	// unknown_unit
	// invalid_unit
}

// Metered usage in one transaction: each item is applied, replayed or
// refused on its own; none overdraws.
func ExampleEngine_RecordUsage() {
	ctx := context.Background()
	eng, _ := coffer.New(memory.New(), coffer.WithoutProcessor(), coffer.WithUnits(money.Unit{Code: "api_calls"}))
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 100, Currency: "api_calls", Type: ledger.Credit, Reason: "Plan"})

	batch := []coffer.Usage{
		{CustomerID: c.ID, Unit: "api_calls", Quantity: 70, IdempotencyKey: "req-1"},
		{CustomerID: c.ID, Unit: "api_calls", Quantity: 40, IdempotencyKey: "req-2"},
		{CustomerID: c.ID, Unit: "api_calls", Quantity: 30, IdempotencyKey: "req-3"},
	}
	res, _ := eng.RecordUsage(ctx, batch)
	for _, r := range res {
		if r.Error != nil {
			fmt.Println("refused:", r.Error.Code)
			continue
		}
		fmt.Println("debited", r.Entry.Amount, "left", r.Balance.Amount)
	}
	again, _ := eng.RecordUsage(ctx, batch) // a resend: nothing twice
	fmt.Printf("%+v\n", coffer.Summarize(again))
	// Output:
	// debited 70 left 30
	// refused: insufficient_funds
	// debited 30 left 0
	// {Applied:0 Replayed:2 Refused:1}
}
