package main

import (
	"context"
	"os"
	"testing"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// TestRun runs the example program, which checks its own story.
func TestRun(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout := os.Stdout
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()
	if err := run(); err != nil {
		t.Fatal(err)
	}
}

// TestOnDemandWithRetry is the example's story asserted with coffertest:
// a mandate without a charge, a charge paid by the wallet first, and a
// declined charge that the retry on day 3 collects, its notice and
// payment delivered to a verifying receiver.
func TestOnDemandWithRetry(t *testing.T) {
	ctx := context.Background()
	env := coffertest.New(t)
	rc := env.NewReceiver(t, "payment.*")
	c, err := env.Engine.CreateCustomer(ctx, customer.Params{Name: new("Ada Lovelace")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Engine.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 5_00, Currency: "USD", Type: ledger.Credit, Reason: "Welcome bonus"}); err != nil {
		t.Fatal(err)
	}
	prod, err := env.Engine.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Price: 12_00, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Engine.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1, CustomerID: c.ID,
		PaymentMethod: processor.CardOK, OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	if err != nil {
		t.Fatal(err)
	}
	if env.Processor.ChargeCount() != 0 {
		t.Fatal("mandate_only charged")
	}
	paid, err := env.Engine.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(12_00)), IdempotencyKey: "order-1001"})
	if err != nil || paid.WalletAmount != 5_00 || paid.ProcessorAmount != 7_00 {
		t.Fatalf("charge %+v %v", paid, err)
	}

	env.Processor.Script(processor.CardOK, processor.InsufficientFunds)
	declined, err := env.Engine.Charge(ctx, res.Subscription.ID, coffer.ChargeParams{ProductPrice: new(int64(8_00)), IdempotencyKey: "order-1002"})
	if err != nil || declined.Status != subscription.PaymentFailed {
		t.Fatalf("declined %+v %v", declined, err)
	}
	rep := env.Advance(t, 3*retry.Day)
	if rep.Retries.Succeeded != 1 {
		t.Fatalf("retries %+v", rep.Retries)
	}
	ev := coffertest.RequireEvent(t, env.Engine, coffer.EventPaymentSucceeded, func(ev webhook.Event) bool {
		p := coffertest.Decode[subscription.Payment](t, ev.Data)
		return p.Amount == 8_00 && p.ID != declined.ID
	})
	od, err := env.Engine.Overdue(ctx, c.ID)
	if err != nil || len(od.Payments) != 0 || od.Delinquent {
		t.Fatalf("overdue after the retry: %+v %v", od, err)
	}
	rc.Require(t, coffer.EventRetryUpcoming, nil)
	rc.Require(t, coffer.EventPaymentSucceeded, func(d coffertest.Delivery) bool { return d.ID == ev.ID })
}
