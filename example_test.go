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
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/store/memory"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/wallet"
)

// newExampleEngine returns an engine on the in-memory store with the
// deterministic test processor and a test clock, so the examples' output
// does not vary.
func newExampleEngine() (*coffer.Engine, *processor.Test) {
	clk := clock.NewTest(time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC))
	proc := processor.NewTest(clk)
	eng, err := coffer.New(memory.New(), coffer.WithClock(clk), coffer.WithProcessor(proc))
	if err != nil {
		panic(err)
	}
	return eng, proc
}

// exampleAmount formats minor units with their currency code, e.g. "12.50 USD".
func exampleAmount(minor int64, code string) string {
	return money.Amount{Minor: minor, Currency: code}.String()
}

// A prepaid deposit, a debit, a replayed request and one that overspends.
func ExampleEngine_CreateEntry() {
	ctx := context.Background()
	eng, _ := newExampleEngine()
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})

	res, err := eng.CreateEntry(ctx, c.ID, coffer.EntryParams{
		Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "deposit-1",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println("after deposit:", exampleAmount(res.Balance.Amount, "USD"))

	res, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{
		Amount: 20_00, Currency: "USD", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "deposit-1",
	})
	fmt.Println("replayed:", res.Replayed, exampleAmount(res.Balance.Amount, "USD"))

	res, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{
		Amount: 7_50, Currency: "USD", Type: ledger.Debit, Reason: "Coffee", IdempotencyKey: "order-1",
	})
	fmt.Printf("debit: %s -> %s\n", exampleAmount(res.Entry.BalanceBefore, "USD"), exampleAmount(res.Entry.BalanceAfter, "USD"))

	_, err = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 50_00, Currency: "USD", Type: ledger.Debit, Reason: "Too much"})
	fmt.Println(errors.Is(err, wallet.ErrInsufficientFunds), coffer.HTTPStatus(err))
	// Output:
	// after deposit: 20.00 USD
	// replayed: true 20.00 USD
	// debit: 20.00 USD -> 12.50 USD
	// true 400
}

// An on-demand subscription for a new customer: the mandate is authorised
// and, since it is not mandate_only, the initial charge of price x quantity
// is made at once.
func ExampleEngine_CreateSubscription() {
	ctx := context.Background()
	eng, _ := newExampleEngine()
	prod, _ := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Price: 12_00, Currency: "USD"})

	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 2, PaymentMethod: processor.CardOK,
		Customer: &customer.Params{Name: new("Ada"), Email: new("ada@example.com")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)},
	})
	if err != nil {
		panic(err)
	}
	s := res.Subscription
	fmt.Println(s.Status, s.MandateID, s.MandateAuthorizedAt.Format(time.RFC3339))
	fmt.Println("initial charge:", res.Payment.Status, exampleAmount(res.Payment.Amount, res.Payment.Currency))

	// A missing mandate_only is a validation error (HTTP 422).
	_, err = eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: s.CustomerID, PaymentMethod: processor.CardOK,
		OnDemand: &coffer.OnDemand{},
	})
	fmt.Println(errors.Is(err, subscription.ErrMissingMandateOnly), coffer.HTTPStatus(err))
	// Output:
	// active mdt_test_1 2026-03-02T13:10:00Z
	// initial charge: succeeded 24.00 USD
	// true 422
}

// A charge takes what the wallet holds first and sends only the remainder
// to the payment method; a declined charge is a failed payment, not an
// error.
func ExampleEngine_Charge() {
	ctx := context.Background()
	eng, proc := newExampleEngine()
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = eng.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 4_00, Currency: "USD", Type: ledger.Credit, Reason: "Welcome bonus"})
	prod, _ := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Price: 12_00, Currency: "USD"})
	res, _ := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
		OnDemand: &coffer.OnDemand{MandateOnly: new(true)},
	})

	p, err := eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(10_00))})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %s from the wallet, %s from the card (%s)\n", p.Status,
		exampleAmount(p.WalletAmount, "USD"), exampleAmount(p.ProcessorAmount, "USD"), p.ProcessorID)

	proc.Script(processor.CardOK, processor.InsufficientFunds)
	p, _ = eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(6_00))})
	fmt.Println(p.Status, p.DeclineCode, "next retry", p.NextRetryAt.Format(time.RFC3339))

	_, err = eng.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{})
	fmt.Println(errors.Is(err, subscription.ErrMissingPrice), coffer.HTTPStatus(err))
	// Output:
	// succeeded: 4.00 USD from the wallet, 6.00 USD from the card (ch_test_1)
	// failed INSUFFICIENT_FUNDS next retry 2026-03-05T13:10:00Z
	// true 422
}

// A refund to the wallet is a credit entry with reason "Refund for payment
// <id>"; the same refund key never credits twice.
func ExampleEngine_Refund() {
	ctx := context.Background()
	eng, _ := newExampleEngine()
	c, _ := eng.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	prod, _ := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Price: 12_00, Currency: "USD"})
	res, _ := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, CustomerID: c.ID, PaymentMethod: processor.CardOK,
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)},
	})
	pay := res.Payment

	for i := 0; i < 2; i++ { // the second call is a replay
		r, err := eng.Refund(ctx, pay.ID, coffer.RefundParams{
			Amount: 5_00, Destination: subscription.ToWallet, IdempotencyKey: "damaged-bag",
		})
		if err != nil {
			panic(err)
		}
		fmt.Println("refund", r.Status, exampleAmount(r.Amount, r.Currency), "to the", r.Destination)
	}
	b, _ := eng.Balance(ctx, c.ID, "USD")
	fmt.Println("wallet:", exampleAmount(b.Amount, "USD"))
	entries, _ := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: c.ID})
	e := entries.Data[0]
	fmt.Println(e.Type, exampleAmount(e.Amount, e.Currency), e.Reason == "Refund for payment "+pay.ID, e.Reference.Type)
	p, _ := eng.Payment(ctx, pay.ID)
	fmt.Println(p.Status, exampleAmount(p.Refundable(), "USD"), "refundable")
	// Output:
	// refund succeeded 5.00 USD to the wallet
	// refund succeeded 5.00 USD to the wallet
	// wallet: 5.00 USD
	// credit 5.00 USD true refund
	// partially_refunded 7.00 USD refundable
}
