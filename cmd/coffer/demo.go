package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/ledger"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

// demoOutput is where seedDemo reports what it made.
type demoOutput struct {
	w         io.Writer
	apiKey    string
	generated bool
	publicURL string
}

// demoCustomer is one seeded customer with its wallet entries.
type demoCustomer struct {
	did, name, email string
	entries          []coffer.EntryParams
}

var demoCustomers = []demoCustomer{
	{did: "did:coffer:demo:ada", name: "Ada Lovelace", email: "ada@example.com", entries: []coffer.EntryParams{
		{Amount: 5000, Currency: "USD", Type: ledger.Credit, Reason: "Welcome bonus", IdempotencyKey: "demo:ada:welcome"},
		{Amount: 1200, Currency: "USD", Type: ledger.Debit, Reason: "Purchase: 12 reports", IdempotencyKey: "demo:ada:purchase-1"},
	}},
	{did: "did:coffer:demo:ravi", name: "Ravi Kumar", email: "ravi@example.in", entries: []coffer.EntryParams{
		{Amount: 100000, Currency: "INR", Type: ledger.Credit, Reason: "Prepaid deposit", IdempotencyKey: "demo:ravi:deposit"},
		{Amount: 25000, Currency: "INR", Type: ledger.Debit, Reason: "API usage, March", IdempotencyKey: "demo:ravi:usage-1"},
		{Amount: 2000, Currency: "USD", Type: ledger.Credit, Reason: "Promotional credit", IdempotencyKey: "demo:ravi:promo"},
	}},
	{did: "did:coffer:demo:grace", name: "Grace Hopper", email: "grace@example.com", entries: []coffer.EntryParams{
		{Amount: 1000, Currency: "USD", Type: ledger.Credit, Reason: "Refund to wallet: late delivery", IdempotencyKey: "demo:grace:goodwill"},
	}},
}

// seedDemo creates the demo data, idempotently: customers are found by
// their DID, ledger entries and the product by idempotency key, and the
// subscriptions and their charges are made only when the customer has
// none, so a second start changes nothing.
//
// Ada gets an active on-demand subscription (mandate authorised with the
// test card pm_card_ok) and a charge paid by her wallet first and the card
// for the rest; Grace's subscription gets a charge the test processor
// hard-declines (DO_NOT_HONOR, putting it on hold) that is then collected
// again successfully (CollectOverdue).
func seedDemo(ctx context.Context, eng *coffer.Engine, test *processor.Test, out demoOutput) error {
	ids := map[string]string{}
	for _, d := range demoCustomers {
		c, err := eng.CustomerByDID(ctx, d.did)
		if errors.Is(err, customer.ErrNotFound) {
			c, err = eng.CreateCustomer(ctx, customer.Params{Name: new(d.name), Email: new(d.email), DID: new(d.did),
				Metadata: map[string]string{"demo": "true"}})
		}
		if err != nil {
			return fmt.Errorf("customer %s: %w", d.name, err)
		}
		ids[d.did] = c.ID
		for _, e := range d.entries {
			if _, err := eng.CreateEntry(ctx, c.ID, e); err != nil {
				return fmt.Errorf("ledger entry %s: %w", e.IdempotencyKey, err)
			}
		}
	}
	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "API usage", Description: "Metered API usage, billed on demand",
		Price: 2500, Currency: "USD", IdempotencyKey: "demo:product:api-usage"})
	if err != nil {
		return fmt.Errorf("product: %w", err)
	}

	ada, err := demoSubscription(ctx, eng, ids["did:coffer:demo:ada"], prod.ID)
	if err != nil {
		return err
	}
	if err := demoCharges(ctx, eng, ada, func() (string, error) {
		p, err := eng.Charge(ctx, ada.ID, coffer.ChargeParams{ProductPrice: new(int64(4500)), ProductDescription: "API usage, March",
			IdempotencyKey: "demo:charge:ada-1"})
		return p.ID, err
	}); err != nil {
		return err
	}
	grace, err := demoSubscription(ctx, eng, ids["did:coffer:demo:grace"], prod.ID)
	if err != nil {
		return err
	}
	if err := demoCharges(ctx, eng, grace, func() (string, error) {
		// Scripted here, right before the one charge that reaches the
		// processor: the decline cannot leak to another charge.
		test.Script(processor.CardOK, processor.DoNotHonor)
		p, err := eng.Charge(ctx, grace.ID, coffer.ChargeParams{ProductPrice: new(int64(3000)), ProductDescription: "API usage, March",
			IdempotencyKey: "demo:charge:grace-1"})
		if err != nil {
			return "", err
		}
		if p.Status == subscription.PaymentFailed {
			if _, err := eng.CollectOverdue(ctx, p.ID, coffer.CollectOverdueParams{IdempotencyKey: "demo:collect:grace-1"}); err != nil {
				return "", fmt.Errorf("collecting the declined demo charge: %w", err)
			}
		}
		return p.ID, nil
	}); err != nil {
		return err
	}
	return printDemo(ctx, eng, out, ids, prod, []subscription.Subscription{ada, grace})
}

// demoSubscription returns the customer's subscription, creating an active
// mandate_only one (test card pm_card_ok) when there is none.
func demoSubscription(ctx context.Context, eng *coffer.Engine, customerID, productID string) (subscription.Subscription, error) {
	l, err := eng.ListSubscriptions(ctx, coffer.SubscriptionListParams{CustomerID: customerID, ListParams: coffer.ListParams{Limit: 1}})
	if err != nil {
		return subscription.Subscription{}, err
	}
	if len(l.Data) > 0 {
		return l.Data[0], nil
	}
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{ProductID: productID, Quantity: 1, CustomerID: customerID,
		PaymentMethod: processor.CardOK, Metadata: map[string]string{"demo": "true"},
		OnDemand: &coffer.OnDemand{MandateOnly: new(true)}})
	if err != nil {
		return subscription.Subscription{}, fmt.Errorf("subscription: %w", err)
	}
	return res.Subscription, nil
}

// demoCharges runs charge unless the subscription already has payments.
func demoCharges(ctx context.Context, eng *coffer.Engine, sub subscription.Subscription, charge func() (string, error)) error {
	l, err := eng.ListPayments(ctx, coffer.PaymentListParams{SubscriptionID: sub.ID, ListParams: coffer.ListParams{Limit: 1}})
	if err != nil {
		return err
	}
	if len(l.Data) > 0 || sub.Status != subscription.StatusActive {
		return nil
	}
	if _, err := charge(); err != nil {
		return fmt.Errorf("charge on %s: %w", sub.ID, err)
	}
	return nil
}

func printDemo(ctx context.Context, eng *coffer.Engine, out demoOutput, ids map[string]string,
	prod subscription.Product, subs []subscription.Subscription) error {
	tw := tabwriter.NewWriter(out.w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "coffer demo data (TEST MODE: no real money moves)")
	fmt.Fprintln(tw, "\nCUSTOMER\tID\tBALANCES")
	for _, d := range demoCustomers {
		bals, err := eng.Balances(ctx, ids[d.did])
		if err != nil {
			return err
		}
		s := ""
		for _, b := range bals {
			s += fmt.Sprintf("%s %s  ", money.Format(b.Amount, b.Currency), b.Currency)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.name, ids[d.did], s)
	}
	fmt.Fprintf(tw, "\nproduct\t%s\t%s, %s %s\n", prod.ID, prod.Name, money.Format(prod.Price, prod.Currency), prod.Currency)
	for _, sub := range subs {
		fmt.Fprintf(tw, "subscription\t%s\t%s, mandate %s\n", sub.ID, sub.Status, sub.MandateID)
		pays, err := eng.ListPayments(ctx, coffer.PaymentListParams{SubscriptionID: sub.ID})
		if err != nil {
			return err
		}
		for _, p := range pays.Data {
			note := ""
			if p.DeclineCode != "" {
				note = " (" + p.DeclineCode + ")"
			}
			fmt.Fprintf(tw, "  payment\t%s\t%s %s %s%s, wallet %s\n", p.ID, p.Status, money.Format(p.Amount, p.Currency),
				p.Currency, note, money.Format(p.WalletAmount, p.Currency))
		}
	}
	fmt.Fprintf(tw, "\noperator API key\t%s\n", out.apiKey)
	if out.generated {
		fmt.Fprintf(tw, "\t(made for this run; set %s=%s to keep it across restarts)\n", envAPIKey, out.apiKey)
	}
	fmt.Fprintf(tw, "\ntry:\tcurl -H 'Authorization: Bearer %s' %s/customers\n", out.apiKey, out.publicURL)
	return tw.Flush()
}
