package coffer_test

import (
	"context"
	"fmt"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// Iterate pages through any list for the caller: here every customer,
// three per page, newest first. Breaking out of the loop stops the paging.
func ExampleIterate() {
	ctx := context.Background()
	eng, _ := newExampleEngine()
	for _, name := range []string{"Ada", "Alan", "Grace", "Edsger", "Barbara"} {
		if _, err := eng.CreateCustomer(ctx, customer.Params{Name: new(name)}); err != nil {
			panic(err)
		}
	}

	p := coffer.CustomerListParams{ListParams: coffer.ListParams{Limit: 3}}
	for c, err := range coffer.Iterate(ctx, p, eng.ListCustomers) {
		if err != nil {
			panic(err)
		}
		fmt.Println(c.Name)
	}
	// Output:
	// Barbara
	// Edsger
	// Grace
	// Alan
	// Ada
}

// An account-wide list: the failed payments of every customer, for an
// operator's dunning view. CustomerID "" (or omitted) is every customer.
func ExampleEngine_ListPayments() {
	ctx := context.Background()
	eng, proc := newExampleEngine()
	prod, _ := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Coffee beans", Price: 12_00, Currency: "USD",
		IdempotencyKey: "coffee-beans"})
	for _, name := range []string{"Ada", "Alan", "Grace"} {
		pm := processor.CardOK
		if name != "Alan" {
			pm = processor.CardInsufficientFunds
			proc.Script(pm, processor.InsufficientFunds)
		}
		_, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
			ProductID: prod.ID, Quantity: 1, PaymentMethod: pm,
			Customer: &customer.Params{Name: new(name)},
			OnDemand: &coffer.OnDemand{MandateOnly: new(false)},
		})
		if err != nil {
			panic(err)
		}
	}

	failed, err := eng.ListPayments(ctx, coffer.PaymentListParams{
		Statuses: []subscription.PaymentStatus{subscription.PaymentFailed},
	})
	if err != nil {
		panic(err)
	}
	for _, p := range failed.Data {
		c, _ := eng.Customer(ctx, p.CustomerID)
		fmt.Println(c.Name, p.Status, p.DeclineCode, exampleAmount(p.Amount, p.Currency))
	}
	all, _ := eng.ListPayments(ctx, coffer.PaymentListParams{})
	fmt.Println(len(all.Data), "payments in all, more:", all.HasMore)
	// Output:
	// Grace failed INSUFFICIENT_FUNDS 12.00 USD
	// Ada failed INSUFFICIENT_FUNDS 12.00 USD
	// 3 payments in all, more: false
}
