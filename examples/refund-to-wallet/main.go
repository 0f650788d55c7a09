// Command refund-to-wallet shows refunds paid into the customer's wallet
// instead of back to the card: a subscription charge is collected, part of
// it is refunded to the wallet (a credit entry "Refund for payment ..."),
// the refund is retried safely, and the next charge is paid from the wallet
// before the card is touched. It runs on the embedded bbolt store in a
// temporary directory with coffer's deterministic test processor.
//
//	go run ./examples/refund-to-wallet
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/cofferhq/coffer"
	"github.com/cofferhq/coffer/customer"
	"github.com/cofferhq/coffer/money"
	"github.com/cofferhq/coffer/processor"
	"github.com/cofferhq/coffer/subscription"
)

func main() {
	dbPath := flag.String("db", "", "bbolt file (default: a new file in a temp dir)")
	flag.Parse()
	if *dbPath == "" {
		dir, err := os.MkdirTemp("", "coffer-refund-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(dir)
		*dbPath = filepath.Join(dir, "coffer.db")
	}
	ctx := context.Background()
	proc := processor.NewTest(nil)
	eng, err := coffer.Open(*dbPath, coffer.WithProcessor(proc))
	if err != nil {
		log.Fatal(err)
	}
	defer eng.Close()

	prod, err := eng.CreateProduct(ctx, coffer.ProductParams{Name: "Team plan", Price: 49_00, Currency: "USD"})
	check(err)
	res, err := eng.CreateSubscription(ctx, coffer.SubscriptionParams{
		ProductID: prod.ID, Quantity: 1, PaymentMethod: processor.CardOK,
		Customer: &customer.Params{Name: new("Lin Chen"), Email: new("lin@example.com")},
		OnDemand: &coffer.OnDemand{MandateOnly: new(false)},
	})
	check(err)
	sub, pay := res.Subscription, res.Payment
	fmt.Printf("subscription %s is %s; initial charge %s: %s %s USD (card %s)\n",
		sub.ID, sub.Status, pay.ID, pay.Status, money.Format(pay.Amount, "USD"), money.Format(pay.ProcessorAmount, "USD"))

	// The customer complains about an outage: refund $20 as wallet credit.
	ref, err := eng.Refund(ctx, pay.ID, coffer.RefundParams{
		Amount: 20_00, Destination: subscription.ToWallet, Reason: "Outage credit", IdempotencyKey: "outage-2026-11",
	})
	check(err)
	fmt.Printf("refund %s: %s %s USD to the %s\n", ref.ID, ref.Status, money.Format(ref.Amount, "USD"), ref.Destination)
	// The support tool retries the request: same key, no second credit.
	again, err := eng.Refund(ctx, pay.ID, coffer.RefundParams{
		Amount: 20_00, Destination: subscription.ToWallet, Reason: "Outage credit", IdempotencyKey: "outage-2026-11",
	})
	check(err)
	fmt.Printf("retried refund returns %s again (same id: %v)\n", again.ID, again.ID == ref.ID)
	// More than is left to refund is refused.
	_, err = eng.Refund(ctx, pay.ID, coffer.RefundParams{Amount: 30_00, Destination: subscription.ToWallet, IdempotencyKey: "too-much"})
	fmt.Printf("refund of 30.00 more: %v (HTTP %d)\n", err, coffer.HTTPStatus(err))
	bal, err := eng.Balance(ctx, sub.CustomerID, "USD")
	check(err)
	fmt.Printf("wallet: %s USD\n\n", money.Format(bal.Amount, "USD"))

	// Next month's usage charge: the wallet pays first, the card the rest.
	next, err := eng.Charge(ctx, sub.ID, coffer.ChargeParams{ProductPrice: new(int64(35_00)), ProductDescription: "December usage"})
	check(err)
	fmt.Printf("charge %s of %s USD: %s, %s from the wallet, %s from the card\n", next.ID, money.Format(next.Amount, "USD"),
		next.Status, money.Format(next.WalletAmount, "USD"), money.Format(next.ProcessorAmount, "USD"))

	fmt.Println("\nledger (newest first):")
	list, err := eng.ListEntries(ctx, coffer.EntryListParams{CustomerID: sub.CustomerID})
	check(err)
	for _, e := range list.Data {
		fmt.Printf("  %-6s %8s USD  %8s -> %-8s %-40s (%s %s)\n", e.Type, money.Format(e.Amount, "USD"), money.Format(e.BalanceBefore, "USD"),
			money.Format(e.BalanceAfter, "USD"), e.Reason, e.Reference.Type, e.Reference.ID)
	}
	fmt.Println("\npayments (newest first):")
	pays, err := eng.ListPayments(ctx, coffer.PaymentListParams{CustomerID: sub.CustomerID})
	check(err)
	for _, p := range pays.Data {
		fmt.Printf("  %s  %-18s %8s USD  refunded %s\n", p.ID, p.Status, money.Format(p.Amount, "USD"), money.Format(p.RefundedAmount, "USD"))
	}
	fmt.Printf("\nprocessor saw %d card charges\n", proc.ChargeCount())
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
