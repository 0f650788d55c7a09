package coffertest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/coffertest"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/retry"
	"github.com/cofferhq/coffer/webhook"
)

// exampleT stands in for the *testing.T a real test has (an Example
// function gets none): the helpers need Helper, Cleanup and Fatalf.
type exampleT struct{ testing.TB }

func (exampleT) Helper()          {}
func (exampleT) Cleanup(f func()) {}
func (exampleT) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf(format, args...))
}

// In a test: func TestWallet(t *testing.T) { env := coffertest.New(t); ... }
func ExampleNew() {
	t := exampleT{}
	env := coffertest.New(t)
	c, _ := env.Engine.CreateCustomer(ctx, customer.Params{Name: new("Ada")})
	_, _ = env.Engine.CreateEntry(ctx, c.ID, coffer.EntryParams{Amount: 500, Currency: "USD", Type: ledger.Credit})

	ev := coffertest.RequireEvent(t, env.Engine, coffer.EventBalanceChanged, func(ev webhook.Event) bool {
		return ev.CustomerID == c.ID
	})
	fmt.Println(ev.Type, ev.CreatedAt.Format(time.DateTime))
	// Output: wallet.balance_changed 2026-01-05 09:00:00
}

// Advance runs retries (and their notices) at their own times.
func ExampleEnv_Advance() {
	t := exampleT{}
	env := coffertest.New(t)
	prod, _ := env.Engine.CreateProduct(ctx, coffer.ProductParams{Name: "Pro", Price: 25_00, Currency: "USD"})
	_, _ = env.Engine.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: prod.ID, Quantity: 1,
		PaymentMethod: processor.CardInsufficientFunds, Customer: &customer.Params{Name: new("Ada")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)}})

	rep := env.Advance(t, 17*retry.Day)
	fmt.Println("retries attempted:", rep.Retries.Attempted)
	for _, ev := range coffertest.Events(t, env.Engine, coffer.EventPaymentFailed) {
		fmt.Println("payment.failed on", ev.CreatedAt.Format(time.DateTime))
	}
	// Output:
	// retries attempted: 3
	// payment.failed on 2026-01-05 09:00:00
	// payment.failed on 2026-01-08 09:00:00
	// payment.failed on 2026-01-15 09:00:00
	// payment.failed on 2026-01-22 09:00:00
}

// A Receiver registered on the Env gets every delivery, verified.
func ExampleEnv_NewReceiver() {
	t := exampleT{}
	env := coffertest.New(t)
	rc := env.NewReceiver(t, coffer.EventCustomerCreated)
	c, _ := env.Engine.CreateCustomer(ctx, customer.Params{Name: new("Ada")})

	env.Advance(t, 0) // deliveries due now
	d := rc.Require(t, coffer.EventCustomerCreated, nil)
	got := coffertest.Decode[customer.Customer](t, d.Data)
	fmt.Println(d.Type, got.ID == c.ID, len(rc.Rejected()))
	// Output: customer.created true 0
}
