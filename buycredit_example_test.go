package coffer_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/clock"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
)

// A $10 credit pack bought with a card while the wallet holds $5: the card
// is charged the whole 10.00 (the wallet is never applied to a purchase)
// and the wallet ends at 15.00. A refund goes back to the card and takes
// the credit with it; a refund to the wallet is refused.
func ExampleEngine_BuyCredit() {
	ctx := context.Background()
	clk := clock.NewTest(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	proc := processor.NewTest(clk)
	eng, _ := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(proc))
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit, Reason: "Top-up"})

	pay, err := eng.BuyCredit(ctx, c.ID, coffer.BuyCreditParams{Amount: 10_00, Currency: "USD",
		PaymentMethod: processor.CardOK, Description: "$10 pack", IdempotencyKey: "order-42"})
	if err != nil {
		panic(err)
	}
	b, _ := eng.Balance(ctx, c.ID, "USD")
	fmt.Println(pay.Kind, pay.Status, "card:", exampleAmount(pay.ProcessorAmount, "USD"),
		"wallet applied:", exampleAmount(pay.WalletAmount, "USD"), "balance:", exampleAmount(b.Amount, "USD"))

	_, err = eng.Refund(ctx, pay.ID, coffer.RefundParams{Destination: subscription.ToWallet, IdempotencyKey: "rf-1"})
	fmt.Println("refund to the wallet refused:", errors.Is(err, coffer.ErrPurchaseToWallet))
	r, _ := eng.Refund(ctx, pay.ID, coffer.RefundParams{Amount: 4_00, IdempotencyKey: "rf-2"})
	b, _ = eng.Balance(ctx, c.ID, "USD")
	fmt.Println("refund", r.Status, "to the card:", exampleAmount(r.ProcessorAmount, "USD"), "balance:", exampleAmount(b.Amount, "USD"))
	// Output:
	// credit_purchase succeeded card: 10.00 USD wallet applied: 0.00 USD balance: 15.00 USD
	// refund to the wallet refused: true
	// refund succeeded to the card: 4.00 USD balance: 11.00 USD
}
