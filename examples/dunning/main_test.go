package main

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/subscription"
)

// TestRun runs the example program end to end.
func TestRun(t *testing.T) {
	devnull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devnull.Close()
	stdout := os.Stdout
	os.Stdout = devnull
	defer func() { os.Stdout = stdout }()
	if err := run(context.Background(), time.UTC); err != nil {
		t.Fatal(err)
	}
}

// TestDunningSchedule is Ada's walk of the example asserted with
// coffertest: her card keeps failing, attempts run on days 0, 3, 10 and
// 17 at the mandate's time of day with a notice 24 hours before each
// retry, and after the last one her subscription is on hold and she is
// delinquent.
func TestDunningSchedule(t *testing.T) {
	ctx := context.Background()
	env := coffertest.New(t)
	rc := env.NewReceiver(t)
	prod, err := env.Engine.CreateProduct(ctx, coffer.ProductParams{Name: "Pro plan", Price: 25_00, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := env.Engine.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		PaymentMethod: processor.CardInsufficientFunds, Customer: &customer.Params{Name: new("Ada")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)}})
	if err != nil {
		t.Fatal(err)
	}
	env.Advance(t, 20*retry.Day)

	fails := coffertest.Events(t, env.Engine, coffer.EventPaymentFailed)
	notices := coffertest.Events(t, env.Engine, coffer.EventRetryUpcoming)
	days := []int{0, 3, 10, 17}
	if len(fails) != len(days) || len(notices) != len(days)-1 {
		t.Fatalf("%d failures, %d notices", len(fails), len(notices))
	}
	for i, d := range days {
		if want := coffertest.Start.Add(time.Duration(d) * retry.Day); !fails[i].CreatedAt.Equal(want) {
			t.Errorf("attempt %d at %v, want %v", i+1, fails[i].CreatedAt, want)
		}
		if i > 0 {
			if gap := fails[i].CreatedAt.Sub(notices[i-1].CreatedAt); gap != 24*time.Hour {
				t.Errorf("notice of attempt %d %v before it", i+1, gap)
			}
		}
	}
	sub, err := env.Engine.Subscription(ctx, res.Subscription.ID)
	if err != nil || sub.Status != subscription.StatusOnHold {
		t.Fatalf("subscription %s %v", sub.Status, err)
	}
	coffertest.RequireEvent(t, env.Engine, coffer.EventSubscriptionOnHold, nil)
	del := coffertest.RequireEvent(t, env.Engine, coffer.EventCustomerDelinquent, nil)
	rc.Require(t, coffer.EventCustomerDelinquent, func(d coffertest.Delivery) bool { return d.ID == del.ID })
	if got := env.Processor.ChargeCount(); got != 4 {
		t.Fatalf("processor charged %d times", got)
	}
}
