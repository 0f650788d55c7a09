package main

import (
	"context"
	"errors"
	"testing"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
	"github.com/cofferhq/coffer/webhook"
)

// TestRefundToWallet is the example's story, asserted with coffertest: a
// partial refund credited to the wallet (idempotent under its key), a
// refund beyond what is left refused, and the next charge paid by the
// wallet first and the card for the rest.
func TestRefundToWallet(t *testing.T) {
	ctx := context.Background()
	env := coffertest.New(t)
	rc := env.NewReceiver(t, "refund.*", "payment.*")
	prod, err := env.Engine.CreateProduct(ctx, coffer.ProductParams{Name: "Team plan", Price: 49_00, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Engine.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		PaymentMethod: processor.CardOK, Customer: &customer.Params{Name: new("Lin Chen")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)}})
	if err != nil {
		t.Fatal(err)
	}
	sub, pay := res.Subscription, res.Payment
	p := coffer.RefundParams{Amount: 20_00, Destination: subscription.ToWallet, Reason: "Outage credit", IdempotencyKey: "outage"}
	ref, err := env.Engine.Refund(ctx, pay.ID, p)
	if err != nil {
		t.Fatal(err)
	}
	again, err := env.Engine.Refund(ctx, pay.ID, p)
	if err != nil || again.ID != ref.ID {
		t.Fatalf("retried refund: %v %v", again.ID, err)
	}
	if _, err := env.Engine.Refund(ctx, pay.ID, coffer.RefundParams{Amount: 30_00, Destination: subscription.ToWallet, IdempotencyKey: "too-much"}); !errors.Is(err, subscription.ErrInvalidRefund) {
		t.Fatalf("refund beyond the payment: %v", err)
	}
	if n := len(coffertest.Events(t, env.Engine, coffer.EventRefundSucceeded)); n != 1 {
		t.Fatalf("%d refund.succeeded", n)
	}

	next, err := env.Engine.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(35_00))})
	if err != nil {
		t.Fatal(err)
	}
	if next.WalletAmount != 20_00 || next.ProcessorAmount != 15_00 || next.Status != subscription.PaymentSucceeded {
		t.Fatalf("charge %+v", next)
	}
	coffertest.RequireEvent(t, env.Engine, coffer.EventPaymentSucceeded, func(ev webhook.Event) bool {
		return coffertest.Decode[subscription.Payment](t, ev.Data).ID == next.ID
	})
	if got := env.Processor.ChargeCount(); got != 2 {
		t.Fatalf("processor charged %d times", got)
	}

	env.Advance(t, 0)
	d := rc.Require(t, coffer.EventRefundSucceeded, nil)
	if got := coffertest.Decode[subscription.Refund](t, d.Data); got.ID != ref.ID || got.Destination != subscription.ToWallet {
		t.Fatalf("refund payload %+v", got)
	}
	rc.Require(t, coffer.EventPaymentSucceeded, func(d coffertest.Delivery) bool {
		return coffertest.Decode[subscription.Payment](t, d.Data).ID == next.ID
	})
}
