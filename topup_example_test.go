package coffer_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/topup"
)

// A threshold rule keeps a wallet between $5 and $20: when the available
// balance falls below 5.00 the worker of Run (RunTopUps) charges the card
// what brings it back to 20.00, as a credit purchase. A second pass finds
// it above the threshold and charges nothing.
func ExampleEngine_CreateTopUp() {
	ctx := context.Background()
	clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	eng, _ := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(processor.NewTest(clk)))
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 3_50, Currency: "USD", Type: ledger.Credit, Reason: "Top-up"})

	rule, err := eng.CreateTopUp(ctx, c.ID, "USD", coffer.TopUpParams{
		Trigger: topup.TriggerThreshold, Threshold: 5_00, Method: topup.MethodTarget, Target: 20_00,
		PaymentMethod: processor.CardOK, MaxPerDay: 3, MaxAmountPerDay: 100_00,
	})
	if err != nil {
		panic(err)
	}
	rep, _ := eng.RunTopUps(ctx)
	b, _ := eng.Balance(ctx, c.ID, "USD")
	fmt.Println("succeeded:", rep.Succeeded, "balance:", exampleAmount(b.Amount, "USD"))

	clk.Advance(time.Minute)
	rep, _ = eng.RunTopUps(ctx)
	rule, _ = eng.TopUp(ctx, rule.ID)
	fmt.Println("charged again:", rep.Charged, "top-ups today:", rule.State.DayCount, exampleAmount(rule.State.DayAmount, "USD"))
	// Output:
	// succeeded: 1 balance: 20.00 USD
	// charged again: 0 top-ups today: 1 16.50 USD
}
